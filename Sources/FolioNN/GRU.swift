import FolioCore

/// Gated recurrent unit over `[batch, steps, inputDim]`, in the formulation PyTorch and
/// Keras (`reset_after: true`, its default) share:
///
///     r = σ(x W_r + b_ir + h U_r + b_hr)     z = σ(x W_z + b_iz + h U_z + b_hz)
///     n = tanh(x W_n + b_in + r ⊙ (h U_n + b_hn))     h' = (1 - z) ⊙ n + z ⊙ h
///
/// Parameters, gates stacked r, z, n (PyTorch's order): `kernel` `[inputDim, 3 * units]`,
/// `recurrentKernel` `[units, 3 * units]`, `inputBias` and `recurrentBias` `[3 * units]`.
/// As ``LSTM``: one product projects every step's input before the time loop (on Folio's
/// kernels, as every product here is), and rows are masked by their lengths (padding never
/// changes an output or a gradient).
public final class GRU {
    public let inputDim: Int
    public let units: Int
    public let returnSequences: Bool
    /// Read each row's valid steps last to first (Keras's `go_backwards`); with
    /// `returnSequences` the outputs come in that reading order.
    public let goBackwards: Bool
    public let kernel: ParameterView
    public let recurrentKernel: ParameterView
    public let inputBias: ParameterView
    public let recurrentBias: ParameterView
    /// The kernels its products run on (``KernelSet/selected`` unless set).
    public var kernels = KernelSet.selected

    private var input: [Float] = []
    private var lengths: [Int32] = []
    private var batch = 0
    private var steps = 0
    // [steps, batch, ...]: activated r, z, n; the recurrent part of n before r; h.
    private var gates: [Float] = []
    private var recurrentN: [Float] = []
    private var hidden: [Float] = []

    public static func layout(prefix: String, inputDim: Int, units: Int) -> [(name: String, shape: [Int])] {
        [(prefix + ".kernel", [inputDim, 3 * units]), (prefix + ".recurrent_kernel", [units, 3 * units]),
         (prefix + ".input_bias", [3 * units]), (prefix + ".recurrent_bias", [3 * units])]
    }

    public init(
        inputDim: Int, units: Int, returnSequences: Bool = false, goBackwards: Bool = false, arena: ParameterArena, prefix: String
    ) {
        self.inputDim = inputDim
        self.units = units
        self.returnSequences = returnSequences
        self.goBackwards = goBackwards
        kernel = arena.view(prefix + ".kernel")!
        recurrentKernel = arena.view(prefix + ".recurrent_kernel")!
        inputBias = arena.view(prefix + ".input_bias")!
        recurrentBias = arena.view(prefix + ".recurrent_bias")!
    }

    public func initialize(arena: ParameterArena, random: inout SplitMixSource) {
        let limit = Float((6.0 / Double(inputDim + 3 * units)).squareRoot())
        let values = arena.values(of: kernel)
        for index in values.indices { values[index] = (Float(random.unit()) * 2 - 1) * limit }
        let orthogonal = Initializers.orthogonal(rows: units, columns: 3 * units, random: &random)
        let recurrent = arena.values(of: recurrentKernel)
        for index in recurrent.indices { recurrent[index] = orthogonal[index] }
    }

