import Dispatch
import FolioCore
import Synchronization

/// Batches from a shard set within a memory budget, shuffled per epoch, resumable.
///
/// An epoch is planned from the shards' footers alone (record counts and lengths), without
/// reading a block:
/// 1. the blocks of all shards are shuffled (from seed and epoch);
/// 2. consecutive blocks form *windows* as large as the budget allows (decoded ids take 4
///    bytes per token kept, records past `maxLength` count `maxLength`);
/// 3. each window's records, with the fewer-than-a-batch records carried over from the
///    previous window, are shuffled (a buffer shuffle: MosaicML's block shuffle, then
///    WebDataset's) or, with bucketing, sorted by length, cut into batches, and the batches
///    shuffled; the remainder carries on;
/// 4. with several ranks, batch i of epoch e belongs to rank ((e * M + i) / groupSize) mod
///    worldSize, M being the epoch's batch count: the ranks take turns at `groupSize`
///    consecutive batches, so N ranks accumulating k see the batches one rank accumulating
///    N * k sees, step for step (the plan is the same on every rank; each reads only the
///    records of its own batches and of those carried on). With bucketing, the batches of
///    one optimizer step (N * k, ``LoaderOptions/batchesPerStep``) are neighbours in length
///    order and the steps are shuffled rather than the batches, so that ranks meeting at a
///    step's reduction bring equal work (see ``EpochPlan/shuffledBySteps``).
/// Only then are a window's blocks read and its batches made, on a background thread, a
/// few batches ahead. Because the plan needs no data, ``LoaderState`` is just (epoch,
/// batches done): resuming plans again and skips finished windows without reading them.
///
/// Memory: one window of decoded records (with unknown tokens' text where the shards keep
/// it), the carried records, `prefetch` batches, and 4 bytes per record of footer metadata
/// (token counts).
public final class ShardLoader: Sendable {
    public let shards: ShardSet
    public let options: LoaderOptions
    let readers: [ShardReader]
    private let blockList: [(shard: Int, block: Int)]

    public init(shards: ShardSet, options: LoaderOptions) throws(FolioError) {
        guard options.batchSize >= 1, options.maxLength >= 1 else {
            throw FolioError("batch size and max length must be at least 1")
        }
        guard options.worldSize >= 1, (0..<options.worldSize).contains(options.rank) else {
            throw FolioError("rank \(options.rank) is outside 0..<\(options.worldSize)")
        }
        self.shards = shards
        self.options = options
        var readers: [ShardReader] = []
        for index in shards.manifest.shards.indices { readers.append(try shards.reader(forShard: index)) }
        self.readers = readers
        blockList = readers.enumerated().flatMap { shard, reader in reader.blocks.indices.map { (shard, $0) } }
        planBatches = options.batchesPerStep > 1
            ? Self.batches(records: Self.records(readers: readers, total: shards.manifest.records, holdout: options.holdout), options: options) : 0
    }

    /// The plan's batch count per epoch, computed once where every epoch's plan needs it:
    /// with several ranks (whose turns count from it) or several micro-batches a step
    /// (whose runs are aligned to steps counted from the run's start).
    private let planBatches: Int

    /// Records this loader yields per epoch, over all ranks (a held-out side counted by
    /// hashing every record: a pass over 4 bytes of footer per record, no data).
    public var recordsPerEpoch: Int { Self.records(readers: readers, total: shards.manifest.records, holdout: options.holdout) }

    private static func records(readers: [ShardReader], total: Int, holdout: Holdout?) -> Int {
        guard let holdout else { return total }
        var count = 0
        for (shard, reader) in readers.enumerated() {
            for record in 0..<reader.tokenCounts.count where holdout.yields(RecordRef(shard: UInt32(shard), record: UInt32(record))) {
                count += 1
            }
        }
        return count
    }

    /// Batches of an epoch's plan, over all ranks (exact: the remainder carries through the
    /// windows and ends as one short batch unless `dropRemainder`).
    public var batchesPerEpoch: Int {
        options.batchesPerStep > 1 ? planBatches : Self.batches(records: recordsPerEpoch, options: options)
    }

    private static func batches(records: Int, options: LoaderOptions) -> Int {
        options.dropRemainder ? records / options.batchSize : (records + options.batchSize - 1) / options.batchSize
    }

    /// Whether batch `index` of `epoch`'s plan is this rank's.
    public func owns(epoch: Int, batch index: Int) -> Bool {
        guard options.worldSize > 1 else { return true }
        return ((epoch * planBatches + index) / max(1, options.groupSize)) % options.worldSize == options.rank
    }

