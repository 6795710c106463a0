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
            try file.write("\t\(count)\n")
            written += 1
            covered += count
        }
        try file.commit()
        return VocabularySummary(
            size: written + reservedTokens.count, distinctTokens: distinct, oovTokens: totalTokens - covered)
    }
}

/// Collects (token, count) pairs and yields them in rank order, spilling sorted rank
/// runs when they outgrow the budget.
struct RankBuffer {
    private var entries: [([UInt8], Int)] = []
    private var bytes = 0
    private let budget: Int
    private let spill: SpillFolder
    private var runs: [String] = []
    /// Array, count and allocation overhead charged per entry, on top of its bytes.
    static let entryOverhead = 64

    init(budget: Int, spill: SpillFolder) {
        self.budget = budget
        self.spill = spill
    }

    mutating func append(_ token: [UInt8], _ count: Int) throws(FolioError) {
        entries.append((token, count))
        bytes += token.count + Self.entryOverhead
        if bytes > budget { try spillEntries() }
    }

    private mutating func sortEntries() {
        entries.sort { CountOrder.rank.precedes($0.0, $0.1, $1.0, $1.1) }
    }

    private mutating func spillEntries() throws(FolioError) {
        sortEntries()
        let writer = try CountRunWriter(path: spill.newPath())
        for (token, count) in entries {
            try token.withBytes { raw throws(FolioError) in try writer.append(raw, count) }
        }
        try writer.finish()
        runs.append(writer.path)
        entries.removeAll(keepingCapacity: false)
        bytes = 0
    }

    mutating func forEachRanked(_ body: (borrowing [UInt8], Int) throws(FolioError) -> Void) throws(FolioError) {
        if runs.isEmpty {
            sortEntries()
            for (token, count) in entries { try body(token, count) }
            return
        }
        if !entries.isEmpty { try spillEntries() }
        try CountRunMerger.merge(runs, order: .rank, scratch: spill, body)
    }
}
