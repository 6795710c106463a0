import FolioCore

/// A layer as a model file describes it: Keras's names and arguments. Shapes are inferred.
public enum LayerSpec: Sendable, Hashable, Codable, CustomStringConvertible {
    case embedding(outputDim: Int)
    case lstm(units: Int, returnSequences: Bool = false, dropout: Float = 0, recurrentDropout: Float = 0)
    case gru(units: Int, returnSequences: Bool = false)
    /// An LSTM or GRU read both ways, outputs concatenated (`2 * units` features).
    indirect case bidirectional(LayerSpec)
    case dense(units: Int, activation: Activation.Function = .linear)
    case activation(Activation.Function)
    case dropout(rate: Float)
    case batchNormalization(momentum: Float = 0.99, epsilon: Float = 1e-3)
    case conv1D(filters: Int, kernelSize: Int, padding: Conv1D.Padding = .valid, activation: Activation.Function = .linear)
    case maxPooling1D(poolSize: Int = 2)
    case globalAveragePooling1D
    /// The sum over valid steps divided by the square root of their number
    /// (``GlobalPooling1D/Kind/sqrtN``); pipelines write it as a global average pooling
    /// with `combiner = "sqrtn"`.
    case globalSqrtNPooling1D
    case globalMaxPooling1D

    var name: String {
        switch self {
        case .embedding: "Embedding"
        case .lstm: "LSTM"
        case .gru: "GRU"
        case .bidirectional(let inner): "Bidirectional(\(inner.name))"
        case .dense: "Dense"
        case .activation: "Activation"
        case .dropout: "Dropout"
        case .batchNormalization: "BatchNormalization"
        case .conv1D: "Conv1D"
        case .maxPooling1D: "MaxPooling1D"
        case .globalAveragePooling1D: "GlobalAveragePooling1D"
        case .globalSqrtNPooling1D: "GlobalAveragePooling1D(combiner: sqrtn)"
        case .globalMaxPooling1D: "GlobalMaxPooling1D"
        }
    }

    /// As a report shows it, with Keras's argument names: `LSTM(units=96,
    /// return_sequences=true)`, `Dense(units=10)`; arguments at their defaults left out.
    public var description: String {
        func call(_ name: String, _ arguments: [(String, String?)]) -> String {
            name + "(" + arguments.compactMap { key, value in value.map { "\(key)=\($0)" } }.joined(separator: ", ") + ")"
        }
        func unless<T: Equatable>(_ value: T, is usual: T) -> String? { value == usual ? nil : "\(value)" }
        switch self {
        case .embedding(let outputDim): return call("Embedding", [("output_dim", "\(outputDim)")])
        case .lstm(let units, let sequences, let dropout, let recurrentDropout):
            return call("LSTM", [("units", "\(units)"), ("return_sequences", unless(sequences, is: false)), ("dropout", unless(dropout, is: 0)),
                                 ("recurrent_dropout", unless(recurrentDropout, is: 0))])
        case .gru(let units, let sequences): return call("GRU", [("units", "\(units)"), ("return_sequences", unless(sequences, is: false))])
        case .bidirectional(let inner): return "Bidirectional(\(inner))"
        case .dense(let units, let activation): return call("Dense", [("units", "\(units)"), ("activation", unless(activation.rawValue, is: "linear"))])
        case .activation(let function): return "Activation(\(function.rawValue))"
        case .dropout(let rate): return call("Dropout", [("rate", "\(rate)")])
        case .batchNormalization(let momentum, let epsilon):
            return call("BatchNormalization", [("momentum", unless(momentum, is: 0.99)), ("epsilon", unless(epsilon, is: 1e-3))])
        case .conv1D(let filters, let kernelSize, let padding, let activation):
            return call("Conv1D", [("filters", "\(filters)"), ("kernel_size", "\(kernelSize)"), ("padding", unless(padding.rawValue, is: "valid")),
                                   ("activation", unless(activation.rawValue, is: "linear"))])
        case .maxPooling1D(let poolSize): return call("MaxPooling1D", [("pool_size", "\(poolSize)")])
        case .globalAveragePooling1D, .globalSqrtNPooling1D, .globalMaxPooling1D: return name
        }
    }
}

