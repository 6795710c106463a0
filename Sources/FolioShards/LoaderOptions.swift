/// How a ``ShardLoader`` makes batches. Everything random follows from ``seed`` and the epoch.
public struct LoaderOptions: Sendable, Hashable, Codable {
    public enum Padding: String, Sendable, Hashable, Codable {
        /// Every batch is `maxLength` wide (fixed shapes).
        case maxLength
        /// A batch is as wide as its longest row (up to `maxLength`): with bucketing, this
        /// is what cuts padding.
        case longest
    }

    public var batchSize: Int
    /// Longer records keep their first `maxLength` tokens.
    public var maxLength: Int
    public var padding: Padding
    public var shuffle: Bool
    /// Sort each window of records by length before cutting batches, then shuffle the batches.
    public var bucketing: Bool
    public var dropRemainder: Bool
    public var seed: UInt64
    /// Bytes for decoded records and prefetched batches together.
    public var memoryBudget: Int
    /// Batches made ahead on the background thread.
    public var prefetch: Int
    public var rank: Int
    public var worldSize: Int

    public init(
        batchSize: Int = 32, maxLength: Int = 200, padding: Padding = .maxLength, shuffle: Bool = true,
        bucketing: Bool = false, dropRemainder: Bool = false, seed: UInt64 = 0, memoryBudget: Int = 256 << 20,
        prefetch: Int = 4, rank: Int = 0, worldSize: Int = 1
    ) {
        self.batchSize = batchSize
        self.maxLength = maxLength
        self.padding = padding
        self.shuffle = shuffle
        self.bucketing = bucketing
        self.dropRemainder = dropRemainder
        self.seed = seed
        self.memoryBudget = memoryBudget
        self.prefetch = prefetch
        self.rank = rank
        self.worldSize = worldSize
    }
}

/// Where an epoch stands: enough to resume it at the exact next batch. Saved with every
/// checkpoint.
public struct LoaderState: Sendable, Hashable, Codable {
    public var epoch: Int
    /// Batches already handed out in this epoch (by this rank).
    public var batchesDone: Int

    public init(epoch: Int, batchesDone: Int = 0) {
        self.epoch = epoch
        self.batchesDone = batchesDone
    }
}

/// A record's place: shard and record index within it.
public struct RecordRef: Sendable, Hashable, Codable {
    public var shard: UInt32
    public var record: UInt32
}

/// A batch: `rows` x `length` token ids, row-major, zero-padded after each row's tokens.
public struct Batch: Sendable {
    public var rows: Int
    public var length: Int
    public var ids: [UInt32]
    /// Tokens per row before padding: the mask.
    public var lengths: [Int32]
    public var labels: [UInt32]
    public var records: [RecordRef]

    /// Share of the batch's cells that are padding.
    public var paddingFraction: Double {
        ids.isEmpty ? 0 : 1 - Double(lengths.reduce(0) { $0 + Int($1) }) / Double(ids.count)
    }
}
