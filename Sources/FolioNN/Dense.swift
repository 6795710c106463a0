/// `y = x W + b` over `[rows, inputDim]`, Keras's `Dense` with a linear activation (use
/// the loss's `fromLogits` for softmax).
///
/// Its products are Folio's own kernels (``AffineProduct``), not OpenBLAS's: with the LSTM's,
/// they make a model train to the same bits on any machine that runs the same path.
public final class Dense {
    public let inputDim: Int
    public let units: Int
    public let kernel: ParameterView
    public let bias: ParameterView
    /// The kernels its products run on (``KernelSet/selected`` unless set).
    public var kernels = KernelSet.selected
    private var input: [Float] = []
    private var inputShape: [Int] = []
    private var rows = 0

    public static func layout(prefix: String, inputDim: Int, units: Int) -> [(name: String, shape: [Int])] {
        [(prefix + ".kernel", [inputDim, units]), (prefix + ".bias", [units])]
    }

    public init(inputDim: Int, units: Int, arena: ParameterArena, prefix: String) {
        self.inputDim = inputDim
        self.units = units
        kernel = arena.view(prefix + ".kernel")!
        bias = arena.view(prefix + ".bias")!
    }

    public func initialize(arena: ParameterArena, random: inout SplitMixSource) {
        let limit = Float((6.0 / Double(inputDim + units)).squareRoot())
        let values = arena.values(of: kernel)
        for index in values.indices { values[index] = (Float(random.unit()) * 2 - 1) * limit }
    }