/// Layers in a row, built from ``LayerSpec``s with every shape inferred from the token ids
/// in: one ``ParameterArena`` for all parameters (named `layers.<i>.<parameter>`), lengths
/// (the mask) carried through so that sequence layers and poolings see only real steps.
public final class Sequential {
    public let specs: [LayerSpec]
    public let arena: ParameterArena
    /// Output shape per layer, without the batch (`[steps?, features]`; steps -1: any).
    public let shapes: [[Int]]
    public let seed: UInt64
    /// The training step (micro-batch) the next forward belongs to: dropout masks are drawn
    /// from (seed, step, layer) alone, so a resumed run draws exactly the masks it would have.
    public var step: UInt64 = 0
    /// Threads for the recurrent layers' lanes (2 unless set): a property of this model, so
    /// models in one process never share it; results do not depend on it.
    public var threads = 2 {
        didSet { forEachLSTM { $0.threads = threads } }
    }
    /// The kernels of the recurrent layers (``KernelSet/selected`` unless set).
    public var kernels = KernelSet.selected {
        didSet { forEachLSTM { $0.kernels = kernels } }
    }
    private let layers: [AnyLayer]

    private func forEachLSTM(_ body: (LSTM) -> Void) {
        for layer in layers {
            switch layer {
            case .lstm(let lstm): body(lstm)
            case .bidirectional(let both):
                if case .lstm(let ahead) = both.forwardLayer { body(ahead) }
                if case .lstm(let behind) = both.backwardLayer { body(behind) }
            default: break
            }
        }
    }

    /// - Parameters: `vocabulary` sizes the first layer (an Embedding); `seed` fixes every
    ///   initial weight and dropout mask, one named stream per layer.
    /// Every parameter's name and shape (the arena's layout) and each layer's output shape
    /// (without the batch: `[steps?, features]`, steps -1), inferred from the token ids in;
    /// an error naming the layer when one cannot take its input. What ``init(_:vocabulary:seed:)``
    /// builds, and what the memory model counts, so the two never disagree.
    /// The most values one parameter tensor may hold (16 GiB of floats): beyond it a size is
    /// taken for a mistake, not allocated.
    public static let maxParametersPerTensor = 1 << 32