    public func forward(_ input: Tensor, lengths: [Int32], arena: ParameterArena) -> Tensor {
        let input = goBackwards ? Bidirectional.reverseValidSteps(input, lengths: lengths) : input
        let (batch, steps, units, width) = (input.shape[0], input.shape[1], units, 3 * units)
        (self.input, self.lengths, self.batch, self.steps) = (input.values, lengths, batch, steps)
        var projection = [Float](repeating: 0, count: batch * steps * width)
        let inputBias = arena.values(of: self.inputBias), recurrentBias = arena.values(of: self.recurrentBias)
        let kernels = kernels
        input.values.withUnsafeBufferPointer { x in
            projection.withUnsafeMutableBufferPointer { p in
                PackedMatrix(arena.values(of: kernel).baseAddress!, k: inputDim, n: width, ldb: width)
                    .multiply(m: batch * steps, x.baseAddress!, lda: inputDim, into: p.baseAddress!, ldc: width, accumulate: false, kernels: kernels)
            }
        }
        // Packed once for the pass, as the LSTM's is.
        let packedRecurrent = PackedMatrix(arena.values(of: recurrentKernel).baseAddress!, k: units, n: width, ldb: width)
        refill(&gates, zeros: steps * batch * width)
        refill(&recurrentN, zeros: steps * batch * units)
        refill(&hidden, zeros: steps * batch * units)
        var recurrentPart = [Float](repeating: 0, count: batch * width)
        for t in 0..<steps {
            if t > 0 {
                hidden.withUnsafeBufferPointer { h in
                    recurrentPart.withUnsafeMutableBufferPointer { q in
                        packedRecurrent.multiply(m: batch, h.baseAddress! + (t - 1) * batch * units, lda: units,
                                                 bias: UnsafePointer(recurrentBias.baseAddress!), into: q.baseAddress!, ldc: width,
                                                 accumulate: false, kernels: kernels)
                    }
                }
            } else {
                for b in 0..<batch { for j in 0..<width { recurrentPart[b * width + j] = recurrentBias[j] } }
            }
            projection.withUnsafeBufferPointer { projection in
                recurrentPart.withUnsafeBufferPointer { recurrentPart in
                    gates.withUnsafeMutableBufferPointer { gates in
                        recurrentN.withUnsafeMutableBufferPointer { recurrentN in
                            hidden.withUnsafeMutableBufferPointer { hidden in
                                forwardStep(t, batch: batch, steps: steps, lengths: lengths, projection: projection.baseAddress!,
                                            inputBias: inputBias.baseAddress!, recurrentPart: recurrentPart.baseAddress!,
                                            gates: gates.baseAddress!, recurrentN: recurrentN.baseAddress!, hidden: hidden.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
        return recurrentOutput(hidden: hidden, batch: batch, steps: steps, units: units, lengths: lengths, returnSequences: returnSequences)
    }

    /// The gates and the new state of step `t`, eight units at a time (``Activations/Vector``).
    private func forwardStep(
        _ t: Int, batch: Int, steps: Int, lengths: [Int32], projection: UnsafePointer<Float>, inputBias: UnsafePointer<Float>,
        recurrentPart: UnsafePointer<Float>, gates: UnsafeMutablePointer<Float>, recurrentN: UnsafeMutablePointer<Float>,
        hidden: UnsafeMutablePointer<Float>
    ) {
        let width = 3 * units
        for b in 0..<batch {
            let h = hidden + (t * batch + b) * units
            let previous: UnsafePointer<Float>? = t > 0 ? UnsafePointer(hidden + ((t - 1) * batch + b) * units) : nil
            guard t < Int(lengths[b]) else {
                if let previous { h.update(from: previous, count: units) } else { h.update(repeating: 0, count: units) }
                continue
            }
            let p = projection + (b * steps + t) * width, q = recurrentPart + b * width, g = gates + (t * batch + b) * width
            for j in stride(from: 0, to: units, by: 8) {
                let count = min(8, units - j)
                func load(_ pointer: UnsafePointer<Float>) -> Activations.Vector { Activations.load(pointer + j, count: count) }
                let r = Activations.sigmoid(load(p) + load(inputBias) + load(q))
                let z = Activations.sigmoid(load(p + units) + load(inputBias + units) + load(q + units))
                let recurrentNew = load(q + 2 * units)
                let n = Activations.tanh(load(p + 2 * units) + load(inputBias + 2 * units) + r * recurrentNew)
                Activations.store(r, g + j, count: count)
                Activations.store(z, g + units + j, count: count)
                Activations.store(n, g + 2 * units + j, count: count)
                Activations.store(recurrentNew, recurrentN + (t * batch + b) * units + j, count: count)
                let hPrevious = previous.map(load) ?? Activations.Vector()
                Activations.store((1 - z) * n + z * hPrevious, h + j, count: count)
            }
        }
    }

    public func backward(_ outputGradient: Tensor, arena: ParameterArena) -> Tensor {
        let (batch, steps, units, width) = (batch, steps, units, 3 * units)
        var dh = [Float](repeating: 0, count: batch * units)
        if !returnSequences { dh = outputGradient.values }
        var dInput = [Float](repeating: 0, count: batch * steps * width)   // rows b * steps + t
        var dRecurrent = [Float](repeating: 0, count: batch * width)
        var throughRecurrence = [Float](repeating: 0, count: batch * units)
        let kernels = kernels
        let recurrentTransposed = PackedMatrix(arena.values(of: recurrentKernel).baseAddress!, k: width, n: units, ldb: width,
                                               transposed: true)
        let recurrentGradient = arena.gradients(of: recurrentKernel)
        let recurrentBiasGradient = arena.gradients(of: recurrentBias)
        for t in stride(from: steps - 1, through: 0, by: -1) {
            for b in 0..<batch {
                guard t < Int(lengths[b]) else {
                    for j in 0..<width { dRecurrent[b * width + j] = 0 }
                    continue
                }
                if returnSequences { for j in 0..<units { dh[b * units + j] += outputGradient.values[(b * steps + t) * units + j] } }
                let g = (t * batch + b) * width, h = (t * batch + b) * units
                let previous = t > 0 ? ((t - 1) * batch + b) * units : -1
                for j in 0..<units {
                    let (r, z, n) = (gates[g + j], gates[g + units + j], gates[g + 2 * units + j])
                    let hPrevious = previous >= 0 ? hidden[previous + j] : 0
                    let d = dh[b * units + j]
                    let dnPre = d * (1 - z) * (1 - n * n)
                    let dzPre = d * (hPrevious - n) * z * (1 - z)
                    let drPre = dnPre * recurrentN[h + j] * r * (1 - r)
                    let row = (b * steps + t) * width
                    (dInput[row + j], dInput[row + units + j], dInput[row + 2 * units + j]) = (drPre, dzPre, dnPre)
                    (dRecurrent[b * width + j], dRecurrent[b * width + units + j], dRecurrent[b * width + 2 * units + j]) = (drPre, dzPre, dnPre * r)
                    dh[b * units + j] = d * z  // the direct path; the recurrent path is added below
                }
            }
            for b in 0..<batch where t < Int(lengths[b]) {
                for j in 0..<width { recurrentBiasGradient[j] += dRecurrent[b * width + j] }
            }
            guard t > 0 else { continue }
            dRecurrent.withUnsafeBufferPointer { dq in
                hidden.withUnsafeBufferPointer { hidden in
                    kernels.multiplyTransposed(m: units, n: width, k: batch, hidden.baseAddress! + (t - 1) * batch * units, lda: units,
                                               dq.baseAddress!, ldb: width, into: recurrentGradient.baseAddress!, ldc: width)
                }
                throughRecurrence.withUnsafeMutableBufferPointer { out in
                    recurrentTransposed.multiply(m: batch, dq.baseAddress!, lda: width, into: out.baseAddress!, ldc: units, accumulate: false,
                                                 kernels: kernels)
                }
            }
            for b in 0..<batch where t < Int(lengths[b]) {
                for j in 0..<units { dh[b * units + j] += throughRecurrence[b * units + j] }
            }
        }
        var inputGradient = Tensor(uninitialized: [batch, steps, inputDim])  // dx = dp W^T writes every element
        input.withUnsafeBufferPointer { x in
            dInput.withUnsafeBufferPointer { dp in
                inputGradient.values.withUnsafeMutableBufferPointer { dx in
                    AffineProduct.backward(rows: batch * steps, inputDim: inputDim, units: width, x.baseAddress!, dy: dp.baseAddress!,
                                           kernel: arena.values(of: kernel).baseAddress!,
                                           kernelGradient: arena.gradients(of: kernel).baseAddress!, dx: dx.baseAddress!, kernels: kernels)
                }
            }
        }
        let inputBiasGradient = arena.gradients(of: inputBias)
        for row in 0..<batch * steps { for j in 0..<width { inputBiasGradient[j] += dInput[row * width + j] } }
        return goBackwards ? Bidirectional.reverseValidSteps(inputGradient, lengths: lengths) : inputGradient
    }
}

/// A recurrent layer's output from its hidden states `[steps, batch, units]`: every valid
/// step (zeros after each row's length) or the state after the last valid step.
func recurrentOutput(hidden: [Float], batch: Int, steps: Int, units: Int, lengths: [Int32], returnSequences: Bool) -> Tensor {
    if !returnSequences {
        return Tensor(shape: [batch, units], values: steps == 0 ? [Float](repeating: 0, count: batch * units)
                      : Array(hidden[(steps - 1) * batch * units..<steps * batch * units]))
    }
    var output = Tensor(uninitialized: [batch, steps, units])  // valid steps copied, the rest zeroed
    output.values.withUnsafeMutableBufferPointer { output in
        hidden.withUnsafeBufferPointer { hidden in
            for b in 0..<batch {
                let valid = min(steps, Int(lengths[b]))
                for t in 0..<valid {
                    (output.baseAddress! + (b * steps + t) * units).update(from: hidden.baseAddress! + (t * batch + b) * units, count: units)
                }
                (output.baseAddress! + (b * steps + valid) * units).update(repeating: 0, count: (steps - valid) * units)
            }
        }
    }
    return output
}

extension GRU: SequentialLayer {
    /// `[steps, features]` to `[steps, units]` or `[units]`. Keeps its input (shared), three
    /// gates, the recurrent part of n and the hidden state per step, released by backward.
    static func facts(units: Int, returnSequences: Bool, input: LayerShape, prefix: String) throws(FolioError) -> LayerFacts {
        try LayerFacts.atLeastOne(units, "units")
        let steps = try input.requireSteps()
        let inputDim = input.features
        var facts = LayerFacts(parameters: layout(prefix: prefix, inputDim: inputDim, units: units),
                               output: LayerShape(steps: returnSequences ? steps : nil, features: units),
                               keptFloats: steps * (inputDim + 5 * units)) { building in
            let layer = GRU(inputDim: inputDim, units: units, returnSequences: returnSequences, arena: building.arena, prefix: prefix)
            building.initialize(layer.initialize)
            return layer
        }
        facts.releasedByBackward = true
        facts.keepsInput = true
        return facts
    }

    func forward(_ x: Tensor, _ pass: inout ForwardPass) -> Tensor { forward(x, lengths: pass.lengths, arena: pass.arena) }

    func use(_ kernels: KernelSet) { self.kernels = kernels }
}
