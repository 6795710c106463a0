import FolioCore

/// Keras's `Bidirectional` with `merge_mode="concat"` over an LSTM or GRU: one layer reads
/// each row forwards, the other reads the row's valid steps backwards (padding stays at
/// the end, as PyTorch's packed sequences do), and their outputs are concatenated,
/// `[forward, backward]`. With `returnSequences` the backward outputs are put back in
/// step order, so output step t sees the whole row from both sides.
public final class Bidirectional {
    public enum Recurrent {
        case lstm(LSTM)
        case gru(GRU)

        var units: Int { switch self { case .lstm(let l): l.units; case .gru(let g): g.units } }
        var returnSequences: Bool { switch self { case .lstm(let l): l.returnSequences; case .gru(let g): g.returnSequences } }

        func forward(_ x: Tensor, lengths: [Int32], arena: ParameterArena, training: Bool, keepsCaches: Bool) -> Tensor {
            switch self {
            case .lstm(let l): l.forward(x, lengths: lengths, arena: arena, training: training, keepsCaches: keepsCaches)
            case .gru(let g): g.forward(x, lengths: lengths, arena: arena)
            }
        }

        func backward(_ g: Tensor, arena: ParameterArena) -> Tensor {
            switch self {
            case .lstm(let l): l.backward(g, arena: arena)
            case .gru(let layer): layer.backward(g, arena: arena)
            }
        }
    }

    public let forwardLayer: Recurrent
    public let backwardLayer: Recurrent
    private var lengths: [Int32] = []

    public init(forward: Recurrent, backward: Recurrent) {
        forwardLayer = forward
        backwardLayer = backward
    }

    /// Each row's first `length` steps in reverse order; the rest unchanged.
    static func reverseValidSteps(_ x: Tensor, lengths: [Int32]) -> Tensor {
        Tensor(shape: x.shape, values: reverseValidSteps(x.values, steps: x.shape[1], features: x.shape[2], lengths: lengths))
    }

    /// ``reverseValidSteps(_:lengths:)`` of rows of `steps` x `features` values of any kind (token ids too).
    static func reverseValidSteps<Value>(_ values: [Value], steps: Int, features: Int, lengths: [Int32]) -> [Value] {
        var result = values
        for b in lengths.indices {
            let valid = min(steps, Int(lengths[b]))
            for t in 0..<valid {
                let from = (b * steps + valid - 1 - t) * features
                result.replaceSubrange((b * steps + t) * features..<(b * steps + t + 1) * features, with: values[from..<from + features])
            }
        }
        return result
    }

    /// - Parameter keepsCaches: false for inference, when no backward follows (``LSTM``'s).
    public func forward(_ x: Tensor, lengths: [Int32], arena: ParameterArena, training: Bool = false, keepsCaches: Bool = true) -> Tensor {
        self.lengths = lengths
        let ahead = forwardLayer.forward(x, lengths: lengths, arena: arena, training: training, keepsCaches: keepsCaches)
        let behind = backwardLayer.forward(Bidirectional.reverseValidSteps(x, lengths: lengths), lengths: lengths, arena: arena,
                                           training: training, keepsCaches: keepsCaches)
        return merge(ahead, behind, lengths: lengths)
    }

    /// Prediction from token ids `[batch, steps]` over two LSTMs whose input projections are
    /// rows of `tables` (forward's, then backward's: ``ProjectedEmbedding``): the outputs of
    /// ``forward(_:lengths:arena:training:)`` on their embeddings, bit for bit.
    func forward(ids: [UInt32], tables: [[Float]], batch: Int, steps: Int, lengths: [Int32], arena: ParameterArena) -> Tensor {
        let halves = lstms
        precondition(halves.count == 2, "projected embeddings are read by LSTMs only")
        let (aheadLayer, behindLayer) = (halves[0], halves[1])
        self.lengths = lengths
        let ahead = aheadLayer.forward(ids: ids, table: tables[0], batch: batch, steps: steps, lengths: lengths, arena: arena)
        let behind = behindLayer.forward(ids: Bidirectional.reverseValidSteps(ids, steps: steps, features: 1, lengths: lengths), table: tables[1],
                                         batch: batch, steps: steps, lengths: lengths, arena: arena)
        return merge(ahead, behind, lengths: lengths)
    }