    public static func layout(_ specs: [LayerSpec], vocabulary: Int) throws(FolioError) -> (parameters: [(name: String, shape: [Int])], shapes: [[Int]]) {
        guard case .embedding = specs.first else {
            throw FolioError("layer 0: a model over token ids starts with an Embedding")
        }
        var layout: [(name: String, shape: [Int])] = []
        var shapes: [[Int]] = []
        var shape = [-1]  // token ids: [steps]
        for (index, spec) in specs.enumerated() {
            let prefix = "layers.\(index)"
            let features = shape.last ?? 0
            let describe = "layer \(index) (\(spec.name)) on input shape \(shape.map { $0 < 0 ? "steps" : String($0) })"
            // Specs can come from outside (a model bundle's JSON): a size below 1 or a rate
            // outside [0, 1) would size the parameter arena wrongly (found by fuzzing: a
            // negative Dense width wrote past the arena).
            if let problem = spec.sizeProblem { throw FolioError("\(describe): \(problem)") }
            let parametersBefore = layout.count
            switch spec {
            case .embedding(let outputDim):
                guard index == 0 else { throw FolioError("\(describe): an Embedding must come first") }
                layout += Embedding.layout(prefix: prefix, inputDim: vocabulary, outputDim: outputDim)
                shape = [-1, outputDim]
            case .lstm(let units, let sequences, _, _), .gru(let units, let sequences):
                guard shape.count == 2 else { throw FolioError("\(describe): needs [steps, features]") }
                if case .lstm = spec { layout += LSTM.layout(prefix: prefix, inputDim: features, units: units) }
                else { layout += GRU.layout(prefix: prefix, inputDim: features, units: units) }
                shape = sequences ? [-1, units] : [units]
            case .bidirectional(let inner):
                guard shape.count == 2 else { throw FolioError("\(describe): needs [steps, features]") }
                switch inner {
                case .lstm(let units, let sequences, _, _):
                    layout += LSTM.layout(prefix: prefix + ".forward", inputDim: features, units: units)
                    layout += LSTM.layout(prefix: prefix + ".backward", inputDim: features, units: units)
                    shape = sequences ? [-1, 2 * units] : [2 * units]
                case .gru(let units, let sequences):
                    layout += GRU.layout(prefix: prefix + ".forward", inputDim: features, units: units)
                    layout += GRU.layout(prefix: prefix + ".backward", inputDim: features, units: units)
                    shape = sequences ? [-1, 2 * units] : [2 * units]
                default:
                    throw FolioError("\(describe): Bidirectional wraps an LSTM or a GRU")
                }
            case .dense(let units, _):
                layout += Dense.layout(prefix: prefix, inputDim: features, units: units)
                shape = Array(shape.dropLast()) + [units]
            case .activation, .dropout:
                break
            case .batchNormalization:
                layout += BatchNormalization.layout(prefix: prefix, features: features)
            case .conv1D(let filters, let kernelSize, _, _):
                guard shape.count == 2 else { throw FolioError("\(describe): needs [steps, features]") }
                layout += Conv1D.layout(prefix: prefix, channels: features, filters: filters, kernelSize: kernelSize)
                shape = [-1, filters]
            case .maxPooling1D, .globalAveragePooling1D, .globalSqrtNPooling1D, .globalMaxPooling1D:
                guard shape.count == 2 else { throw FolioError("\(describe): needs [steps, features]") }
                if case .maxPooling1D = spec { shape = [-1, features] } else { shape = [features] }
            }
            for parameter in layout[parametersBefore...] {
                guard elementCount(of: parameter.shape, smallestDimension: 1, atMost: Self.maxParametersPerTensor) != nil else {
                    throw FolioError("\(describe): parameter \(parameter.name) of shape \(parameter.shape) is empty or beyond \(Self.maxParametersPerTensor) values")
                }
            }
            shapes.append(shape)
        }
        guard shape.count == 1 else {
            throw FolioError("the last layer's output is \(shape.map { $0 < 0 ? "steps" : String($0) }): add a pooling or a non-sequence recurrent layer before the classifier")
        }
        return (layout, shapes)
    }

    /// - Parameters:
    ///   - trainable: false for a model that only predicts: no room for gradients.
    ///   - initializes: false when every weight will be loaded next (a saved model): the
    ///     random initialization would only be overwritten.
    public convenience init(
        _ specs: [LayerSpec], vocabulary: Int, seed: UInt64, trainable: Bool = true, initializes: Bool = true
    ) throws(FolioError) {
        let (layout, shapes) = try Self.layout(specs, vocabulary: vocabulary)
        try self.init(specs, vocabulary: vocabulary, seed: seed, shapes: shapes,
                      arena: ParameterArena(layout: layout, gradients: trainable), initializes: initializes)
    }

    /// A second model over this one's parameters, for predicting on another thread: the
    /// layers (and their forward caches) are its own, the weights shared and only read.
    /// Neither may train while the other is in use.
    public func sharingWeights() -> Sequential {
        // The specs were accepted when this model was built, so building again cannot fail.
        guard let copy = try? Sequential(specs, vocabulary: vocabulary, seed: seed, shapes: shapes, arena: arena, initializes: false)
        else { preconditionFailure("layers that built once failed to build again") }
        copy.threads = threads
        copy.kernels = kernels
        return copy
    }

    /// The ids the first layer takes.
    public let vocabulary: Int

