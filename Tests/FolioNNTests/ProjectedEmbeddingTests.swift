import FolioCore
@testable import FolioNN
import Dispatch
import FolioTestSupport
import Testing

/// Prediction that reads the first LSTM's input projections from a table (``ProjectedEmbedding``)
/// must give the outputs of the layer-by-layer path bit for bit, on every kernel path, and
/// only where the weights are final.
@Suite struct ProjectedEmbeddingTests {
    static let vocabulary = 300

    /// Token ids with padded rows (one empty) and some high ids.
    static func batch(seed: UInt64, rows: Int = 7, length: Int = 9) -> TokenBatch {
        var generator = SplitMix64(seed: seed)
        let lengths: [Int32] = (0..<rows).map { row in row == 2 ? 0 : Int32(1 + generator.next() % UInt64(length)) }
        var ids = [UInt32](repeating: 0, count: rows * length)
        for row in 0..<rows { for t in 0..<Int(lengths[row]) { ids[row * length + t] = UInt32(generator.next() % UInt64(vocabulary)) } }
        return TokenBatch(rows: rows, length: length, ids: ids, lengths: lengths)
    }

    /// Widths of 11, 40 and 64 units (partial and whole panels), embeddings of 5 and 37; an
    /// LSTM, and a bidirectional one (returning sequences or its last states).
    @Test(arguments: KernelSet.available, [false, true])
    func predictionsEqualTheLayerByLayerPath(kernels: KernelSet, bidirectional: Bool) throws {
        for (units, embedding) in [(11, 5), (40, 37), (64, 37)] {
            let reader: LayerSpec = .lstm(units: units, returnSequences: units != 64)
            let head: [LayerSpec] = units != 64 ? [.lstm(units: 6), .dense(units: 3)] : [.dense(units: 3)]
            let specs = [.embedding(outputDim: embedding), .dropout(rate: 0.3), bidirectional ? .bidirectional(reader) : reader] + head
            let reference = try Sequential(specs, vocabulary: Self.vocabulary, seed: 5)
            let predicting = try Sequential(specs, vocabulary: Self.vocabulary, seed: 5, trainable: false)
            #expect(reference.projectedEmbedding == nil, "a model that trains never projects")
            let projected = try #require(predicting.projectedEmbedding)
            for model in [reference, predicting] { model.kernels = kernels }
            // The table is built once the model has predicted as many tokens as it has rows:
            // 63 tokens a batch, so the fifth batch is the first to read it.
            for call in 0..<7 {
                let batch = Self.batch(seed: UInt64(call))
                let expected = try reference.forward(batch, training: false)
                let found = try predicting.forward(batch, training: false)
                #expect(found.shape == expected.shape && found.values == expected.values, "units \(units), embedding \(embedding), call \(call)")
                #expect(projected.isBuilt == (call >= 4) && (projected.buildSeconds != nil) == (call >= 4), "call \(call)")
            }
            // A copy predicting on another thread reads the same table, and gets the same outputs.
            let copy = predicting.sharingWeights()
            #expect(copy.projectedEmbedding === projected)
            let batch = Self.batch(seed: 99, rows: 3, length: 4)
            #expect(try copy.forward(batch, training: false).values == reference.forward(batch, training: false).values)
        }
    }

