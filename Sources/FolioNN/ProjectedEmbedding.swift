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
/// A bidirectional LSTM reading the embedding gets a table per direction.
///
/// Only for weights that no longer change: a model that predicts only (``Sequential``
/// built with `trainable: false`, whose weights are loaded before it predicts; loading or
/// restoring others drops the tables), or one that is told its training is over
/// (``LSTMClassifier/freezeForPrediction()``). Shared by the
/// copies of a model that predict on other threads (``Sequential/sharingWeights()``): the
/// first that reaches the count builds the table, once.
public final class ProjectedEmbedding: Sendable {
    /// The most memory the tables take together (256 MiB: one table of a 131,072-word
    /// vocabulary under 128 units).
    public static let limit = 256 << 20

    public let rows: Int
    public let width: Int
    /// The LSTMs reading the embedding, a table each: 1, or 2 for a bidirectional LSTM.
    public let readers: Int
    private let state = Locked(State())

    private struct State {
        var tokensPredicted = 0
        var tables: [[Float]]?
        var buildSeconds: Double?
    }

    /// `readers` tables of `rows` x `width` floats, or nil when they would exceed ``limit``.
    public init?(rows: Int, width: Int, readers: Int = 1) {
        guard rows > 0, width > 0, readers > 0, rows <= Self.limit / 4 / width / readers else { return nil }
        self.rows = rows
        self.width = width
        self.readers = readers
    }

    /// The tables, once `tokens` more predicted tokens bring the count to the tables' rows;
    /// nil before. `build` makes them (every row's projection, for each reader), at most once.
    func tables(afterPredicting tokens: Int, build: () -> [[Float]]) -> [[Float]]? {
        state.withLock { state in
            if let tables = state.tables { return tables }
            state.tokensPredicted += tokens
            guard state.tokensPredicted >= rows else { return nil }
            let clock = ContinuousClock()
            let start = clock.now
            let tables = build()
            precondition(tables.count == readers && tables.allSatisfy { $0.count == rows * width },
                         "projected embeddings of \(tables.map(\.count)) values for \(readers) x \(rows) x \(width)")
            state.tables = tables
            state.buildSeconds = (clock.now - start).seconds
            return tables
        }
    }

    /// The tables for predicting `batch` (its ids checked against the embedding first), built
    /// from `embedding` and the LSTMs reading it once the count is reached; nil before.
    func tables(for batch: TokenBatch, embedding: Embedding, readBy lstms: [LSTM], arena: ParameterArena) throws(FolioError) -> [[Float]]? {
        try embedding.check(batch)
        return tables(afterPredicting: batch.ids.count) {
            lstms.map { lstm in
                lstm.projectedEmbedding(UnsafePointer(arena.values(of: embedding.table).baseAddress!), rows: embedding.inputDim, arena: arena)
            }
        }
    }

    /// Drops the tables and starts the count again: the weights they were built from were
    /// replaced (``Sequential/load(from:)``, ``Sequential/restore(_:)``).
    func weightsChanged() {
        state.withLock { $0 = State() }
    }

    /// Whether the tables have been built (tests, and the bench's report).
    public var isBuilt: Bool { state.withLock { $0.tables != nil } }

    /// How long building the tables took (the wait of the prediction that reached the count).
    public var buildSeconds: Double? { state.withLock { $0.buildSeconds } }
}

/// The layer that reads an embedding's vectors through a ``ProjectedEmbedding``: an LSTM in
/// its reading order, or a bidirectional LSTM (its backward copy reads each row's valid ids
/// reversed, as it reads their vectors).
enum EmbeddingReader {
    case lstm(LSTM)
    case bidirectional(Bidirectional)

    init?(_ layer: any SequentialLayer) {
        if let lstm = layer as? LSTM, !lstm.goBackwards {
            self = .lstm(lstm)
        } else if let bidirectional = layer as? Bidirectional, bidirectional.lstms.count == 2, bidirectional.lstms.allSatisfy({ !$0.goBackwards }) {
            self = .bidirectional(bidirectional)
        } else {
            return nil
        }
    }

    /// The LSTMs reading the embedding, a table each (a bidirectional one's: forward, backward).
    var lstms: [LSTM] {
        switch self {
        case .lstm(let lstm): [lstm]
        case .bidirectional(let bidirectional): bidirectional.lstms
        }
    }

    /// The layer's output for `batch`, its input projections read from `tables` (one per LSTM).
    func forward(_ batch: TokenBatch, tables: [[Float]], lengths: [Int32], arena: ParameterArena) -> Tensor {
        switch self {
        case .lstm(let lstm):
            lstm.forward(ids: batch.ids, table: tables[0], batch: batch.rows, steps: batch.length, lengths: lengths, arena: arena)
        case .bidirectional(let bidirectional):
            bidirectional.forward(ids: batch.ids, tables: tables, batch: batch.rows, steps: batch.length, lengths: lengths, arena: arena)
        }
    }
}