    /// Bytes a window of decoded records may take: the budget less the prefetched batches.
    var windowBudget: Int {
        let batchBytes = options.batchSize * options.maxLength * 4 + options.batchSize * 16
        return max(1 << 16, options.memoryBudget - (options.prefetch + 2) * batchBytes - 2 * options.batchSize * options.maxLength * 4)
    }

    /// One planned window: the blocks to read and the batches to make from them (and from
    /// the records carried in).
    struct Window {
        var blocks: [(shard: Int, block: Int)]
        var batches: [[RecordRef]]
    }

    /// The windows of `epoch` for this rank, in order, made one at a time (the whole plan
    /// would take 8 bytes per record). Pure: the same inputs give the same plan.
    func plan(epoch: Int) -> EpochPlan {
        var blocks = blockList
        var random = SplitMix64(seed: mixSeed(options.seed, UInt64(epoch), 1))
        if options.shuffle { fisherYates(&blocks, &random) }
        // Group blocks into windows by the decoded size of what they hold.
        var groups: [[(shard: Int, block: Int)]] = []
        var current: [(shard: Int, block: Int)] = []
        var bytes = 0
        for entry in blocks {
            let cost = blockCost(entry)
            if !current.isEmpty && bytes + cost > windowBudget {
                groups.append(current)
                current = []
                bytes = 0
            }
            current.append(entry)
            bytes += cost
        }
        if !current.isEmpty { groups.append(current) }
        // Where the epoch starts in the run's sequence of micro-batches: optimizer steps run
        // on across epoch ends, so step boundaries are counted from the run's first batch.
        let stepBatches = options.batchesPerStep
        let epochStart = options.bucketing && options.shuffle && stepBatches > 1 ? epoch * batchesPerEpoch : 0
        return EpochPlan(loader: self, epoch: epoch, groups: groups, nextBatch: epochStart)
    }

    /// The windows of one epoch as a sequence; the records carried from one window to the
    /// next make it sequential.
    struct EpochPlan: Sequence, IteratorProtocol {
        let loader: ShardLoader
        let epoch: Int
        let groups: [[(shard: Int, block: Int)]]
        /// The run-wide index of the next window's first batch (step alignment only).
        var nextBatch: Int
        var nextGroup = 0
        var carried: [RecordRef] = []
        var finished = false

        mutating func next() -> Window? {
            let options = loader.options
            if nextGroup < groups.count {
                nextGroup += 1
                return window(nextGroup - 1)
            }
            guard !finished else { return nil }
            finished = true
            if !carried.isEmpty && !options.dropRemainder { return Window(blocks: [], batches: [carried]) }
            return nil
        }

        private mutating func window(_ index: Int) -> Window {
            let options = loader.options
            let group = groups[index]
            var pool = carried
            for (shard, block) in group {
                let info = loader.readers[shard].blocks[block]
                for record in info.firstRecord..<(info.firstRecord + info.records) {
                    let ref = RecordRef(shard: UInt32(shard), record: record)
                    if options.holdout?.yields(ref) ?? true { pool.append(ref) }
                }
            }
            var random = SplitMix64(seed: mixSeed(options.seed, UInt64(epoch), 2, UInt64(index)))
            if options.bucketing {
                if options.shuffle { fisherYates(&pool, &random) }
                let lengths = pool.map {
                    Swift.min(Int(loader.readers[Int($0.shard)].tokenCounts[Int($0.record)]), options.maxLength)
                }
                let order = pool.indices.sorted { lengths[$0] != lengths[$1] ? lengths[$0] < lengths[$1] : $0 < $1 }
                pool = order.map { pool[$0] }
            } else if options.shuffle {
                fisherYates(&pool, &random)
            }
            let full = pool.count / options.batchSize * options.batchSize
            var batches = stride(from: 0, to: full, by: options.batchSize).map { Array(pool[$0..<$0 + options.batchSize]) }
            if options.bucketing && options.shuffle {
                batches = Self.shuffledBySteps(batches, stepBatches: options.batchesPerStep, offset: nextBatch, &random)
            }
            nextBatch += batches.count
            carried = Array(pool[full...])
            return Window(blocks: group, batches: batches)
        }

