import FolioCore

/// What a finished vocabulary holds.
public struct VocabularySummary: Sendable, Equatable, Codable {
    /// Ids in the file, `<pad>` and `<oov>` included.
    public var size: Int
    /// Distinct tokens seen in the corpus.
    public var distinctTokens: Int
    /// Token occurrences not covered by the vocabulary.
    public var oovTokens: Int
}

/// Merges count runs into `vocabulary.tsv` within a memory budget.
///
/// First the runs are merged in byte order, summing each token's counts exactly; tokens
/// below ``VocabularyOptions/minCount`` drop out. The rest are ranked (count descending,
/// bytes ascending) in memory when they fit in the budget, otherwise in sorted rank runs
/// merged the same way. So the file is identical however the counts were split.
public enum VocabularyWriter {
    public static let reservedTokens = ["<pad>", "<oov>"]

    public static func write(
        runs: [String], totalTokens: Int, options: VocabularyOptions, budget: Int, spill: SpillFolder,
        to path: String
    ) throws(FolioError) -> VocabularySummary {
        var ranked = RankBuffer(budget: budget, spill: spill)
        var distinct = 0
        try CountRunMerger.merge(runs, order: .token, scratch: spill) { (token, count) throws(FolioError) in
            distinct += 1
            if count >= options.minCount { try ranked.append(token, count) }
        }
        let file = try AtomicFile(path: path)
        for token in reservedTokens { try file.write("\(token)\t0\n") }
        let limit = options.maxTokens.map { max(0, $0 - reservedTokens.count) } ?? Int.max
        var written = 0
        var covered = 0
        try ranked.forEachRanked { (token, count) throws(FolioError) in
            guard written < limit else { return }
            if token.contains(where: { $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
                throw FolioError("token with a tab or line break cannot be written", file: path)
            }
            try file.write(token)
            try file.write(Array("\t\(count)\n".utf8))
            written += 1
            covered += count
        }
        try file.commit()
        return VocabularySummary(
            size: written + reservedTokens.count, distinctTokens: distinct, oovTokens: totalTokens - covered)
    }
}

/// Collects (token, count) pairs and yields them in rank order, spilling sorted rank
/// runs when they outgrow the budget. Keys live in one arena, so the bytes counted
/// against the budget are the bytes held: the arena's and the entry array's capacity.
struct RankBuffer {
    private struct Entry {
        var offset: Int
        var length: Int
        var count: Int
    }

    private var arena: [UInt8] = []
    private var entries: [Entry] = []
    private let budget: Int
    private let spill: SpillFolder
    private var runs: [String] = []

    init(budget: Int, spill: SpillFolder) {
        self.budget = budget
        self.spill = spill
    }

    private var bytesHeld: Int { arena.capacity + entries.capacity * MemoryLayout<Entry>.stride }

    mutating func append(_ token: UnsafeRawBufferPointer, _ count: Int) throws(FolioError) {
        // Spill before a growth step whose old and new buffers together would pass the
        // budget (both exist while the contents are copied).
        let arenaGrows = arena.count + token.count > arena.capacity
        let entriesGrow = entries.count == entries.capacity
        if !entries.isEmpty && (arenaGrows || entriesGrow) {
            let arenaPeak = arena.capacity + (arenaGrows ? max(arena.capacity * 2, 4096) : 0)
            let entriesPeak = (entries.capacity + (entriesGrow ? max(entries.capacity * 2, 256) : 0))
                * MemoryLayout<Entry>.stride
            if arenaPeak + entriesPeak > budget { try spillEntries() }
        }
        entries.append(Entry(offset: arena.count, length: token.count, count: count))
        arena.append(contentsOf: token)
    }

    private mutating func sortEntries() {
        arena.withUnsafeBytes { bytes in
            entries.withUnsafeMutableBufferPointer { entries in
                InPlaceSort.sort(entries) { a, b in
                    CountOrder.rank.precedes(
                        UnsafeRawBufferPointer(rebasing: bytes[a.offset..<a.offset + a.length]), a.count,
                        UnsafeRawBufferPointer(rebasing: bytes[b.offset..<b.offset + b.length]), b.count)
                }
            }
        }
    }

    private func forEachSorted(_ body: (UnsafeRawBufferPointer, Int) throws(FolioError) -> Void) throws(FolioError) {
        try arena.withBytes { bytes throws(FolioError) in
            for entry in entries {
                try body(UnsafeRawBufferPointer(rebasing: bytes[entry.offset..<entry.offset + entry.length]), entry.count)
            }
        }
    }

    private mutating func spillEntries() throws(FolioError) {
        sortEntries()
        let writer = try CountRunWriter(path: spill.newPath())
        try forEachSorted { (token, count) throws(FolioError) in try writer.append(token, count) }
        try writer.finish()
        runs.append(writer.path)
        // Keep the capacity: the next run fills the same memory.
        arena.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
    }

    mutating func forEachRanked(_ body: (UnsafeRawBufferPointer, Int) throws(FolioError) -> Void) throws(FolioError) {
        if runs.isEmpty {
            sortEntries()
            try forEachSorted(body)
            return
        }
        if !entries.isEmpty { try spillEntries() }
        arena = []
        entries = []
        try CountRunMerger.merge(runs, order: .rank, scratch: spill, body)
    }
}