    @Test func onlyLSTMsReadingTheEmbeddingAreProjected() throws {
        for specs: [LayerSpec] in [
            [.embedding(outputDim: 4), .dense(units: 4), .lstm(units: 3), .dense(units: 2)],
            [.embedding(outputDim: 4), .bidirectional(.gru(units: 3)), .dense(units: 2)],
            [.embedding(outputDim: 4), .gru(units: 3), .dense(units: 2)],
            [.embedding(outputDim: 4), .globalAveragePooling1D, .dense(units: 2)],
        ] {
            #expect(try Sequential(specs, vocabulary: 20, seed: 1, trainable: false).projectedEmbedding == nil, "\(specs)")
        }
        // Beyond the limit (131,072 rows of 4 x 128 gates) no table is planned.
        let large = try Sequential([.embedding(outputDim: 2), .lstm(units: 128), .dense(units: 2)], vocabulary: 140_000, seed: 1,
                                   trainable: false, initializes: false)
        #expect(large.projectedEmbedding == nil)
        #expect(ProjectedEmbedding(rows: ProjectedEmbedding.limit / 4 / 512, width: 512) != nil)
        #expect(ProjectedEmbedding(rows: ProjectedEmbedding.limit / 4 / 512 + 1, width: 512) == nil)
        // A bidirectional LSTM's two tables share the limit.
        #expect(try Sequential([.embedding(outputDim: 4), .bidirectional(.lstm(units: 3)), .dense(units: 2)], vocabulary: 20, seed: 1,
                               trainable: false).projectedEmbedding?.readers == 2)
        #expect(ProjectedEmbedding(rows: ProjectedEmbedding.limit / 4 / 512 / 2, width: 512, readers: 2) != nil)
        #expect(ProjectedEmbedding(rows: ProjectedEmbedding.limit / 4 / 512 / 2 + 1, width: 512, readers: 2) == nil)
    }

    /// Weights loaded into a predicting model after its tables were built replace them: the
    /// model then predicts as the saved one does.
    @Test func loadingOtherWeightsDropsTheTables() throws {
        let specs: [LayerSpec] = [.embedding(outputDim: 5), .lstm(units: 7), .dense(units: 3)]
        let saved = try Sequential(specs, vocabulary: Self.vocabulary, seed: 21)
        let folder = TemporaryFolder()
        let path = folder.path + "/saved.safetensors"
        try saved.save(to: path)
        let model = try Sequential(specs, vocabulary: Self.vocabulary, seed: 5, trainable: false)
        let batches = (0..<6).map { Self.batch(seed: 60 + UInt64($0)) }
        for batch in batches { _ = try model.forward(batch, training: false) }
        #expect(model.projectedEmbedding?.isBuilt == true)
        try model.load(from: path)
        #expect(model.projectedEmbedding?.isBuilt == false)
        for batch in batches + batches {
            #expect(try model.forward(batch, training: false).values == saved.forward(batch, training: false).values)
        }
        #expect(model.projectedEmbedding?.isBuilt == true)
    }

    /// Two copies predicting at once on two threads share one table, whichever builds it,
    /// and both give the layer-by-layer outputs (run under `make sanitize-thread` too).
    @Test func copiesOnTwoThreadsShareOneTable() throws {
        let specs: [LayerSpec] = [.embedding(outputDim: 6), .lstm(units: 10), .dense(units: 3)]
        let reference = try Sequential(specs, vocabulary: Self.vocabulary, seed: 2)
        let model = try Sequential(specs, vocabulary: Self.vocabulary, seed: 2, trainable: false)
        let batches = (0..<12).map { Self.batch(seed: 80 + UInt64($0)) }
        let expected = try batches.map { try reference.forward($0, training: false).values }
        let copies = Shared([model, model.sharingWeights()])
        let found = Locked([[Float]?](repeating: nil, count: 2 * batches.count))
        DispatchQueue.concurrentPerform(iterations: 2) { copy in
            for (index, batch) in batches.enumerated() {
                let values = try? copies.value[copy].forward(batch, training: false).values
                found.withLock { $0[copy * batches.count + index] = values }
            }
        }
        #expect(found.withLock { $0 } == (expected + expected).map { Optional($0) })
        #expect(model.projectedEmbedding?.isBuilt == true)
    }

    /// A bad id is refused before any table is built or read, as on the layer-by-layer path.
    @Test func anIdOutsideTheVocabularyIsRefused() throws {
        let model = try Sequential([.embedding(outputDim: 4), .lstm(units: 3), .dense(units: 2)], vocabulary: 20, seed: 1, trainable: false)
        let bad = TokenBatch(rows: 1, length: 30, ids: [UInt32](repeating: 3, count: 29) + [20], lengths: [30])
        #expect(throws: FolioError.self) { try model.forward(bad, training: false) }
        #expect(model.projectedEmbedding?.isBuilt == false)
    }

    /// The bench's model, frozen after training, predicts as it did before.
    @Test(arguments: KernelSet.available)
    func aFrozenClassifierPredictsAsBefore(kernels: KernelSet) throws {
        let model = LSTMClassifier(vocabulary: Self.vocabulary, embeddingDim: 16, units: 24, layers: 2, classes: 4, seed: 3)
        for lstm in model.lstms { lstm.kernels = kernels }
        let batches = (0..<6).map { Self.batch(seed: 40 + UInt64($0), rows: 9, length: 12) }
        let expected = try batches.map { try model.forward($0, training: false).values }
        model.freezeForPrediction()
        let found = try batches.map { try model.forward($0, training: false).values }
        #expect(found == expected)
        #expect(model.projectedEmbedding?.isBuilt == true)
    }
}
