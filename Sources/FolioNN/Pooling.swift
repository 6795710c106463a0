import CFolioKernels
import FolioCore

/// Pooling over the steps of `[batch, steps, features]` to `[batch, features]`, counting
/// only each row's valid steps (its length): padding never changes a result. A row of
/// length 0 pools to zeros.
///
/// The summing kinds take optional per-step weights `w` (`[batch * steps]`, TensorFlow's
/// weighted embedding combiners): the mean is `Σ w·x / Σ w`, sqrtn `Σ w·x / √(Σ w²)`. With
/// a bag's TF-IDF weights (one step per distinct id) sqrtn pools the L2-normalized TF-IDF
/// vector through the embedding. Without weights every step weighs 1, bit for bit.
public final class GlobalPooling1D {
    public enum Kind: String, Sendable, Codable {
        case average, max
        /// The sum over a row's `n` valid steps divided by `√n` (TensorFlow's embedding
        /// combiner `"sqrtn"`). Over embeddings of a bag of tokens, the mean weighs the bag's
        /// counts L1-normalized; `√n` keeps a bag of `n` distinct tokens at unit L2 norm,
        /// which linear text classifiers (TF-IDF with logistic regression) favour.
        case sqrtN = "sqrtn"
    }
    public let kind: Kind
    private var shape: [Int] = []
    private var lengths: [Int32] = []
    private var weights: [Float]?
    private var divisors: [Float] = []  // summing kinds: per row
    /// The ids a training pass over the table read (``forward(table:features:ids:rows:steps:lengths:weights:keepsForBackward:)``).
    private(set) var bagIDs: [UInt32] = []
    /// The ranks' deal of the table's rows in the last training pass over it (nil: all here).
    private var shard: RowShard?
    private var argmax: [Int] = []  // for max: the step chosen per (row, feature)

    public init(_ kind: Kind) { self.kind = kind }

    /// - Precondition: `weights`, when given, hold one value per step and `kind` is not max
    ///   (``Sequential`` checks both before it gets here).
    public func forward(_ input: Tensor, lengths: [Int32], weights: [Float]? = nil) -> Tensor {
        let (batch, steps, features) = (input.shape[0], input.shape[1], input.shape[2])
        precondition(weights == nil || (kind != .max && weights?.count == batch * steps), "weights: one per step, summing kinds only")
        shape = input.shape
        self.lengths = lengths
        self.weights = weights
        divisors = [Float](repeating: 0, count: batch)
        argmax = [Int](repeating: -1, count: batch * features)
        var output = Tensor(zeros: [batch, features])
        for b in 0..<batch {
            let valid = min(steps, Int(lengths[b]))
            guard valid > 0 else { continue }
            if kind == .max {
                for f in 0..<features {
                    var best = 0
                    for t in 1..<valid where input.values[(b * steps + t) * features + f] > input.values[(b * steps + best) * features + f] {
                        best = t
                    }
                    argmax[b * features + f] = best
                    output.values[b * features + f] = input.values[(b * steps + best) * features + f]
                }
                continue
            }
            divisors[b] = divisor(fromStatistic: divisorStatistic(row: b, steps: steps, valid: valid))
            // A row whose weights are all 0 pools to zeros rather than 0/0.
            guard divisors[b] > 0 else { continue }
            for f in 0..<features {
                var sum: Float = 0
                if let weights {
                    for t in 0..<valid { sum += weights[b * steps + t] * input.values[(b * steps + t) * features + f] }
                } else {
                    for t in 0..<valid { sum += input.values[(b * steps + t) * features + f] }
                }
                output.values[b * features + f] = sum / divisors[b]
            }
        }
        return output
    }

