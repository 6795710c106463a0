import Foundation

/// Long short-term memory over `[batch, steps, inputDim]`, Keras's `LSTM` (one layer;
/// stack them for more).
///
/// Parameters, gates stacked in the order i, f, g, o (as PyTorch and Keras):
/// - `kernel` `[inputDim, 4 * units]`, glorot-uniform;
/// - `recurrentKernel` `[units, 4 * units]`, orthogonal;
/// - `bias` `[4 * units]`, zeros but the forget gate's, 1.
///
/// The input projection for all steps is one GEMM before the time loop (`[batch * steps,
/// inputDim] x [inputDim, 4 * units]`); each step adds `h[t-1] x recurrentKernel`. Rows
/// are masked by their lengths: at a padded step a row's `h` and `c` carry over unchanged,
/// its outputs are zero, and nothing flows back through it, so padding never changes an
/// output or a gradient.
///
/// Output: `[batch, steps, units]` with `returnSequences`, else `[batch, units]`, the state
/// after each row's last valid step.
public final class LSTM {
    public let inputDim: Int
    public let units: Int
    public let returnSequences: Bool
    public let kernel: ParameterView
    public let recurrentKernel: ParameterView
    public let bias: ParameterView

    // Saved by forward for backward: inputs, activated gates, cells and hidden states per
    // step, all [steps, batch, ...] so that each step's rows are contiguous for the GEMMs.
    private var input: [Float] = []
    private var lengths: [Int32] = []
    private var batch = 0
    private var steps = 0
    private var gates: [Float] = []
    private var cells: [Float] = []
    private var hidden: [Float] = []

    /// The arena layout this layer needs, under `prefix` (e.g. `lstm.0`).
    public static func layout(prefix: String, inputDim: Int, units: Int) -> [(name: String, shape: [Int])] {
        [(prefix + ".kernel", [inputDim, 4 * units]), (prefix + ".recurrent_kernel", [units, 4 * units]),
         (prefix + ".bias", [4 * units])]
    }

    public init(inputDim: Int, units: Int, returnSequences: Bool = false, arena: ParameterArena, prefix: String) {
        self.inputDim = inputDim
        self.units = units
        self.returnSequences = returnSequences
        kernel = arena.view(prefix + ".kernel")!
        recurrentKernel = arena.view(prefix + ".recurrent_kernel")!
        bias = arena.view(prefix + ".bias")!
    }

    /// Keras's initializers: glorot-uniform kernel, orthogonal recurrent kernel (per gate
    /// block), forget-gate bias 1.
    public func initialize(arena: ParameterArena, random: inout SplitMixSource) {
        let limit = Float((6.0 / Double(inputDim + 4 * units)).squareRoot())
        let kernelValues = arena.values(of: kernel)
        for index in kernelValues.indices { kernelValues[index] = (Float(random.unit()) * 2 - 1) * limit }
        let recurrent = arena.values(of: recurrentKernel)
        let orthogonal = Initializers.orthogonal(rows: units, columns: 4 * units, random: &random)
        for index in recurrent.indices { recurrent[index] = orthogonal[index] }
        let biasValues = arena.values(of: bias)
        for index in biasValues.indices { biasValues[index] = index >= units && index < 2 * units ? 1 : 0 }
    }

    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// - Parameters: `input` `[batch, steps, inputDim]`; `lengths` per row (0...steps).
    public func forward(_ input: Tensor, lengths: [Int32], arena: ParameterArena) -> Tensor {
        let (batch, steps, units) = (input.shape[0], input.shape[1], units)
        self.input = input.values
        self.lengths = lengths
        self.batch = batch
        self.steps = steps
        let width = 4 * units
        // The input projection of every (row, step) at once, rows ordered b * steps + t.
        var projection = [Float](repeating: 0, count: batch * steps * width)
        input.values.withUnsafeBufferPointer { x in
            projection.withUnsafeMutableBufferPointer { z in
                Gemm.sgemm(m: batch * steps, n: width, k: inputDim, x.baseAddress!, UnsafePointer(arena.values(of: kernel).baseAddress!), z.baseAddress!)
            }
        }
        gates = [Float](repeating: 0, count: steps * batch * width)
        cells = [Float](repeating: 0, count: steps * batch * units)
        hidden = [Float](repeating: 0, count: steps * batch * units)
        let biasValues = arena.values(of: bias)
        let recurrent = UnsafePointer(arena.values(of: recurrentKernel).baseAddress!)
        gates.withUnsafeMutableBufferPointer { gates in
            cells.withUnsafeMutableBufferPointer { cells in
                hidden.withUnsafeMutableBufferPointer { hidden in
                    projection.withUnsafeBufferPointer { projection in
                        for t in 0..<steps {
                            let step = gates.baseAddress! + t * batch * width
                            for b in 0..<batch {
                                let source = projection.baseAddress! + (b * steps + t) * width
                                for j in 0..<width { step[b * width + j] = source[j] + biasValues[j] }
                            }
                            if t > 0 {
                                Gemm.sgemm(m: batch, n: width, k: units, UnsafePointer(hidden.baseAddress! + (t - 1) * batch * units),
                                           recurrent, beta: 1, step)
                            }
                            // The hot loop: gate activations and the cell update, row by row.
                            for b in 0..<batch {
                                let active = t < Int(lengths[b])
                                let row = step + b * width
                                let c = cells.baseAddress! + (t * batch + b) * units
                                let h = hidden.baseAddress! + (t * batch + b) * units
                                let cPrevious = t > 0 ? cells.baseAddress! + ((t - 1) * batch + b) * units : nil
                                let hPrevious = t > 0 ? hidden.baseAddress! + ((t - 1) * batch + b) * units : nil
                                for j in 0..<units {
                                    guard active else {
                                        c[j] = cPrevious?[j] ?? 0
                                        h[j] = hPrevious?[j] ?? 0
                                        continue
                                    }
                                    let i = LSTM.sigmoid(row[j])
                                    let f = LSTM.sigmoid(row[units + j])
                                    let g = tanhf(row[2 * units + j])
                                    let o = LSTM.sigmoid(row[3 * units + j])
                                    row[j] = i
                                    row[units + j] = f
                                    row[2 * units + j] = g
                                    row[3 * units + j] = o
                                    c[j] = f * (cPrevious?[j] ?? 0) + i * g
                                    h[j] = o * tanhf(c[j])
                                }
                            }
                        }
                    }
                }
            }
        }
        if !returnSequences {
            return Tensor(shape: [batch, units], values: steps == 0 ? [Float](repeating: 0, count: batch * units)
                          : Array(hidden[(steps - 1) * batch * units..<steps * batch * units]))
        }
        var output = Tensor(zeros: [batch, steps, units])
        for b in 0..<batch {
            for t in 0..<min(steps, Int(lengths[b])) {
                let from = (t * batch + b) * units
                output.values.replaceSubrange((b * steps + t) * units..<(b * steps + t + 1) * units, with: hidden[from..<from + units])
            }
        }
        return output
    }

