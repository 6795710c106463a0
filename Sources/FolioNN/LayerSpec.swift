import FolioCore

/// A layer as a model file describes it: Keras's names and arguments. Shapes are inferred.
///
/// Everything else about a kind lives in its layer's file (`Dense.swift`, `LSTM.swift`):
/// its parameters, output shape, kept activations and how it is built, which
/// ``facts(input:prefix:vocabulary:)`` dispatches to. A new kind is a case here, its entry
/// in ``call`` and in ``facts(input:prefix:vocabulary:)`` (docs/adding-a-layer.md).
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

    /// The layer as written: Keras's class name, a pipeline file's `type`, and every
    /// argument under Keras's name. Reports print it (``description``) and pipeline files
    /// are written from it, so the two never disagree.
    public var call: LayerCall {
        typealias A = LayerCall.Argument
        switch self {
        case .embedding(let outputDim): return LayerCall("Embedding", type: "embedding", [A("output_dim", .int(outputDim))])
        case .lstm(let units, let sequences, let dropout, let recurrentDropout):
            return LayerCall("LSTM", type: "lstm", [A("units", .int(units)), A("return_sequences", .bool(sequences), default: .bool(false)),
                                                   A("dropout", .float(dropout), default: .float(0)),
                                                   A("recurrent_dropout", .float(recurrentDropout), default: .float(0))])
        case .gru(let units, let sequences):
            return LayerCall("GRU", type: "gru", [A("units", .int(units)), A("return_sequences", .bool(sequences), default: .bool(false))])
        case .bidirectional(let inner):
            return LayerCall("Bidirectional", type: "bidirectional", [A("layer", .layer(inner), positional: true)])
        case .dense(let units, let activation):
            return LayerCall("Dense", type: "dense", [A("units", .int(units)), A("activation", .name(activation.rawValue), default: .name("linear"))])
        case .activation(let function): return LayerCall("Activation", type: "activation", [A("activation", .name(function.rawValue), positional: true)])
        case .dropout(let rate): return LayerCall("Dropout", type: "dropout", [A("rate", .float(rate))])
        case .batchNormalization(let momentum, let epsilon):
            return LayerCall("BatchNormalization", type: "batch_normalization",
                             [A("momentum", .float(momentum), default: .float(0.99)), A("epsilon", .float(epsilon), default: .float(1e-3))])
        case .conv1D(let filters, let kernelSize, let padding, let activation):
            return LayerCall("Conv1D", type: "conv1d", [A("filters", .int(filters)), A("kernel_size", .int(kernelSize)),
                                                       A("padding", .name(padding.rawValue), default: .name("valid")),
                                                       A("activation", .name(activation.rawValue), default: .name("linear"))])
        case .maxPooling1D(let poolSize): return LayerCall("MaxPooling1D", type: "max_pooling1d", [A("pool_size", .int(poolSize))])
        case .globalAveragePooling1D, .globalSqrtNPooling1D:
            let combiner = self == .globalSqrtNPooling1D ? GlobalPooling1D.Kind.sqrtN.rawValue : "mean"
            return LayerCall("GlobalAveragePooling1D", type: "global_average_pooling1d", [A("combiner", .name(combiner), default: .name("mean"))])
        case .globalMaxPooling1D: return LayerCall("GlobalMaxPooling1D", type: "global_max_pooling1d", [])
        }
    }

    /// What this layer is on `input`, from its own file; an error (without the layer's
    /// name: ``Sequential/layout(_:vocabulary:steps:)`` adds it) when its arguments or its
    /// input do not suit it. `vocabulary` sizes an Embedding.
    public func facts(input: LayerShape, prefix: String, vocabulary: Int) throws(FolioError) -> LayerFacts {
        switch self {
        case .embedding(let outputDim): try Embedding.facts(outputDim: outputDim, vocabulary: vocabulary, input: input, prefix: prefix)
        case .lstm(let units, let sequences, let dropout, let recurrentDropout):
            try LSTM.facts(units: units, returnSequences: sequences, dropout: dropout, recurrentDropout: recurrentDropout, input: input, prefix: prefix)
        case .gru(let units, let sequences): try GRU.facts(units: units, returnSequences: sequences, input: input, prefix: prefix)
        case .bidirectional(let inner): try Bidirectional.facts(wrapping: inner, input: input, prefix: prefix)
        case .dense(let units, let activation): try Dense.facts(units: units, input: input, prefix: prefix).activated(by: activation)
        case .activation(let function): Activation.facts(function, input: input)
        case .dropout(let rate): try Dropout.facts(rate: rate, input: input)
        case .batchNormalization(let momentum, let epsilon):
            BatchNormalization.facts(momentum: momentum, epsilon: epsilon, input: input, prefix: prefix)
        case .conv1D(let filters, let kernelSize, let padding, let activation):
            try Conv1D.facts(filters: filters, kernelSize: kernelSize, padding: padding, input: input, prefix: prefix).activated(by: activation)
        case .maxPooling1D(let poolSize): try MaxPooling1D.facts(poolSize: poolSize, input: input)
        case .globalAveragePooling1D: try GlobalPooling1D.facts(.average, input: input)
        case .globalSqrtNPooling1D: try GlobalPooling1D.facts(.sqrtN, input: input)
        case .globalMaxPooling1D: try GlobalPooling1D.facts(.max, input: input)
        }
    }

    /// Keras's class name (`Bidirectional(LSTM)` for a wrapper), as errors name the layer.
    var name: String {
        if case .bidirectional(let inner) = self { return "Bidirectional(\(inner.name))" }
        return call.kerasName
    }

    /// As a report shows it, with Keras's argument names: `LSTM(units=96,
    /// return_sequences=true)`, `Dense(units=10)`; arguments at their defaults left out, and
    /// no parentheses when nothing is left.
    public var description: String {
        let call = call
        let shown = call.arguments.filter { $0.value != $0.defaultValue }
        guard !shown.isEmpty else { return call.kerasName }
        return call.kerasName + "(" + shown.map { $0.positional ? $0.value.description : "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"
    }
}