    /// Applies to the last dimension: `[..., inputDim]` to `[..., units]` (Keras's rule).
    public func forward(_ input: Tensor, arena: ParameterArena) -> Tensor {
        rows = input.count / inputDim
        self.input = input.values
        inputShape = input.shape
        var output = Tensor(uninitialized: Array(input.shape.dropLast()) + [units])  // the product writes every element
        input.values.withUnsafeBufferPointer { x in
            output.values.withUnsafeMutableBufferPointer { y in
                AffineProduct.forward(rows: rows, inputDim: inputDim, units: units, x.baseAddress!, kernel: arena.values(of: kernel).baseAddress!,
                                      bias: arena.values(of: bias).baseAddress!, into: y.baseAddress!, kernels: kernels)
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor, arena: ParameterArena) -> Tensor {
        var inputGradient = Tensor(uninitialized: inputShape)  // dx = dy W^T writes every element
        input.withUnsafeBufferPointer { x in
            outputGradient.values.withUnsafeBufferPointer { dy in
                inputGradient.values.withUnsafeMutableBufferPointer { dx in
                    AffineProduct.backward(rows: rows, inputDim: inputDim, units: units, x.baseAddress!, dy: dy.baseAddress!,
                                           kernel: arena.values(of: kernel).baseAddress!, kernelGradient: arena.gradients(of: kernel).baseAddress!,
                                           dx: dx.baseAddress!, kernels: kernels)
                }
            }
        }
        let biasGradient = arena.gradients(of: bias)
        for row in 0..<rows { for j in 0..<units { biasGradient[j] += outputGradient.values[row * units + j] } }
        return inputGradient
    }
}

/// Token ids to vectors: a table `[inputDim, outputDim]`, Keras's `Embedding`.
public final class Embedding {
    public let inputDim: Int
    public let outputDim: Int
    public let table: ParameterView
    /// False: the table is left as it is (pretrained vectors kept fixed, Keras's
    /// `trainable = False`); see ``Sequential/freezeEmbedding()``.
    public internal(set) var trainable = true
    private var ids: [UInt32] = []
    private var extra: PositionIDs?

    public static func layout(prefix: String, inputDim: Int, outputDim: Int) -> [(name: String, shape: [Int])] {
        [(prefix + ".weight", [inputDim, outputDim])]
    }

    public init(inputDim: Int, outputDim: Int, arena: ParameterArena, prefix: String) {
        self.inputDim = inputDim
        self.outputDim = outputDim
        table = arena.view(prefix + ".weight")!
    }

    /// Keras's default: uniform in [-0.05, 0.05].
    public func initialize(arena: ParameterArena, random: inout SplitMixSource) {
        let values = arena.values(of: table)
        for index in values.indices { values[index] = (Float(random.unit()) * 2 - 1) * 0.05 }
    }

    /// Refuses ids at or beyond `inputDim`, naming the first, and extra ids that do not fit the batch.
    func check(_ batch: TokenBatch) throws(FolioError) {
        if let position = batch.ids.firstIndex(where: { Int($0) >= inputDim }) {
            throw FolioError("Embedding: token id \(batch.ids[position]) at row \(position / batch.length), position \(position % batch.length) is outside 0..<\(inputDim)")
        }
        if let extra = batch.extraIDs {
            guard extra.offsets.count == batch.ids.count + 1, extra.offsets.first == 0, extra.offsets.last == Int32(extra.ids.count),
                  zip(extra.offsets, extra.offsets.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                throw FolioError("Embedding: the extra ids' offsets do not fit a batch of \(batch.rows) x \(batch.length)")
            }
            if let bad = extra.ids.first(where: { Int($0) >= inputDim }) {
                throw FolioError("Embedding: extra id \(bad) is outside 0..<\(inputDim)")
            }
        }
    }

    /// `[rows, length]` ids to `[rows, length, outputDim]`. Ids must be below `inputDim`.
    /// With ``TokenBatch/extraIDs``, a position's vector is the mean of its token's row and
    /// its extra ids' rows.
    public func forward(_ batch: TokenBatch, arena: ParameterArena) throws(FolioError) -> Tensor {
        try check(batch)
        ids = batch.ids
        extra = batch.extraIDs
        let table = UnsafePointer(arena.values(of: table).baseAddress!)
        let outputDim = outputDim
        var output = Tensor(uninitialized: [batch.rows, batch.length, outputDim])  // every row a copy of a table row
        output.values.withUnsafeMutableBufferPointer { output in
            for (position, id) in batch.ids.enumerated() {
                (output.baseAddress! + position * outputDim).update(from: table + Int(id) * outputDim, count: outputDim)
            }
            guard let extra = batch.extraIDs else { return }
            for position in batch.ids.indices {
                let range = Int(extra.offsets[position])..<Int(extra.offsets[position + 1])
                guard !range.isEmpty else { continue }
                let to = output.baseAddress! + position * outputDim
                for index in range {
                    let from = table + Int(extra.ids[index]) * outputDim
                    for j in 0..<outputDim { to[j] += from[j] }
                }
                let scale = 1 / Float(range.count + 1)
                for j in 0..<outputDim { to[j] *= scale }
            }
        }
        return output
    }

    /// The gradient of a bag pooled straight from the table (a training pass through
    /// ``GlobalPooling1D/forward(table:features:ids:rows:steps:lengths:weights:keepsForBackward:)``),
    /// given the pooled output's gradient: touches the ids the pooling read, as
    /// ``addGradient(_:arena:)`` touches a forward's (padding included); with a sharded
    /// table, only the ids of this rank's rows.
    func addGradient(pooledBy pool: GlobalPooling1D, _ outputGradient: Tensor, arena: ParameterArena) {
        guard trainable else { return }
        arena.touch(rows: pool.ownedBagIDs.lazy.map { Int($0) }, regionAt: table.offset)
        pool.tablePass.backward(outputGradient, intoTable: arena.gradients(of: table).baseAddress!)
    }

    /// Plain SGD's update of the rows a bag pooled straight from the table read
    /// (``Sequential/updatesTableInBackward``): `w -= rate * g` share by share, in the order
    /// ``addGradient(pooledBy:_:arena:)`` sums them, without touching a row, so that the
    /// optimizer's step passes over none of the table.
    func update(_ pass: GlobalPooling1D.TablePass, _ outputGradient: Tensor, rate: Float, arena: ParameterArena) {
        guard trainable else { return }
        pass.backward(outputGradient, intoTable: arena.values(of: table).baseAddress!, scale: -rate)
    }

    /// Adds the output's gradient to the rows of the ids the last forward read.
    public func addGradient(_ outputGradient: Tensor, arena: ParameterArena) {
        guard trainable else { return }
        let gradients = arena.gradients(of: table)
        arena.touch(rows: ids.lazy.map { Int($0) }, regionAt: table.offset)
        let outputDim = outputDim
        let (offsets, extraIDs) = (extra?.offsets, extra?.ids ?? [])
        arena.touch(rows: extraIDs.lazy.map { Int($0) }, regionAt: table.offset)
        outputGradient.values.withUnsafeBufferPointer { upstream in
            // A mean of n + 1 rows passes each of them 1 / (n + 1) of the gradient (without
            // extra ids n is 0, and the scale of 1 leaves the gradient exactly as it is).
            for (position, id) in ids.enumerated() {
                let range = offsets.map { Int($0[position])..<Int($0[position + 1]) } ?? 0..<0
                let scale = 1 / Float(range.count + 1)
                let from = upstream.baseAddress! + position * outputDim
                var to = gradients.baseAddress! + Int(id) * outputDim
                for j in 0..<outputDim { to[j] += from[j] * scale }
                for index in range {
                    to = gradients.baseAddress! + Int(extraIDs[index]) * outputDim
                    for j in 0..<outputDim { to[j] += from[j] * scale }
                }
            }
        }
    }
}

import FolioCore

extension Dense: SequentialLayer {
    /// `units` outputs per step of `input`, from `[inputDim, units]` weights and a bias;
    /// keeps its input for the kernel's gradient.
    static func facts(units: Int, input: LayerShape, prefix: String) throws(FolioError) -> LayerFacts {
        try LayerFacts.atLeastOne(units, "units")
        let inputDim = input.features
        return LayerFacts(parameters: layout(prefix: prefix, inputDim: inputDim, units: units), output: input.with(features: units),
                          keptFloats: input.floats) { building in
            let layer = Dense(inputDim: inputDim, units: units, arena: building.arena, prefix: prefix)
            building.initialize(layer.initialize)
            return layer
        }
    }

    func forward(_ x: Tensor, _ pass: inout ForwardPass) -> Tensor { forward(x, arena: pass.arena) }

    func use(_ kernels: KernelSet) { self.kernels = kernels }
}

extension Embedding: SequentialLayer {
    /// The first layer: `[steps]` ids to `[steps, outputDim]`; keeps the ids.
    static func facts(outputDim: Int, vocabulary: Int, input: LayerShape, prefix: String) throws(FolioError) -> LayerFacts {
        try LayerFacts.atLeastOne(outputDim, "output_dim")
        guard input.features == 0 else { throw FolioError("an Embedding must come first") }
        return LayerFacts(parameters: layout(prefix: prefix, inputDim: vocabulary, outputDim: outputDim), output: input.with(features: outputDim),
                          keptFloats: input.floats) { building in
            let layer = Embedding(inputDim: vocabulary, outputDim: outputDim, arena: building.arena, prefix: prefix)
            building.initialize(layer.initialize)
            return layer
        }
    }

    func forward(_ x: Tensor, _ pass: inout ForwardPass) throws(FolioError) -> Tensor { try forward(pass.batch, arena: pass.arena) }

    func backward(_ outputGradient: Tensor, arena: ParameterArena) -> Tensor {
        addGradient(outputGradient, arena: arena)
        return Tensor(zeros: [0])  // ids have no gradient
    }
}