        /// Batches in length order, shuffled in runs of `stepBatches` that fall exactly on
        /// optimizer steps (the first batch is the run's `offset`-th): a step's batches are
        /// length neighbours, so ranks (and accumulated micro-batches) of one step carry
        /// equal work. Shuffling single batches instead made a 2-rank bag model's ranks
        /// wait for each other 28 ms a step against 42 ms of work. One batch per step is
        /// the plain shuffle, draw for draw.
        ///
        /// The window's leading part of a step (`offset` not on a boundary) and trailing
        /// part come from the batches left over after whole runs, breaking one run when
        /// those are too few.
        static func shuffledBySteps<Batch>(_ sorted: [Batch], stepBatches: Int, offset: Int, _ random: inout SplitMix64) -> [Batch] {
            var batches = sorted
            guard stepBatches > 1 else {
                fisherYates(&batches, &random)
                return batches
            }
            let head = (stepBatches - offset % stepBatches) % stepBatches
            let whole = batches.count / stepBatches * stepBatches
            var runs: [ArraySlice<Batch>] = stride(from: 0, to: whole, by: stepBatches).map { batches[$0..<$0 + stepBatches] }
            var spare = Array(batches[whole...])
            fisherYates(&runs, &random)
            let tail = (batches.count - head) % stepBatches
            if head + tail > spare.count, let broken = runs.popLast() { spare = Array(broken) + spare }
            let leading = spare.prefix(Swift.min(head, spare.count))
            batches = Array(leading)
            for run in runs { batches.append(contentsOf: run) }
            batches.append(contentsOf: spare.dropFirst(leading.count))
            return batches
        }
    }

    private func blockCost(_ entry: (shard: Int, block: Int)) -> Int {
        let reader = readers[entry.shard]
        let info = reader.blocks[entry.block]
        var tokens = 0
        for record in Int(info.firstRecord)..<Int(info.firstRecord + info.records) {
            tokens += min(Int(reader.tokenCounts[record]), options.maxLength)
        }
        // A decoded record also costs a dictionary entry and an array header: ~128 bytes.
        // Unknown tokens' text is at most the block's decompressed bytes; with its string
        // headers, about twice that (an estimate: the footer does not count unknown tokens).
        return tokens * 4 + Int(info.records) * 128 + (reader.keepsUnknownText ? 2 * Int(info.decompressedBytes) : 0)
    }

    /// The batches of `epoch` from `state` on (nil: from the start), made on a background
    /// thread. Iterate with ``LoaderEpoch/next()``.
    public func epoch(_ epoch: Int, resumingFrom state: LoaderState? = nil) -> LoaderEpoch {
        let skip = state.map { $0.epoch == epoch ? $0.batchesDone : 0 } ?? 0
        let queue = BoundedQueue<Result<(Int, LoaderBatch), FolioError>>(capacity: max(1, options.prefetch))
        let cancelled = CancellationFlag()
        let windows = plan(epoch: epoch)
        let thread = DispatchGroup()
        DispatchQueue.global().async(group: thread) { [self] in
            produce(windows, skip: skip, into: queue, cancelled: cancelled)
            queue.close()
        }
        return LoaderEpoch(epoch: epoch, batchesDone: skip, queue: queue, cancelled: cancelled, thread: thread)
    }

    /// Reads each window's blocks and makes this rank's batches from `skip` on; records
    /// decoded once, truncated, and only those of batches made here or carried on.
    private func produce(
        _ windows: EpochPlan, skip: Int, into queue: BoundedQueue<Result<(Int, LoaderBatch), FolioError>>, cancelled: CancellationFlag
    ) {
        // Decoded ids of the records in reach: the current window's and those carried in.
        var store: [RecordRef: [UInt32]] = [:]
        var labels: [RecordRef: UInt32] = [:]
        var unknownText: [RecordRef: [String]] = [:]
        var position = 0  // the plan's index of the window's first batch
        for window in windows {
            if cancelled.isSet { return }
            let made = window.batches.indices.filter { position + $0 >= skip && owns(epoch: windows.epoch, batch: position + $0) }
            let used = Set(window.batches.joined())
            let wanted = Set(made.flatMap { window.batches[$0] })
            // Records of other ranks' (or skipped) batches are not decoded; carried ones are.
            let passedOver = { (ref: RecordRef) in used.contains(ref) && !wanted.contains(ref) }
            do throws(FolioError) {
                for (shard, block) in window.blocks {
                    let info = readers[shard].blocks[block]
                    let firstRecord = info.firstRecord
                    if (firstRecord..<firstRecord + info.records).allSatisfy({ passedOver(RecordRef(shard: UInt32(shard), record: $0)) }) {
                        continue
                    }
                    try readers[shard].forEachRecordWithText(inBlock: block) { record, label, ids, text throws(FolioError) in
                        let ref = RecordRef(shard: UInt32(shard), record: UInt32(record))
                        if passedOver(ref) { return }
                        if let holdout = options.holdout, !holdout.yields(ref) { return }
                        let kept = Array(ids.prefix(options.maxLength))
                        store[ref] = kept
                        labels[ref] = label
                        if !text.isEmpty {
                            unknownText[ref] = Array(text.prefix(kept.count { $0 == ShardFormat.unknownID }))
                        }
                    }
                }
            } catch {
                queue.push(.failure(error))
                return
            }
            for index in made {
                if cancelled.isSet { return }
                var batch = makeBatch(window.batches[index], store: store, labels: labels)
                if !unknownText.isEmpty { batch.unknownText = batch.records.map { unknownText[$0] ?? [] } }
                queue.push(.success((position + index, batch)))
            }
            position += window.batches.count
            // Drop what this window used; what it carries on stays.
            store = store.filter { !used.contains($0.key) }
            labels = labels.filter { !used.contains($0.key) }
            unknownText = unknownText.filter { !used.contains($0.key) }
        }
    }