/// A layer as written (``LayerSpec/call``).
public struct LayerCall: Sendable {
    public var kerasName: String
    /// The `type` of a pipeline file's `[[model.layers]]` table.
    public var type: String
    public var arguments: [Argument]

    init(_ kerasName: String, type: String, _ arguments: [Argument]) {
        self.kerasName = kerasName
        self.type = type
        self.arguments = arguments
    }

    public struct Argument: Sendable {
        public enum Value: Sendable, Equatable, CustomStringConvertible {
            case int(Int), float(Float), bool(Bool)
            /// A name from a fixed list (`relu`, `same`).
            case name(String)
            case layer(LayerSpec)

            public var description: String {
                switch self {
                case .int(let value): "\(value)"
                case .float(let value): "\(value)"
                case .bool(let value): "\(value)"
                case .name(let value): value
                case .layer(let spec): spec.description
                }
            }
        }

        public var key: String
        public var value: Value
        /// Left out of descriptions when the value is this one.
        public var defaultValue: Value?
        /// Described without its key (`Activation(relu)`, `Bidirectional(LSTM(...))`).
        public var positional: Bool

        init(_ key: String, _ value: Value, default defaultValue: Value? = nil, positional: Bool = false) {
            self.key = key
            self.value = value
            self.defaultValue = defaultValue
            self.positional = positional
        }
    }
}

extension LayerFacts {
    /// The error for a size below 1, as every kind words it.
    static func atLeastOne(_ value: Int, _ key: String) throws(FolioError) {
        guard value >= 1 else { throw FolioError("\(key) \(value) is below 1") }
    }

    /// The error for a rate outside [0, 1).
    static func rate(_ value: Float, _ key: String) throws(FolioError) {
        guard value >= 0 && value < 1 else { throw FolioError("\(key) \(value) is outside [0, 1)") }
    }
}

extension LayerSpec {
    /// An LSTM, a GRU, or either wrapped in a Bidirectional.
    public var isRecurrent: Bool {
        switch self {
        case .lstm, .gru, .bidirectional: true
        default: false
        }
    }

    /// This recurrent layer returning every step's output or only the last (itself for other kinds).
    func returningSequences(_ sequences: Bool) -> LayerSpec {
        switch self {
        case .lstm(let units, _, let dropout, let recurrentDropout):
            .lstm(units: units, returnSequences: sequences, dropout: dropout, recurrentDropout: recurrentDropout)
        case .gru(let units, _): .gru(units: units, returnSequences: sequences)
        case .bidirectional(let inner): .bidirectional(inner.returningSequences(sequences))
        default: self
        }
    }

    var returnsSequences: Bool {
        switch self {
        case .lstm(_, let sequences, _, _), .gru(_, let sequences): sequences
        case .bidirectional(let inner): inner.returnsSequences
        default: false
        }
    }

    /// `layers` with only the first `count` of its recurrent layers (at least one): the later
    /// ones are left out, and the last one kept returns what the stack's last returned, so
    /// the layers after the stack read the same shape.
    public static func keepingRecurrentLayers(_ count: Int, of layers: [LayerSpec]) -> [LayerSpec] {
        let positions = layers.indices.filter { layers[$0].isRecurrent }
        guard count >= 1, count < positions.count else { return layers }
        let lastKept = positions[count - 1]
        var kept = layers
        kept[lastKept] = layers[lastKept].returningSequences(layers[positions[positions.count - 1]].returnsSequences)
        let dropped = Set(positions[count...])
        return kept.indices.filter { !dropped.contains($0) }.map { kept[$0] }
    }
}