    private init(
        _ specs: [LayerSpec], vocabulary: Int, seed: UInt64, shapes: [[Int]], arena: ParameterArena, initializes: Bool
    ) throws(FolioError) {
        self.arena = arena
        self.specs = specs
        self.shapes = shapes
        self.seed = seed
        self.vocabulary = vocabulary
        var layers: [AnyLayer] = []
        var inputFeatures = 0
        for (index, spec) in specs.enumerated() {
            let prefix = "layers.\(index)"
            var random = SplitMixSource(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1))
            switch spec {
            case .embedding(let outputDim):
                let layer = Embedding(inputDim: vocabulary, outputDim: outputDim, arena: arena, prefix: prefix)
                if initializes { layer.initialize(arena: arena, random: &random) }
                layers.append(.embedding(layer))
            case .lstm(let units, let sequences, let dropout, let recurrentDropout):
                let layer = LSTM(inputDim: inputFeatures, units: units, returnSequences: sequences, arena: arena, prefix: prefix)
                if initializes { layer.initialize(arena: arena, random: &random) }
                layer.dropout = dropout
                layer.recurrentDropout = recurrentDropout
                layers.append(.lstm(layer))
            case .gru(let units, let sequences):
                let layer = GRU(inputDim: inputFeatures, units: units, returnSequences: sequences, arena: arena, prefix: prefix)
                if initializes { layer.initialize(arena: arena, random: &random) }
                layers.append(.gru(layer))
            case .bidirectional(let inner):
                func make(_ direction: String, _ random: inout SplitMixSource) throws(FolioError) -> Bidirectional.Recurrent {
                    switch inner {
                    case .gru(let units, let sequences):
                        let layer = GRU(inputDim: inputFeatures, units: units, returnSequences: sequences, arena: arena, prefix: prefix + direction)
                        if initializes { layer.initialize(arena: arena, random: &random) }
                        return .gru(layer)
                    case .lstm(let units, let sequences, let dropout, let recurrentDropout):
                        let layer = LSTM(inputDim: inputFeatures, units: units, returnSequences: sequences, arena: arena, prefix: prefix + direction)
                        if initializes { layer.initialize(arena: arena, random: &random) }
                        layer.dropout = dropout
                        layer.recurrentDropout = recurrentDropout
                        return .lstm(layer)
                    default:
                        throw FolioError("layer \(index) (\(spec.name)): Bidirectional wraps an LSTM or a GRU")
                    }
                }
                let ahead = try make(".forward", &random)
                let behind = try make(".backward", &random)
                layers.append(.bidirectional(Bidirectional(forward: ahead, backward: behind)))
            case .dense(let units, let function):
                let layer = Dense(inputDim: inputFeatures, units: units, arena: arena, prefix: prefix)
                if initializes { layer.initialize(arena: arena, random: &random) }
                layers.append(.dense(layer, Activation(function)))
            case .activation(let function):
                layers.append(.activation(Activation(function)))
            case .dropout(let rate):
                layers.append(.dropout(Dropout(rate: rate, seed: seed ^ UInt64(index))))
            case .batchNormalization(let momentum, let epsilon):
                layers.append(.batchNormalization(BatchNormalization(features: inputFeatures, momentum: momentum, epsilon: epsilon,
                                                                     arena: arena, prefix: prefix)))
            case .conv1D(let filters, let kernelSize, let padding, let function):
                let layer = Conv1D(channels: inputFeatures, filters: filters, kernelSize: kernelSize, padding: padding, arena: arena, prefix: prefix)
                if initializes { layer.initialize(arena: arena, random: &random) }
                layers.append(.conv1D(layer, Activation(function)))
            case .maxPooling1D(let poolSize):
                layers.append(.maxPooling(MaxPooling1D(poolSize: poolSize)))
            case .globalAveragePooling1D:
                layers.append(.globalPooling(GlobalPooling1D(.average)))
            case .globalSqrtNPooling1D:
                layers.append(.globalPooling(GlobalPooling1D(.sqrtN)))
            case .globalMaxPooling1D:
                layers.append(.globalPooling(GlobalPooling1D(.max)))
            }
            inputFeatures = shapes[index].last ?? 0
        }
        self.layers = layers
    }

    /// The layer that combines a batch's per-id weights (``TokenBatch/weights``): the first
    /// global average pooling (mean or sqrtn), when only layers that keep each step to itself
    /// (embedding, dense, activation, dropout) come before it; nil when weights cannot be used,
    /// because a convolution, pooling or recurrent layer mixes the steps first, or a global max
    /// pooling has no weights to combine.
    public static func weightedPoolingIndex(_ specs: [LayerSpec]) -> Int? {
        for (index, spec) in specs.enumerated() {
            switch spec {
            case .embedding, .dense, .activation, .dropout: continue
            case .globalAveragePooling1D, .globalSqrtNPooling1D: return index
            default: return nil
            }
        }
        return nil
    }

    /// ``weightedPoolingIndex(_:)``'s rule, as errors state it.
    public static let weightedPoolingRule = "a global average pooling with only embedding, dense, activation or dropout layers before it"

    /// An embedding followed by a global pooling with only dropouts between (which do
    /// nothing outside training): prediction pools table rows directly
    /// (``GlobalPooling1D/forward(table:features:ids:rows:steps:lengths:weights:)``), and the
    /// layers go on at the index returned.
    private func embeddingBag() -> (Embedding, GlobalPooling1D, Int)? {
        guard case .embedding(let embedding) = layers.first else { return nil }
        for (index, layer) in layers.enumerated().dropFirst() {
            switch layer {
            case .dropout: continue
            case .globalPooling(let pool): return (embedding, pool, index + 1)
            default: return nil
            }
        }
        return nil
    }

    /// The model's output `[rows, features]` (logits for the losses' `fromLogits`).
    public func forward(_ batch: TokenBatch, training: Bool) throws(FolioError) -> Tensor {
        if let weights = batch.weights {
            guard let pooling = Self.weightedPoolingIndex(specs) else {
                throw FolioError("per-id weights need \(Self.weightedPoolingRule)")
            }
            guard weights.count == batch.rows * batch.length else {
                throw FolioError("\(weights.count) per-id weights for a batch of \(batch.rows) x \(batch.length) ids (layer \(pooling))")
            }
        }
        var lengths = batch.lengths
        var x = Tensor(zeros: [0])
        var start = 0
        if !training, let (embedding, pool, next) = embeddingBag() {
            try embedding.check(batch)
            x = pool.forward(table: UnsafePointer(arena.values(of: embedding.table).baseAddress!), features: embedding.outputDim,
                             ids: batch.ids, rows: batch.rows, steps: batch.length, lengths: lengths, weights: batch.weights)
            start = next
        }
        for (index, layer) in layers.enumerated() where index >= start {
            if training {
                let stream = seed &+ 0xA5A5 &* (step &+ 1) &+ 0x9E37_79B9 &* UInt64(index + 1)
                switch layer {
                case .dropout(let dropout): dropout.restart(seed: stream)
                case .lstm(let lstm): lstm.restartMasks(seed: stream)
                case .bidirectional(let both):
                    if case .lstm(let ahead) = both.forwardLayer { ahead.restartMasks(seed: stream) }
                    if case .lstm(let behind) = both.backwardLayer { behind.restartMasks(seed: stream ^ 1) }
                default: break
                }
            }
            switch layer {
            case .embedding(let embedding): x = try embedding.forward(batch, arena: arena)
            // Outside training no backward follows: the LSTM keeps only the steps it needs.
            case .lstm(let lstm): x = lstm.forward(x, lengths: lengths, arena: arena, training: training, keepsCaches: training)
            case .gru(let gru): x = gru.forward(x, lengths: lengths, arena: arena)
            case .bidirectional(let layer): x = layer.forward(x, lengths: lengths, arena: arena, training: training)
            case .dense(let dense, let activation): x = activation.forward(dense.forward(x, arena: arena))
            case .activation(let activation): x = activation.forward(x)
            case .dropout(let dropout): x = dropout.forward(x, training: training)
            case .batchNormalization(let layer): x = layer.forward(x, training: training, arena: arena)
            case .conv1D(let conv, let activation):
                x = activation.forward(conv.forward(x, arena: arena))
                lengths = conv.outputLengths(lengths)
            case .maxPooling(let pool):
                x = pool.forward(x)
                lengths = pool.outputLengths(lengths)
            case .globalPooling(let pool): x = pool.forward(x, lengths: lengths, weights: batch.weights)
            }
        }
        return x
    }

    /// Adds every parameter's gradient, given the gradient of the output.
    public func backward(_ outputGradient: Tensor) {
        precondition(arena.hasGradients, "backward through a model built with trainable: false")
        var g = outputGradient
        for layer in layers.reversed() {
            switch layer {
            case .embedding(let embedding): embedding.backward(g, arena: arena)
            case .lstm(let lstm): g = lstm.backward(g, arena: arena)
            case .gru(let gru): g = gru.backward(g, arena: arena)
            case .bidirectional(let layer): g = layer.backward(g, arena: arena)
            case .dense(let dense, let activation): g = dense.backward(activation.backward(g), arena: arena)
            case .activation(let activation): g = activation.backward(g)
            case .dropout(let dropout): g = dropout.backward(g)
            case .batchNormalization(let layer): g = layer.backward(g, arena: arena)
            case .conv1D(let conv, let activation): g = conv.backward(activation.backward(g), arena: arena)
            case .maxPooling(let pool): g = pool.backward(g)
            case .globalPooling(let pool): g = pool.backward(g)
            }
        }
    }

    /// Forward, loss, backward for one micro-batch; the accumulator decides when to step.
    @discardableResult
    public func trainStep(
        _ batch: TokenBatch, labels: [UInt32], loss: Loss = .sparseCategoricalCrossentropy, optimizer: any Optimizer,
        accumulator: GradientAccumulator, rowWeights: [Float]? = nil
    ) throws(FolioError) -> (loss: Double, output: Tensor) {
        let output = try forward(batch, training: true)
        let (value, gradient) = try loss.evaluate(output, labels: labels, rowWeights: rowWeights)
        backward(gradient)
        try accumulator.microBatchDone(arena: arena, optimizer: optimizer)
        return (value, output)
    }

    /// Makes the embedding table's updates lazy (row-sparse): Adam, AdamW and SGD then update only the rows
    /// a step's tokens touched (``ParameterArena/makeRowSparse(_:rowWidth:)``). A large table
    /// (hashed n-grams) otherwise costs a full pass per step.
    public func makeEmbeddingsRowSparse() {
        for layer in layers {
            if case .embedding(let embedding) = layer { arena.makeRowSparse(embedding.table, rowWidth: embedding.outputDim) }
        }
    }

    /// The first layer: every model over token ids starts with its Embedding.
    public var embedding: Embedding {
        guard case .embedding(let embedding) = layers.first else { preconditionFailure("layout() accepts no model without an Embedding first") }
        return embedding
    }

    /// Keeps the embedding table as it is while the rest trains (pretrained vectors used
    /// as they are): no gradient is computed for it and no optimizer updates it.
    public func freezeEmbedding() {
        embedding.trainable = false
        arena.freeze(embedding.table, rowWidth: embedding.outputDim)
    }

    /// The BatchNormalization layers by index (their state lives beside the arena).
    func movingStatistics() -> [(Int, BatchNormalization)] {
        layers.enumerated().compactMap { index, layer in
            if case .batchNormalization(let statistics) = layer { return (index, statistics) }
            return nil
        }
    }

    private enum AnyLayer {
        case embedding(Embedding)
        case lstm(LSTM)
        case gru(GRU)
        case bidirectional(Bidirectional)
        case dense(Dense, Activation)
        case activation(Activation)
        case dropout(Dropout)
        case batchNormalization(BatchNormalization)
        case conv1D(Conv1D, Activation)
        case maxPooling(MaxPooling1D)
        case globalPooling(GlobalPooling1D)
    }
}