    private func makeBatch(_ refs: [RecordRef], store: [RecordRef: [UInt32]], labels: [RecordRef: UInt32]) -> LoaderBatch {
        let rows = refs.map { store[$0] ?? [] }
        let length = options.padding == .maxLength ? options.maxLength : max(1, rows.map(\.count).max() ?? 1)
        var ids = [UInt32](repeating: 0, count: refs.count * length)
        for (row, tokens) in rows.enumerated() {
            ids.replaceSubrange(row * length..<row * length + tokens.count, with: tokens)
        }
        return LoaderBatch(
            rows: refs.count, length: length, ids: ids, lengths: rows.map { Int32($0.count) },
            labels: refs.map { labels[$0] ?? 0 }, records: refs)
    }
}

/// One epoch's batches as they come off the background thread.
public final class LoaderEpoch {
    public let epoch: Int
    /// The plan's batches passed so far (this rank's and, with several ranks, the others').
    public private(set) var batchesDone: Int
    private let queue: BoundedQueue<Result<(Int, LoaderBatch), FolioError>>
    private let cancelled: CancellationFlag
    private let thread: DispatchGroup

    init(epoch: Int, batchesDone: Int, queue: BoundedQueue<Result<(Int, LoaderBatch), FolioError>>, cancelled: CancellationFlag, thread: DispatchGroup) {
        self.epoch = epoch
        self.batchesDone = batchesDone
        self.queue = queue
        self.cancelled = cancelled
        self.thread = thread
    }

    deinit {
        // Stop the producer and let it out of a full queue.
        cancelled.set()
        while queue.pop() != nil {}
        thread.wait()
    }

    /// Where the epoch stands now: resuming from it gives exactly the batches after the
    /// last one returned.
    public var state: LoaderState { LoaderState(epoch: epoch, batchesDone: batchesDone) }

    /// This rank's next batch, or nil at the end of the epoch.
    public func next() throws(FolioError) -> LoaderBatch? { try nextIndexed()?.batch }

    /// This rank's next batch and its index in the epoch's plan, or nil at the end.
    public func nextIndexed() throws(FolioError) -> (index: Int, batch: LoaderBatch)? {
        guard let result = queue.pop() else { return nil }
        let (index, batch) = try result.get()
        batchesDone = index + 1
        return (index, batch)
    }
}

/// Fisher-Yates with our own generator, so that the order is fixed by the seed on every
/// platform and Swift version (the standard library's `shuffle` promises neither).
func fisherYates<Element>(_ items: inout [Element], _ random: inout SplitMix64) {
    guard items.count > 1 else { return }
    for index in stride(from: items.count - 1, to: 0, by: -1) {
        let other = Int(random.next() % UInt64(index + 1))
        items.swapAt(index, other)
    }
}

/// A seed for one named random stream (purpose, epoch, index): streams never overlap,
/// and adding one never changes another's numbers.
func mixSeed(_ values: UInt64...) -> UInt64 {
    var generator = SplitMix64(seed: 0x5EED)
    var state: UInt64 = 0
    for value in values {
        generator.state ^= value &+ state
        state = generator.next()
    }
    return state
}

/// A flag one thread raises and another polls.
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}
