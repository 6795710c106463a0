/// A Float32 tensor: row-major, contiguous, shape first dimension the batch.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }

    public init(zeros shape: [Int]) {
        self.shape = shape
        values = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// A tensor whose every value the caller writes before reading any (not zeroed).
    init(uninitialized shape: [Int]) {
        self.shape = shape
        values = uninitializedFloats(shape.reduce(1, *))
    }

    public var count: Int { values.count }
}

/// Ids and lengths in, as the loader gives them: `rows` x `length` token ids, zero-padded.
public struct TokenBatch: Sendable {
    public var rows: Int
    public var length: Int
    public var ids: [UInt32]
    /// Valid tokens per row: positions at and after it are padding and never change a result.
    public var lengths: [Int32]
    /// One weight per id (`rows` x `length`), as PyTorch's `EmbeddingBag(per_sample_weights:)`
    /// and TensorFlow's weighted embedding lookup: the global average pooling then combines
    /// a row's steps weighted (``GlobalPooling1D``). Nil: every id weighs 1.
    public var weights: [Float]?
    /// More ids per position (each token's character n-grams, for a sequence model): the
    /// ``Embedding`` then gives a position the mean of its token's row and these rows, as
    /// fastText builds a word's vector. Nil: one id per position.
    public var extraIDs: PositionIDs?

    public init(rows: Int, length: Int, ids: [UInt32], lengths: [Int32], weights: [Float]? = nil, extraIDs: PositionIDs? = nil) {
        self.rows = rows
        self.length = length
        self.ids = ids
        self.lengths = lengths
        self.weights = weights
        self.extraIDs = extraIDs
    }
}

/// A list of ids per position of a `rows` x `length` batch, in CSR form: position p's ids
/// are `ids[offsets[p]..<offsets[p + 1]]`.
public struct PositionIDs: Sendable, Equatable {
    public var offsets: [Int32]
    public var ids: [UInt32]

    public init(offsets: [Int32], ids: [UInt32]) {
        self.offsets = offsets
        self.ids = ids
    }
}

/// Makes `array` hold `count` zeros, reusing its storage when it already has that size (a
/// layer's caches are the same size batch after batch); otherwise the old storage is
/// released before the new is allocated, so the two never take memory at once.
func refill(_ array: inout [Float], zeros count: Int) {
    if array.count == count {
        array.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    } else {
        array = []
        array = [Float](repeating: 0, count: count)
    }
}

/// Makes `array` hold `count` floats whose values the caller overwrites before reading any:
/// its storage is reused when it has the size, else allocated without being zeroed.
func refill(_ array: inout [Float], uninitialized count: Int) {
    guard array.count != count else { return }
    array = []
    array = uninitializedFloats(count)
}

/// `count` floats not zeroed: for buffers whose every value is written before it is read.
func uninitializedFloats(_ count: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
}

