import FolioCore

/// Embedding -> LSTM x layers -> Dense (logits): the reference text classifier, on one
/// ``ParameterArena``. The last LSTM returns its final state; the others, sequences.
public final class LSTMClassifier {
    public let arena: ParameterArena
    public let embedding: Embedding
    public let lstms: [LSTM]
    public let dense: Dense
    private var lengths: [Int32] = []
    /// Threads for the LSTMs' lanes (results do not depend on it).
    public var threads = 2 {
        didSet { for lstm in lstms { lstm.threads = threads } }
    }

    public init(vocabulary: Int, embeddingDim: Int, units: Int, layers: Int, classes: Int, seed: UInt64) {
        var layout = Embedding.layout(prefix: "embedding", inputDim: vocabulary, outputDim: embeddingDim)
        for layer in 0..<layers {
            layout += LSTM.layout(prefix: "lstm.\(layer)", inputDim: layer == 0 ? embeddingDim : units, units: units)
        }
        layout += Dense.layout(prefix: "dense", inputDim: units, units: classes)
        let arena = ParameterArena(layout: layout)
        self.arena = arena
        embedding = Embedding(inputDim: vocabulary, outputDim: embeddingDim, arena: arena, prefix: "embedding")
        lstms = (0..<layers).map { layer in
            LSTM(inputDim: layer == 0 ? embeddingDim : units, units: units, returnSequences: layer < layers - 1,
                 arena: arena, prefix: "lstm.\(layer)")
        }
        dense = Dense(inputDim: units, units: classes, arena: arena, prefix: "dense")
        // One named stream per layer: adding a layer never changes another's weights.
        var random = SplitMixSource(seed: seed ^ 0x1A17)
        embedding.initialize(arena: arena, random: &random)
        for (index, lstm) in lstms.enumerated() {
            var stream = SplitMixSource(seed: seed ^ (0x157 &+ UInt64(index) &* 0x9E37_79B9))
            lstm.initialize(arena: arena, random: &stream)
        }
        var denseRandom = SplitMixSource(seed: seed ^ 0xDE45E)
        dense.initialize(arena: arena, random: &denseRandom)
    }

    /// Set by ``freezeForPrediction()``.
    public private(set) var projectedEmbedding: ProjectedEmbedding?

    /// Declares the weights final: inference may then read the first LSTM's input projections
    /// from a ``ProjectedEmbedding``, as a ``Sequential`` that only predicts does (same
    /// outputs). The model must not train afterwards.
    public func freezeForPrediction() {
        projectedEmbedding = lstms.first.flatMap { ProjectedEmbedding(rows: embedding.inputDim, width: 4 * $0.units) }
    }

    /// Logits `[rows, classes]`; `training` false for inference (no backward may follow).
    public func forward(_ batch: TokenBatch, training: Bool = true) throws(FolioError) -> Tensor {
        precondition(!training || projectedEmbedding == nil, "LSTMClassifier: training after freezeForPrediction()")
        lengths = batch.lengths
        var remaining = lstms[...]
        var activation: Tensor
        if !training, batch.extraIDs == nil, let projectedEmbedding,
           let tables = try projectedEmbedding.tables(for: batch, embedding: embedding, readBy: [lstms[0]], arena: arena) {
            activation = EmbeddingReader.lstm(lstms[0]).forward(batch, tables: tables, lengths: batch.lengths, arena: arena)
            remaining = lstms.dropFirst()
        } else {
            activation = try embedding.forward(batch, arena: arena)
        }
        for (index, lstm) in remaining.enumerated() {
            let embedded = index == 0 && remaining.startIndex == 0 && batch.extraIDs == nil ? batch.ids : nil
            activation = lstm.forward(activation, lengths: batch.lengths, arena: arena, keepsCaches: training, embeddedIDs: embedded)
        }
        return dense.forward(activation, arena: arena)
    }

    /// Adds the gradients of the loss whose gradient with respect to the logits is given.
    public func backward(_ logitGradient: Tensor) {
        var gradient = dense.backward(logitGradient, arena: arena)
        for lstm in lstms.reversed() { gradient = lstm.backward(gradient, arena: arena) }
        embedding.addGradient(gradient, arena: arena)
    }

    /// Forward, loss, backward for one micro-batch; the accumulator decides when to step.
    @discardableResult
    public func trainStep(
        _ batch: TokenBatch, labels: [UInt32], optimizer: any Optimizer, accumulator: GradientAccumulator
    ) throws(FolioError) -> Double {
        let logits = try forward(batch)
        let (loss, gradient) = try SparseCategoricalCrossentropy.lossAndGradient(logits: logits, labels: labels)
        backward(gradient)
        try accumulator.microBatchDone(arena: arena, optimizer: optimizer)
        return loss
    }
}