    /// Pooling over an embedding table directly (PyTorch's `EmbeddingBag`): what
    /// ``forward(_:lengths:weights:)`` gives for the table's rows of `ids`, without building
    /// the `[rows, length, features]` copy of them. Each output row accumulates whole table
    /// rows in step order, the same sums in the same order as the forward's, so the two
    /// agree bit for bit (a test holds them to it). With `keepsForBackward` (summing kinds
    /// only) it keeps what its backward needs (``tablePass``).
    ///
    /// With a `shard` (training, summing kinds) `ids` hold only this rank's rows (see
    /// ``RowShard``): the partial sums and each row's partial divisor statistic are summed
    /// across ranks before the division, so every rank gets the same output.
    public func forward(
        table: UnsafePointer<Float>, features: Int, ids: [UInt32], rows: Int, steps: Int, lengths: [Int32], weights: [Float]?,
        keepsForBackward: Bool = false, shard: RowShard? = nil
    ) throws(FolioError) -> Tensor {
        precondition(!keepsForBackward || kind != .max, "the fused backward is for summing kinds")
        precondition(shard == nil || keepsForBackward, "a sharded table is pooled in training only")
        self.weights = weights
        self.shard = shard
        // Summing kinds divide each row by a function of a statistic of its steps (their
        // count, the sum of their weights or of their squares), which sums across ranks.
        var statistics = [Float](repeating: 0, count: rows)
        var output = Tensor(zeros: [rows, features])
        output.values.withUnsafeMutableBufferPointer { output in
            for b in 0..<rows {
                let valid = min(steps, Int(lengths[b]))
                guard valid > 0 else { continue }
                let out = output.baseAddress! + b * features
                if kind == .max {
                    out.update(from: table + Int(ids[b * steps]) * features, count: features)
                    for t in 1..<valid {
                        let row = table + Int(ids[b * steps + t]) * features
                        for f in 0..<features where row[f] > out[f] { out[f] = row[f] }
                    }
                    continue
                }
                statistics[b] = divisorStatistic(row: b, steps: steps, valid: valid)
                guard statistics[b] > 0 || shard != nil else { continue }
                for t in 0..<valid {
                    if t + RowPrefetch.distance < valid { folio_prefetch_row(table + Int(ids[b * steps + t + RowPrefetch.distance]) * features, Int32(features)) }
                    let row = table + Int(ids[b * steps + t]) * features
                    if let weights {
                        let w = weights[b * steps + t]
                        for f in 0..<features { out[f] += w * row[f] }
                    } else {
                        for f in 0..<features { out[f] += row[f] }
                    }
                }
            }
        }
        if let shard {
            try output.values.withUnsafeMutableBufferPointer { values throws(FolioError) in try shard.sumAcrossRanks(values, statistics: &statistics) }
        }
        // Max rows keep statistics of 0, and so divisors of 0, which nothing reads.
        let rowDivisors = statistics.map(divisor(fromStatistic:))
        if kind != .max {
            for b in 0..<rows {
                // A row without weight is left at zero, as one process leaves it.
                let divisor = rowDivisors[b]
                for f in 0..<features { output.values[b * features + f] = divisor > 0 ? output.values[b * features + f] / divisor : 0 }
            }
        }
        if keepsForBackward {
            (shape, self.lengths, bagIDs, divisors) = ([rows, steps, features], lengths, ids, rowDivisors)
        } else {
            self.weights = nil
        }
        return output
    }

    /// The ids whose rows the last training pass over the table read and this rank owns
    /// (every id without a shard), padding included: the rows its backward adds to. (A
    /// shard's batch holds its own ids, but pads with 0, another rank's row.)
    var ownedBagIDs: [UInt32] {
        guard let shard else { return bagIDs }
        return bagIDs.filter { shard.deal.owns($0) }
    }

    /// What the last training pass over the table keeps for its backward.
    var tablePass: TablePass { TablePass(shape: shape, lengths: lengths, weights: weights, divisors: divisors, ids: bagIDs) }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let (batch, steps, features) = (shape[0], shape[1], shape[2])
        var inputGradient = Tensor(zeros: shape)
        for b in 0..<batch {
            let valid = min(steps, Int(lengths[b]))
            guard valid > 0 else { continue }
            if kind == .max {
                for f in 0..<features {
                    inputGradient.values[(b * steps + argmax[b * features + f]) * features + f] = outputGradient.values[b * features + f]
                }
                continue
            }
            guard divisors[b] > 0 else { continue }
            for t in 0..<valid {
                let weight = weights?[b * steps + t] ?? 1
                for f in 0..<features {
                    inputGradient.values[(b * steps + t) * features + f] = outputGradient.values[b * features + f] * weight / divisors[b]
                }
            }
        }
        return inputGradient
    }

    /// Row `b`'s count of valid steps, or the sum of their weights (sqrtN: of their squares):
    /// what ``divisor(fromStatistic:)`` turns into the row's divisor, and what ranks that
    /// deal a table's rows sum before it does.
    private func divisorStatistic(row b: Int, steps: Int, valid: Int) -> Float {
        guard let weights else { return Float(valid) }
        var total: Float = 0
        for t in 0..<valid { total += kind == .sqrtN ? weights[b * steps + t] * weights[b * steps + t] : weights[b * steps + t] }
        return total
    }

    /// What a summing kind divides a row's (weighted) sum by: the weights' sum for the mean,
    /// their L2 norm for sqrtn; unweighted, `valid` and `√valid` exactly.
    private func divisor(fromStatistic statistic: Float) -> Float { kind == .sqrtN ? statistic.squareRoot() : statistic }
}

