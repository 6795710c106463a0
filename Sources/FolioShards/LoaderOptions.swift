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
    /// This process's rank of `worldSize` (data-parallel training): see ``ShardLoader``.
    public var rank: Int
    public var worldSize: Int
    /// Consecutive micro-batches a rank takes per optimizer step (its accumulation steps).
    public var groupSize = 1
    /// Micro-batches of one optimizer step over all ranks (N x k).
    public var batchesPerStep: Int { max(1, groupSize) * worldSize }
    /// Part of the records set aside (for validation): this loader yields either only the
    /// held-out records or only the others. Nil: all records.
    public var holdout: Holdout?

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

/// A deterministic split of a shard set's records: a record is held out when a hash of
/// (seed, shard, record) falls below `fraction`, so the two sides never overlap, cover
/// every record, and stay the same whatever the batch size, epoch or order. A pipeline
/// splits its corpus's documents the same way before the vocabulary (FolioPipeline's
/// `keeps(_:corpusPath:)`, by the document's place instead of a record's, or by its group).
public struct Holdout: Sendable, Hashable, Codable {
    public var fraction: Double
    public var seed: UInt64
    /// Which side this loader yields.
    public var yieldsHeldOut: Bool
    /// True: a pipeline holds out whole groups of documents (their ``TextChunk/group``),
    /// not documents one by one. Nil when not (left out of the canonical JSON, so runs
    /// that split by document keep their fingerprints).
    public var byGroup: Bool?

    public init(fraction: Double, seed: UInt64, yieldsHeldOut: Bool) {
        self.fraction = fraction
        self.seed = seed
        self.yieldsHeldOut = yieldsHeldOut
    }

    public func isHeldOut(_ record: RecordRef) -> Bool {
        let hash = mixSeed(seed, 0x486F_6C64, UInt64(record.shard), UInt64(record.record))
        return Double(hash >> 11) * 0x1p-53 < fraction
    }

    public func yields(_ record: RecordRef) -> Bool { isHeldOut(record) == yieldsHeldOut }
}

/// Where an epoch stands: enough to resume it at the exact next batch. Saved with every
/// checkpoint.
public struct LoaderState: Sendable, Hashable, Codable {
    public var epoch: Int
    /// Batches of this epoch's plan already passed (by every rank together: the same
    /// number on each rank of a distributed run).
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

    public init(shard: UInt32, record: UInt32) {
        self.shard = shard
        self.record = record
    }
}

/// A batch: `rows` x `length` token ids, row-major, zero-padded after each row's tokens.
public struct LoaderBatch: Sendable {
    public var rows: Int
    public var length: Int
    public var ids: [UInt32]
    /// Tokens per row before padding: the mask.
    public var lengths: [Int32]
    public var labels: [UInt32]
    public var records: [RecordRef]
    /// Per row, the text of its unknown tokens within `lengths`, in order; empty rows when
    /// the shards do not keep it (``ShardFormat/unknownTextFlag``).
    public var unknownText: [[String]] = []

    /// Share of the batch's cells that are padding.
    public var paddingFraction: Double {
        ids.isEmpty ? 0 : 1 - Double(lengths.reduce(0) { $0 + Int($1) }) / Double(ids.count)
    }
}
