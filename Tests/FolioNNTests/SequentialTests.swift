import FolioTestSupport
import Foundation
import Testing
@testable import FolioNN

@Suite struct SequentialTests {
    /// Token batches where the label is which of two token ranges dominates: learnable.
    func data(seed: UInt64, rows: Int = 32) -> (TokenBatch, [UInt32]) {
        var generator = SplitMix64(seed: seed)
        var ids: [UInt32] = []
        var lengths: [Int32] = []
        var labels: [UInt32] = []
        for _ in 0..<rows {
            let label = UInt32(generator.next() % 2)
            let length = 3 + Int(generator.next() % 10)
            for position in 0..<12 {
                ids.append(position < length ? UInt32(2 + Int(label) * 10 + Int(generator.next() % 10)) : 0)
            }
            lengths.append(Int32(length))
            labels.append(label)
        }
        return (TokenBatch(rows: rows, length: 12, ids: ids, lengths: lengths), labels)
    }

    @Test(arguments: [
        [LayerSpec.embedding(outputDim: 8), .lstm(units: 8, returnSequences: true, dropout: 0.1, recurrentDropout: 0.1), .lstm(units: 8), .dense(units: 2)],
        [.embedding(outputDim: 8), .globalAveragePooling1D, .dense(units: 2)],
        [.embedding(outputDim: 8), .conv1D(filters: 6, kernelSize: 3, padding: .same, activation: .relu), .maxPooling1D(),
         .globalMaxPooling1D, .dropout(rate: 0.1), .dense(units: 2)],
        [.embedding(outputDim: 8), .gru(units: 8), .dense(units: 8, activation: .tanh), .batchNormalization(), .dense(units: 2)],
        [.embedding(outputDim: 8), .bidirectional(.lstm(units: 6, returnSequences: true)), .globalAveragePooling1D, .dense(units: 2)],
    ])
    func modelsTrainAndTheirLossFalls(specs: [LayerSpec]) throws {
        let model = try Sequential(specs, vocabulary: 30, seed: 1)
        let optimizer = Adam(arena: model.arena, learningRate: 0.02)
        let accumulator = GradientAccumulator(steps: 1)
        let (batch, labels) = data(seed: 2)
        let first = try Loss.sparseCategoricalCrossentropy.evaluate(model.forward(batch, training: false), labels: labels).0
        for step in 0..<60 {
            let (train, trainLabels) = data(seed: 100 + UInt64(step))
            try model.trainStep(train, labels: trainLabels, optimizer: optimizer, accumulator: accumulator)
        }
        let output = try model.forward(batch, training: false)
        let last = try Loss.sparseCategoricalCrossentropy.evaluate(output, labels: labels).0
        #expect(last < first / 2, "loss \(first) -> \(last)")
        #expect(Metrics.accuracy(output, loss: .sparseCategoricalCrossentropy, labels: labels) > 0.9)
    }

    /// `Sequential.kernels` reaches every layer that computes products, wrapped ones too: here
    /// a bidirectional GRU and a Dense with an activation hold all of the model's products.
    /// The generic path (x86-64's has no FMA) rounds differently from the widest, so training
    /// on it must give other weights, and the same to rounding. (The kernels once reached
    /// only the layers the model held directly.)
    @Test(.enabled(if: KernelSet.available.count > 1, "one kernel path here"))
    func kernelsReachWrappedLayers() throws {
        func train(_ kernels: KernelSet) throws -> [Float] {
            let model = try Sequential([.embedding(outputDim: 6), .bidirectional(.gru(units: 5)), .dense(units: 2, activation: .tanh)],
                                       vocabulary: 30, seed: 4)
            model.kernels = kernels
            let optimizer = Adam(arena: model.arena, learningRate: 0.02)
            let accumulator = GradientAccumulator(steps: 1)
            for step in 0..<4 {
                let (batch, labels) = data(seed: 200 + UInt64(step))
                try model.trainStep(batch, labels: labels, optimizer: optimizer, accumulator: accumulator)
            }
            return Array(model.arena.values)
        }
        let generic = try #require(KernelSet(.generic))
        let (widest, portable) = (try train(KernelSet.widest), try train(generic))
        #expect(zip(widest, portable).contains { $0 != $1 }, "the generic path's products did not run")
        expectClose(widest, portable, 1e-4, "generic against \(KernelSet.widest)")
    }