    /// Back-propagation through time. Adds the parameter gradients into the arena and
    /// returns the gradient of the input, `[batch, steps, inputDim]`.
    public func backward(_ outputGradient: Tensor, arena: ParameterArena) -> Tensor {
        let (batch, steps, units, width) = (batch, steps, units, 4 * units)
        var dh = [Float](repeating: 0, count: batch * units)  // gradient reaching h[t]
        var dc = [Float](repeating: 0, count: batch * units)  // gradient reaching c[t]
        if !returnSequences { dh = outputGradient.values }
        var dz = [Float](repeating: 0, count: batch * steps * width)  // pre-activation gradients, rows b * steps + t
        var stepDz = [Float](repeating: 0, count: batch * width)
        var throughRecurrence = [Float](repeating: 0, count: batch * units)
        let recurrent = UnsafePointer(arena.values(of: recurrentKernel).baseAddress!)
        let recurrentGradient = arena.gradients(of: recurrentKernel).baseAddress!
        for t in stride(from: steps - 1, through: 0, by: -1) {
            for b in 0..<batch where t < Int(lengths[b]) {
                if returnSequences {
                    for j in 0..<units { dh[b * units + j] += outputGradient.values[(b * steps + t) * units + j] }
                }
                let g = (t * batch + b) * width
                for j in 0..<units {
                    let i = gates[g + j], f = gates[g + units + j], gg = gates[g + 2 * units + j], o = gates[g + 3 * units + j]
                    let c = cells[(t * batch + b) * units + j]
                    let cPrevious = t > 0 ? cells[((t - 1) * batch + b) * units + j] : 0
                    let tanhC = tanhf(c)
                    let dhj = dh[b * units + j]
                    let dcj = dc[b * units + j] + dhj * o * (1 - tanhC * tanhC)
                    stepDz[b * width + j] = dcj * gg * i * (1 - i)
                    stepDz[b * width + units + j] = dcj * cPrevious * f * (1 - f)
                    stepDz[b * width + 2 * units + j] = dcj * i * (1 - gg * gg)
                    stepDz[b * width + 3 * units + j] = dhj * tanhC * o * (1 - o)
                    dc[b * units + j] = dcj * f
                }
            }
            // Padded rows pass their gradients through unchanged and add nothing.
            for b in 0..<batch where t >= Int(lengths[b]) {
                for j in 0..<width { stepDz[b * width + j] = 0 }
            }
            for b in 0..<batch {
                dz.replaceSubrange((b * steps + t) * width..<(b * steps + t + 1) * width, with: stepDz[b * width..<(b + 1) * width])
            }
            guard t > 0 else { continue }
            stepDz.withUnsafeBufferPointer { stepDz in
                hidden.withUnsafeBufferPointer { hidden in
                    // dU += h[t-1]^T x dz[t]; the gradient reaching h[t-1] is dz[t] x U^T.
                    Gemm.sgemm(transposeA: true, m: units, n: width, k: batch, hidden.baseAddress! + (t - 1) * batch * units,
                               stepDz.baseAddress!, beta: 1, recurrentGradient)
                    throughRecurrence.withUnsafeMutableBufferPointer { out in
                        Gemm.sgemm(transposeB: true, m: batch, n: units, k: width, stepDz.baseAddress!, recurrent, out.baseAddress!)
                    }
                }
            }
            for b in 0..<batch where t < Int(lengths[b]) {
                for j in 0..<units { dh[b * units + j] = throughRecurrence[b * units + j] }
            }
        }
        // All steps at once: dW += x^T dz, db += sum dz, dx = dz W^T.
        var inputGradient = Tensor(zeros: [batch, steps, inputDim])
        input.withUnsafeBufferPointer { x in
            dz.withUnsafeBufferPointer { dz in
                Gemm.sgemm(transposeA: true, m: inputDim, n: width, k: batch * steps, x.baseAddress!, dz.baseAddress!,
                           beta: 1, arena.gradients(of: kernel).baseAddress!)
                inputGradient.values.withUnsafeMutableBufferPointer { dx in
                    Gemm.sgemm(transposeB: true, m: batch * steps, n: inputDim, k: width, dz.baseAddress!,
                               UnsafePointer(arena.values(of: kernel).baseAddress!), dx.baseAddress!)
                }
            }
        }
        let biasGradient = arena.gradients(of: bias)
        for row in 0..<batch * steps {
            for j in 0..<width { biasGradient[j] += dz[row * width + j] }
        }
        return inputGradient
    }
}