    /// The two directions' outputs side by side, the backward one's steps put back in order.
    private func merge(_ ahead: Tensor, _ behind: Tensor, lengths: [Int32]) -> Tensor {
        concatenate(ahead, forwardLayer.returnSequences ? Bidirectional.reverseValidSteps(behind, lengths: lengths) : behind)
    }

    public func backward(_ g: Tensor, arena: ParameterArena) -> Tensor {
        let (aheadGradient, behindGradient) = split(g)
        let fromAhead = forwardLayer.backward(aheadGradient, arena: arena)
        let upstream = forwardLayer.returnSequences ? Bidirectional.reverseValidSteps(behindGradient, lengths: lengths) : behindGradient
        let fromBehind = Bidirectional.reverseValidSteps(backwardLayer.backward(upstream, arena: arena), lengths: lengths)
        return Tensor(shape: fromAhead.shape, values: zip(fromAhead.values, fromBehind.values).map { $0 + $1 })
    }

    private func concatenate(_ a: Tensor, _ b: Tensor) -> Tensor {
        let width = a.shape.last!
        let rows = a.count / width
        var values: [Float] = []
        values.reserveCapacity(2 * a.count)
        for row in 0..<rows {
            values += a.values[row * width..<(row + 1) * width]
            values += b.values[row * width..<(row + 1) * width]
        }
        return Tensor(shape: Array(a.shape.dropLast()) + [2 * width], values: values)
    }

    private func split(_ g: Tensor) -> (Tensor, Tensor) {
        let width = g.shape.last! / 2
        let rows = g.count / (2 * width)
        var a: [Float] = [], b: [Float] = []
        for row in 0..<rows {
            a += g.values[row * 2 * width..<row * 2 * width + width]
            b += g.values[row * 2 * width + width..<(row + 1) * 2 * width]
        }
        let shape = Array(g.shape.dropLast()) + [width]
        return (Tensor(shape: shape, values: a), Tensor(shape: shape, values: b))
    }
}

extension Bidirectional: SequentialLayer {
    /// Two copies of `inner` (an LSTM or a GRU) under `prefix.forward` and `prefix.backward`;
    /// keeps both copies' caches and outputs, `2 * units` features out.
    static func facts(wrapping inner: LayerSpec, input: LayerShape, prefix: String) throws(FolioError) -> LayerFacts {
        let ahead = try inner.facts(input: input, prefix: prefix + ".forward", vocabulary: 0)
        let behind = try inner.facts(input: input, prefix: prefix + ".backward", vocabulary: 0)
        switch inner {
        case .lstm, .gru: break
        default: throw FolioError("Bidirectional wraps an LSTM or a GRU")
        }
        var facts = LayerFacts(parameters: ahead.parameters + behind.parameters, output: ahead.output.with(features: 2 * ahead.output.features),
                               keptFloats: 2 * ahead.keptFloats + 2 * ahead.output.floats) { building in
            Bidirectional(forward: Recurrent(ahead.build(&building)), backward: Recurrent(behind.build(&building)))
        }
        facts.releasedByBackward = true
        return facts
    }

    // Outside training no backward follows: the LSTMs keep only the steps they still need.
    func forward(_ x: Tensor, _ pass: inout ForwardPass) -> Tensor {
        forward(x, lengths: pass.lengths, arena: pass.arena, training: pass.training, keepsCaches: pass.training)
    }

    func restartMasks(seed: UInt64) {
        if case .lstm(let ahead) = forwardLayer { ahead.restartMasks(seed: seed) }
        if case .lstm(let behind) = backwardLayer { behind.restartMasks(seed: seed ^ 1) }
    }

    var lstms: [LSTM] {
        [forwardLayer, backwardLayer].compactMap { if case .lstm(let lstm) = $0 { lstm } else { nil } }
    }

    func use(_ kernels: KernelSet) {
        for half in [forwardLayer, backwardLayer] {
            switch half {
            case .lstm(let lstm): lstm.kernels = kernels
            case .gru(let gru): gru.kernels = kernels
            }
        }
    }
}

extension Bidirectional.Recurrent {
    /// A layer ``facts(wrapping:input:prefix:)`` built from an LSTM or GRU spec.
    init(_ layer: any SequentialLayer) {
        if let lstm = layer as? LSTM { self = .lstm(lstm) }
        else if let gru = layer as? GRU { self = .gru(gru) }
        else { preconditionFailure("Bidirectional.facts accepts only an LSTM or a GRU") }
    }
}