    @Test func wholeModelGradientMatchesFiniteDifferences() throws {
        let model = try Sequential([.embedding(outputDim: 4), .conv1D(filters: 3, kernelSize: 2, activation: .tanh),
                                    .globalAveragePooling1D, .dense(units: 3)], vocabulary: 30, seed: 5)
        let (batch, labels) = data(seed: 3, rows: 4)
        let loss = { () -> Double in try! Loss.sparseCategoricalCrossentropy.evaluate(model.forward(batch, training: false), labels: labels).0 }
        let (_, gradient) = try Loss.sparseCategoricalCrossentropy.evaluate(model.forward(batch, training: true), labels: labels)
        model.backward(gradient)
        let analytic = Array(model.arena.gradients)
        for index in stride(from: 0, to: model.arena.count, by: 11) {
            #expect(abs(centralDifference(model.arena.values, at: index, loss) - Double(analytic[index])) < 1e-3, "parameter \(index)")
        }
    }

    @Test func shapesAreInferredAndBadModelsAreRefusedNamingTheLayer() throws {
        let model = try Sequential([.embedding(outputDim: 8), .lstm(units: 5, returnSequences: true), .globalMaxPooling1D, .dense(units: 3)],
                                   vocabulary: 100, seed: 0)
        #expect(model.shapes == [[-1, 8], [-1, 5], [5], [3]])
        #expect(model.arena.count == 100 * 8 + (8 * 20 + 5 * 20 + 20) + (5 * 3 + 3))
        #expect(throws: FolioError("layer 2 (LSTM) on input shape [\"5\"]: needs [steps, features]")) {
            try Sequential([.embedding(outputDim: 8), .lstm(units: 5), .lstm(units: 3)], vocabulary: 10, seed: 0)
        }
        #expect(throws: FolioError.self) { try Sequential([.dense(units: 3)], vocabulary: 10, seed: 0) }
        #expect(throws: FolioError.self) { try Sequential([.embedding(outputDim: 8), .dense(units: 3)], vocabulary: 10, seed: 0) }
    }

    /// Per-id weights reach a global average pooling through layers that keep steps apart;
    /// a model whose steps mix first, a max pooling, or a wrong count is refused. The whole
    /// model's gradient with weights matches finite differences.
    @Test func perIdWeightsReachOnlyAnAveragePooling() throws {
        #expect(Sequential.weightedPoolingIndex([.embedding(outputDim: 4), .dropout(rate: 0.1), .dense(units: 4), .globalSqrtNPooling1D,
                                                 .dense(units: 2)]) == 3)
        for specs: [LayerSpec] in [[.embedding(outputDim: 4), .lstm(units: 4), .dense(units: 2)],
                                   [.embedding(outputDim: 4), .conv1D(filters: 2, kernelSize: 2), .globalAveragePooling1D, .dense(units: 2)],
                                   [.embedding(outputDim: 4), .globalMaxPooling1D, .dense(units: 2)]] {
            #expect(Sequential.weightedPoolingIndex(specs) == nil)
            var (batch, _) = data(seed: 1, rows: 2)
            batch.weights = [Float](repeating: 1, count: 24)
            #expect(throws: FolioError.self) { try Sequential(specs, vocabulary: 30, seed: 1).forward(batch, training: false) }
        }
        let model = try Sequential([.embedding(outputDim: 4), .globalSqrtNPooling1D, .dense(units: 3)], vocabulary: 30, seed: 5)
        var (batch, labels) = data(seed: 3, rows: 4)
        batch.weights = [Float](repeating: 1, count: 47)
        #expect(throws: FolioError.self) { try model.forward(batch, training: false) }
        batch.weights = (0..<48).map { Float(1 + $0 % 5) / 2 }
        let loss = { () -> Double in try! Loss.sparseCategoricalCrossentropy.evaluate(model.forward(batch, training: false), labels: labels).0 }
        let (_, gradient) = try Loss.sparseCategoricalCrossentropy.evaluate(model.forward(batch, training: true), labels: labels)
        model.arena.zeroGradients()
        model.backward(gradient)
        let analytic = Array(model.arena.gradients)
        for index in stride(from: 0, to: model.arena.count, by: 7) {
            #expect(abs(centralDifference(model.arena.values, at: index, loss) - Double(analytic[index])) < 1e-3, "parameter \(index)")
        }
    }
}