extension LayerSpec {
    /// What is wrong with this layer's own sizes and rates, if anything (the input shape is
    /// ``Sequential/layout(_:vocabulary:)``'s to check).
    var sizeProblem: String? {
        func rate(_ value: Float, _ name: String) -> String? { value >= 0 && value < 1 ? nil : "\(name) \(value) is outside [0, 1)" }
        switch self {
        case .embedding(let outputDim): return outputDim >= 1 ? nil : "output_dim \(outputDim) is below 1"
        case .lstm(let units, _, let dropout, let recurrentDropout):
            return units >= 1 ? rate(dropout, "dropout") ?? rate(recurrentDropout, "recurrent_dropout") : "units \(units) is below 1"
        case .gru(let units, _), .dense(let units, _): return units >= 1 ? nil : "units \(units) is below 1"
        case .bidirectional(let inner): return inner.sizeProblem
        case .dropout(let value): return rate(value, "rate")
        case .conv1D(let filters, let kernelSize, _, _):
            return filters >= 1 && kernelSize >= 1 ? nil : "filters \(filters) and kernel_size \(kernelSize) must be at least 1"
        case .maxPooling1D(let poolSize): return poolSize >= 1 ? nil : "pool_size \(poolSize) is below 1"
        case .activation, .batchNormalization, .globalAveragePooling1D, .globalSqrtNPooling1D, .globalMaxPooling1D: return nil
        }
    }
}