extension GlobalPooling1D {
    /// What a training pass over the table keeps for its backward: the batch's `[rows, steps,
    /// features]`, lengths, per-step weights, per-row divisors and ids. A value, so that a
    /// step of several micro-batches can keep one per micro-batch until it updates the table.
    struct TablePass {
        let shape: [Int]
        let lengths: [Int32]
        let weights: [Float]?
        let divisors: [Float]
        let ids: [UInt32]

        /// Marks the ids of the rows the backward adds to: each row's valid steps (with a row
        /// shard, this rank's ids, all of them).
        func markUpdatedIDs(in marks: inout RowMarks) {
            let (rows, steps) = (shape[0], shape[1])
            for b in 0..<rows where divisors[b] > 0 { marks.insert(ids[b * steps..<b * steps + min(steps, Int(lengths[b]))]) }
        }

        /// The backward of a training pass over the table: each valid step's share of its row's
        /// output gradient added straight to the step's table row in `gradients`, the values
        /// ``backward(_:)`` and ``Embedding/addGradient(_:arena:)`` add one after the other
        /// (`g * w / divisor`), in the same order, without their two `[rows, steps, features]`
        /// tensors (a bag model's training spent a fifth of its time making and filling them).
        /// `scale` multiplies each share (1 leaves it exact): `-learningRate` with the table's
        /// values for `gradients` is plain SGD's update of each row as its share is computed.
        func backward(_ outputGradient: Tensor, intoTable gradients: UnsafeMutablePointer<Float>, scale: Float = 1) {
            let (batch, steps, features) = (shape[0], shape[1], shape[2])
            outputGradient.values.withUnsafeBufferPointer { upstream in
                for b in 0..<batch {
                    let valid = min(steps, Int(lengths[b]))
                    guard valid > 0, divisors[b] > 0 else { continue }
                    let from = upstream.baseAddress! + b * features
                    for t in 0..<valid {
                        if t + RowPrefetch.distance < valid { folio_prefetch_row(gradients + Int(ids[b * steps + t + RowPrefetch.distance]) * features, Int32(features)) }
                        let id = ids[b * steps + t]
                        let weight = weights?[b * steps + t] ?? 1
                        let to = gradients + Int(id) * features
                        for f in 0..<features { to[f] += from[f] * weight / divisors[b] * scale }
                    }
                }
            }
        }
    }
}

/// Element-wise activations, Keras's names.
public final class Activation {
    public enum Function: String, Sendable, Codable, CaseIterable { case linear, relu, tanh, sigmoid, softmax }
    public let function: Function
    private var output: Tensor = Tensor(zeros: [0])
    private var input: Tensor = Tensor(zeros: [0])

    public init(_ function: Function) { self.function = function }

