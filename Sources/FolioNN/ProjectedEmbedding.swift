import FolioCore

/// An embedding table carried through the input kernel of the LSTM that reads it, bias
/// added, `[vocabulary, 4 * units]`: in prediction, a step's input projection is then one
/// table row copied per sequence instead of a `[rows, embeddingDim] x [embeddingDim, 4 * units]`
/// product. For the reference model (two 128-unit layers over 128-wide embeddings) that
/// product is a quarter of the forward pass's arithmetic.
///
/// Each row is computed by the same packed product on the same kernel path as a step's
/// projection, and a product's sums for one row do not depend on the other rows, so the
/// outputs are bit-identical with and without the table (tests hold every path to it).
///
/// Building the table costs one projection per vocabulary row, so it is built only once the
/// model has predicted as many tokens as the table has rows (what not having it has cost by
/// then): predicting a few texts never pays for a table, and a long run pays at most twice
/// the better choice made in hindsight. Never built beyond ``limit`` bytes.
///
/// Only for weights that no longer change: a model that predicts only (``Sequential``
/// built with `trainable: false`, whose weights are loaded before it predicts), or one that
/// is told its training is over (``LSTMClassifier/freezeForPrediction()``). Shared by the
/// copies of a model that predict on other threads (``Sequential/sharingWeights()``): the
/// first that reaches the count builds the table, once.
public final class ProjectedEmbedding: Sendable {
    /// The largest table built (256 MiB: a 131,072-word vocabulary under 128 units).
    public static let limit = 256 << 20

    public let rows: Int
    public let width: Int
    private let state = Locked(State())

    private struct State {
        var tokensPredicted = 0
        var table: [Float]?
        var buildSeconds: Double?
    }

    /// A table of `rows` x `width` floats, or nil when it would exceed ``limit``.
    public init?(rows: Int, width: Int) {
        guard rows > 0, width > 0, rows <= Self.limit / 4 / width else { return nil }
        self.rows = rows
        self.width = width
    }

    /// The table, once `tokens` more predicted tokens bring the count to the table's rows;
    /// nil before. `build` makes it (every row's projection), at most once.
    func table(afterPredicting tokens: Int, build: () -> [Float]) -> [Float]? {
        state.withLock { state in
            if let table = state.table { return table }
            state.tokensPredicted += tokens
            guard state.tokensPredicted >= rows else { return nil }
            let clock = ContinuousClock()
            let start = clock.now
            let table = build()
            precondition(table.count == rows * width, "a projected embedding of \(table.count) values for \(rows) x \(width)")
            state.table = table
            state.buildSeconds = (clock.now - start).seconds
            return table
        }
    }

    /// The table for predicting `batch` (its ids checked against the embedding first), built
    /// from `embedding` and the `lstm` reading it once the count is reached; nil before.
    func table(for batch: TokenBatch, embedding: Embedding, readBy lstm: LSTM, arena: ParameterArena) throws(FolioError) -> [Float]? {
        try embedding.check(batch)
        return table(afterPredicting: batch.ids.count) {
            lstm.projectedEmbedding(UnsafePointer(arena.values(of: embedding.table).baseAddress!), rows: embedding.inputDim, arena: arena)
        }
    }

    /// Whether the table has been built (tests, and the bench's report).
    public var isBuilt: Bool { state.withLock { $0.table != nil } }

    /// How long building the table took (the wait of the prediction that reached the count).
    public var buildSeconds: Double? { state.withLock { $0.buildSeconds } }
}