@Suite struct SequentialCheckpointTests {
    @Test func saveAndLoadGiveTheSameModel() throws {
        let folder = TemporaryFolder()
        let specs: [LayerSpec] = [.embedding(outputDim: 6), .bidirectional(.gru(units: 4, returnSequences: true)),
                                  .globalAveragePooling1D, .batchNormalization(), .dense(units: 3)]
        let model = try Sequential(specs, vocabulary: 20, seed: 1)
        let optimizer = Adam(arena: model.arena, learningRate: 0.01)
        let batch = TokenBatch(rows: 4, length: 5, ids: (0..<20).map { UInt32($0 % 19 + 1) }, lengths: [5, 3, 2, 1])
        for _ in 0..<3 { try model.trainStep(batch, labels: [0, 1, 2, 1], optimizer: optimizer, accumulator: GradientAccumulator(steps: 1)) }
        try model.save(to: folder.path + "/m.safetensors")
        let copy = try Sequential(specs, vocabulary: 20, seed: 99)
        #expect(try copy.forward(batch, training: false) != model.forward(batch, training: false))
        try copy.load(from: folder.path + "/m.safetensors")
        #expect(try copy.forward(batch, training: false) == model.forward(batch, training: false))
        let other = try Sequential([.embedding(outputDim: 6), .globalAveragePooling1D, .dense(units: 3)], vocabulary: 20, seed: 1)
        #expect(throws: FolioError.self) { try other.load(from: folder.path + "/m.safetensors") }
    }

    /// A snapshot taken again goes over the old one's memory (an early stopping's best
    /// weights: one copy, as the memory plan counts, not two while the new one is made),
    /// and brings back the weights and moving statistics of when it was taken.
    @Test func aSnapshotTakenAgainReusesItsMemory() throws {
        let specs: [LayerSpec] = [.embedding(outputDim: 6), .globalAveragePooling1D, .batchNormalization(), .dense(units: 3)]
        let model = try Sequential(specs, vocabulary: 20, seed: 1)
        let optimizer = Adam(arena: model.arena, learningRate: 0.05)
        let batch = TokenBatch(rows: 4, length: 5, ids: (0..<20).map { UInt32($0 % 19 + 1) }, lengths: [5, 3, 2, 1])
        func train() throws { try model.trainStep(batch, labels: [0, 1, 2, 1], optimizer: optimizer, accumulator: GradientAccumulator(steps: 1)) }
        var snapshot: WeightsSnapshot?
        model.snapshot(into: &snapshot)
        let storage = try #require(snapshot).values.withUnsafeBufferPointer { $0.baseAddress }
        try train()
        model.snapshot(into: &snapshot)
        let kept = try model.forward(batch, training: false)
        #expect(try #require(snapshot).values.withUnsafeBufferPointer { $0.baseAddress } == storage)
        try train()
        #expect(try model.forward(batch, training: false) != kept)
        model.restore(try #require(snapshot))
        #expect(try model.forward(batch, training: false) == kept)
    }
}

@Suite struct LayerSpecDescriptionTests {
    @Test func layersReadAsKerasWritesThem() {
        #expect(LayerSpec.dense(units: 10).description == "Dense(units=10)")
        #expect(LayerSpec.dense(units: 4, activation: .relu).description == "Dense(units=4, activation=relu)")
        #expect(LayerSpec.lstm(units: 96, returnSequences: true).description == "LSTM(units=96, return_sequences=true)")
        #expect(LayerSpec.bidirectional(.gru(units: 8)).description == "Bidirectional(GRU(units=8))")
        #expect(LayerSpec.conv1D(filters: 16, kernelSize: 5, padding: .same, activation: .relu).description
                == "Conv1D(filters=16, kernel_size=5, padding=same, activation=relu)")
        for spec in [LayerSpec.embedding(outputDim: 3), .dropout(rate: 0.5), .batchNormalization(), .maxPooling1D(), .globalMaxPooling1D] {
            #expect(!spec.description.contains("FolioNN") && !spec.description.contains("Function"), "\(spec.description)")
        }
    }
}