    /// Softmax runs over the last dimension.
    public func forward(_ input: Tensor) -> Tensor {
        self.input = input
        var output = input
        switch function {
        case .linear: break
        case .relu: for i in output.values.indices { output.values[i] = max(0, output.values[i]) }
        case .tanh: output.values.withUnsafeMutableBufferPointer { Activations.apply(Activations.tanh, to: $0) }
        case .sigmoid: output.values.withUnsafeMutableBufferPointer { Activations.apply(Activations.sigmoid, to: $0) }
        case .softmax:
            let width = input.shape.last ?? 1
            for row in 0..<(input.count / max(1, width)) {
                let range = row * width..<(row + 1) * width
                let shift = output.values[range].max() ?? 0
                var sum: Float = 0
                for i in range { output.values[i] = Activations.exp(output.values[i] - shift); sum += output.values[i] }
                for i in range { output.values[i] /= sum }
            }
        }
        self.output = output
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        var gradient = outputGradient
        switch function {
        case .linear: break
        case .relu: for i in gradient.values.indices where input.values[i] <= 0 { gradient.values[i] = 0 }
        case .tanh: for i in gradient.values.indices { gradient.values[i] *= 1 - output.values[i] * output.values[i] }
        case .sigmoid: for i in gradient.values.indices { gradient.values[i] *= output.values[i] * (1 - output.values[i]) }
        case .softmax:
            let width = output.shape.last ?? 1
            for row in 0..<(output.count / max(1, width)) {
                let range = row * width..<(row + 1) * width
                let dot = range.reduce(Float(0)) { $0 + outputGradient.values[$1] * output.values[$1] }
                for i in range { gradient.values[i] = output.values[i] * (outputGradient.values[i] - dot) }
            }
        }
        return gradient
    }
}

/// Inverted dropout (Keras's `Dropout(rate)`): in training, each value is zeroed with
/// probability `rate` and the rest scaled by 1 / (1 - rate); at inference it is the
/// identity. The mask comes from (seed, call): the same seed gives the same masks.
public final class Dropout {
    public let rate: Float
    private var random: SplitMixSource
    private var mask: [Float] = []

    public init(rate: Float, seed: UInt64) {
        self.rate = rate
        random = SplitMixSource(seed: seed ^ 0xD80_9047)
    }

    /// Restarts the mask stream: the masks of a step then depend on nothing but the seed.
    public func restart(seed: UInt64) { random = SplitMixSource(seed: seed) }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        guard training && rate > 0 else {
            mask = []
            return input
        }
        let keep = 1 / (1 - rate)
        mask = (0..<input.count).map { _ in random.unit() < Double(rate) ? 0 : keep }
        var output = input
        for i in output.values.indices { output.values[i] *= mask[i] }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        guard !mask.isEmpty else { return outputGradient }
        var gradient = outputGradient
        for i in gradient.values.indices { gradient.values[i] *= mask[i] }
        return gradient
    }
}

extension GlobalPooling1D: SequentialLayer {
    /// `[steps, features]` to `[features]`; keeps a row's divisor or chosen steps.
    static func facts(_ kind: Kind, input: LayerShape) throws(FolioError) -> LayerFacts {
        _ = try input.requireSteps()
        return LayerFacts(output: LayerShape(steps: nil, features: input.features), keptFloats: input.features) { _ in GlobalPooling1D(kind) }
    }

    func forward(_ x: Tensor, _ pass: inout ForwardPass) -> Tensor { forward(x, lengths: pass.lengths, weights: pass.batch.weights) }
    func backward(_ outputGradient: Tensor, arena: ParameterArena) -> Tensor { backward(outputGradient) }
}

extension Activation: SequentialLayer {
    /// Any shape to the same; keeps its input.
    static func facts(_ function: Function, input: LayerShape) -> LayerFacts {
        LayerFacts(output: input, keptFloats: input.floats) { _ in Activation(function) }
    }

    func forward(_ x: Tensor, _ pass: inout ForwardPass) -> Tensor { forward(x) }
    func backward(_ outputGradient: Tensor, arena: ParameterArena) -> Tensor { backward(outputGradient) }
}

extension Dropout: SequentialLayer {
    /// Any shape to the same; keeps its mask. Its masks are named by the model's seed and
    /// the layer's index.
    static func facts(rate: Float, input: LayerShape) throws(FolioError) -> LayerFacts {
        try LayerFacts.rate(rate, "rate")
        return LayerFacts(output: input, keptFloats: input.floats) { building in
            Dropout(rate: rate, seed: building.seed ^ UInt64(building.index))
        }
    }

    func forward(_ x: Tensor, _ pass: inout ForwardPass) -> Tensor { forward(x, training: pass.training) }
    func backward(_ outputGradient: Tensor, arena: ParameterArena) -> Tensor { backward(outputGradient) }
    func restartMasks(seed: UInt64) { restart(seed: seed) }
}
