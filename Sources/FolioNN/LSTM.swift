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
    /// Read each row's valid steps last to first (Keras's `go_backwards`); with
    /// `returnSequences` the outputs come in that reading order.
    public let goBackwards: Bool
    /// Keras's `dropout` (on the inputs) and `recurrent_dropout` (on `h[t-1]` into the
    /// recurrent kernel): in training, one mask per row and feature, the same at every step.
    public var dropout: Float = 0
    public var recurrentDropout: Float = 0
    /// Keras's `stateful`: each call starts from the state the previous call ended in, row by
    /// row (the batch size must stay the same; a new size starts from zeros). Gradients stop
    /// at the call boundary (truncated back-propagation), as in Keras. ``resetStates()``.
    public var stateful = false
    /// `h` and `c` after each row's last valid step, `[batch, units]` each (Keras's
    /// `return_state`), set by every forward call.
    public private(set) var finalState: (hidden: [Float], cell: [Float]) = ([], [])
    // The state this call started from (zeros unless stateful).
    private var startHidden: [Float] = []
    private var startCell: [Float] = []
    private var maskSource: SplitMixSource
    private var inputMask: [Float] = []      // [batch, inputDim], 0 or 1 / (1 - dropout); empty: none
    private var recurrentMask: [Float] = []  // [batch, units]
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

    public init(
        inputDim: Int, units: Int, returnSequences: Bool = false, goBackwards: Bool = false, arena: ParameterArena, prefix: String
    ) {
        self.inputDim = inputDim
        self.units = units
        self.returnSequences = returnSequences
        self.goBackwards = goBackwards
        maskSource = SplitMixSource(seed: UInt64(truncatingIfNeeded: prefix.hashValueStable) ^ 0xD809)
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

    /// Back-propagation through time for the rows `rows` (a lane).
    private func backwardRows(
        _ rows: Range<Int>, batch: Int, steps: Int, upstream: UnsafePointer<Float>, gates: UnsafeMutablePointer<Float>,
        cells: UnsafePointer<Float>, hidden: UnsafePointer<Float>, recurrent: UnsafePointer<Float>,
        recurrentGradient: UnsafeMutablePointer<Float>, recurrentMask: UnsafePointer<Float>?,
        startHidden: UnsafePointer<Float>, startCell: UnsafePointer<Float>
    ) {
        guard !rows.isEmpty else { return }
        let width = 4 * units
        let count = rows.count
        let first = rows.lowerBound
        var dh = [Float](repeating: 0, count: count * units)  // gradient reaching h[t], lane rows
        var dc = [Float](repeating: 0, count: count * units)  // gradient reaching c[t]
        if !returnSequences {
            for r in 0..<count { for j in 0..<units { dh[r * units + j] = upstream[(first + r) * units + j] } }
        }
        var stepDz = [Float](repeating: 0, count: count * width)
        var throughRecurrence = [Float](repeating: 0, count: count * units)
        for t in stride(from: steps - 1, through: 0, by: -1) {
            for r in 0..<count {
                let b = first + r
                guard t < Int(lengths[b]) else {
                    // Padded rows pass their gradients through unchanged and add nothing.
                    for j in 0..<width { stepDz[r * width + j] = 0 }
                    continue
                }
                if returnSequences {
                    for j in 0..<units { dh[r * units + j] += upstream[(b * steps + t) * units + j] }
                }
                let g = (t * batch + b) * width
                for j in 0..<units {
                    let i = gates[g + j], f = gates[g + units + j], gg = gates[g + 2 * units + j], o = gates[g + 3 * units + j]
                    let c = cells[(t * batch + b) * units + j]
                    let cPrevious = t > 0 ? cells[((t - 1) * batch + b) * units + j] : startCell[b * units + j]
                    let tanhC = Activations.tanh(c)
                    let dhj = dh[r * units + j]
                    let dcj = dc[r * units + j] + dhj * o * (1 - tanhC * tanhC)
                    stepDz[r * width + j] = dcj * gg * i * (1 - i)
                    stepDz[r * width + units + j] = dcj * cPrevious * f * (1 - f)
                    stepDz[r * width + 2 * units + j] = dcj * i * (1 - gg * gg)
                    stepDz[r * width + 3 * units + j] = dhj * tanhC * o * (1 - o)
                    dc[r * units + j] = dcj * f
                }
            }
            // The step's gate values are no longer needed: their place takes the gradients.
            stepDz.withUnsafeBufferPointer { stepDz in
                (gates + (t * batch + first) * width).update(from: stepDz.baseAddress!, count: count * width)
            }
            // At t = 0 the start state fed the product only if the layer is stateful; no
            // gradient flows into it (truncated back-propagation).
            guard t > 0 || stateful else { continue }
            stepDz.withUnsafeBufferPointer { stepDz in
                // dU += h[t-1]^T x dz[t] (h masked as in forward); the gradient reaching
                // h[t-1] is dz[t] x U^T (masked again below).
                let previous = t > 0 ? UnsafePointer(hidden + ((t - 1) * batch + first) * units) : startHidden + first * units
                if let recurrentMask {
                    let masked = (0..<count * units).map { previous[$0] * recurrentMask[first * units + $0] }
                    masked.withUnsafeBufferPointer { masked in
                        Gemm.sgemm(transposeA: true, m: units, n: width, k: count, masked.baseAddress!, stepDz.baseAddress!, beta: 1,
                                   recurrentGradient)
                    }
                } else {
                    Gemm.sgemm(transposeA: true, m: units, n: width, k: count, previous, stepDz.baseAddress!, beta: 1, recurrentGradient)
                }
                guard t > 0 else { return }
                throughRecurrence.withUnsafeMutableBufferPointer { out in
                    Gemm.sgemm(transposeB: true, m: count, n: units, k: width, stepDz.baseAddress!, recurrent, out.baseAddress!)
                }
            }
            guard t > 0 else { continue }
            for r in 0..<count where t < Int(lengths[first + r]) {
                if let recurrentMask {
                    for j in 0..<units { dh[r * units + j] = throughRecurrence[r * units + j] * recurrentMask[(first + r) * units + j] }
                } else {
                    for j in 0..<units { dh[r * units + j] = throughRecurrence[r * units + j] }
                }
            }
        }
    }

    /// Threads for the lanes (the batch is always cut into ``Lanes/count`` lanes).
    nonisolated(unsafe) public static var threads = 2

    @inline(__always) static func sigmoid(_ x: Float) -> Float { Activations.sigmoid(x) }

    /// - Parameters: `input` `[batch, steps, inputDim]`; `lengths` per row (0...steps).
    public func forward(_ input: Tensor, lengths: [Int32], arena: ParameterArena, training: Bool = false) -> Tensor {
        let input = goBackwards ? Bidirectional.reverseValidSteps(input, lengths: lengths) : input
        inputMask = training && dropout > 0 ? LSTM.mask(count: input.shape[0] * inputDim, rate: dropout, &maskSource) : []
        recurrentMask = training && recurrentDropout > 0 ? LSTM.mask(count: input.shape[0] * units, rate: recurrentDropout, &maskSource) : []
        let (batch, steps, units) = (input.shape[0], input.shape[1], units)
        self.lengths = lengths
        self.batch = batch
        self.steps = steps
        let width = 4 * units
        // Time-major from here on: step t's rows are contiguous, so the input projection of
        // every (step, row) lands straight in the gate buffer, [steps * batch, 4 units].
        LSTM.transpose(input.values, outer: batch, inner: steps, features: inputDim, into: &self.input)
        if !inputMask.isEmpty {
            for t in 0..<steps { for b in 0..<batch { for e in 0..<inputDim { self.input[(t * batch + b) * inputDim + e] *= inputMask[b * inputDim + e] } } }
        }
        // Backward releases these caches; after an inference pass they are reused in place.
        // Either way the old and the new copy of a cache never take memory at once.
        refill(&gates, zeros: steps * batch * width)
        refill(&cells, zeros: steps * batch * units)
        refill(&hidden, zeros: steps * batch * units)
        let carried = stateful && finalState.hidden.count == batch * units
        startHidden = carried ? finalState.hidden : [Float](repeating: 0, count: batch * units)
        startCell = carried ? finalState.cell : [Float](repeating: 0, count: batch * units)
        let biasValues = UnsafePointer(arena.values(of: bias).baseAddress!)
        let kernelValues = UnsafePointer(arena.values(of: kernel).baseAddress!)
        let recurrent = UnsafePointer(arena.values(of: recurrentKernel).baseAddress!)
        let inputDim = inputDim
        self.input.withUnsafeBufferPointer { x in
            gates.withUnsafeMutableBufferPointer { gates in
                // The projection, split by ranges of steps (contiguous rows here).
                let buffers = Shared((x.baseAddress!, gates.baseAddress!, kernelValues))
                Lanes.run(rows: steps, threads: LSTM.threads) { range in
                    let (x, gates, kernel) = buffers.value
                    guard !range.isEmpty else { return }
                    Gemm.sgemm(m: range.count * batch, n: width, k: inputDim, x + range.lowerBound * batch * inputDim, kernel,
                               gates + range.lowerBound * batch * width)
                }
            }
        }
        gates.withUnsafeMutableBufferPointer { gates in
            cells.withUnsafeMutableBufferPointer { cells in
                hidden.withUnsafeMutableBufferPointer { hidden in
                    recurrentMask.withUnsafeBufferPointer { mask in
                        startHidden.withUnsafeBufferPointer { startHidden in
                            startCell.withUnsafeBufferPointer { startCell in
                                let buffers = Shared((self, gates.baseAddress!, cells.baseAddress!, hidden.baseAddress!, biasValues, recurrent,
                                                      mask.isEmpty ? nil : mask.baseAddress, startHidden.baseAddress!, startCell.baseAddress!))
                                Lanes.run(rows: batch, threads: LSTM.threads) { rows in
                                    let (layer, gates, cells, hidden, bias, recurrent, mask, startHidden, startCell) = buffers.value
                                    for t in 0..<steps {
                                        layer.forwardStep(t, rows: rows, batch: batch, gates: gates, cells: cells, hidden: hidden,
                                                          bias: bias, recurrent: recurrent, recurrentMask: mask,
                                                          startHidden: startHidden, startCell: startCell)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        finalState = steps == 0 ? (startHidden, startCell)
            : (Array(hidden[(steps - 1) * batch * units..<steps * batch * units]), Array(cells[(steps - 1) * batch * units..<steps * batch * units]))
        return recurrentOutput(hidden: hidden, batch: batch, steps: steps, units: units, lengths: lengths, returnSequences: returnSequences)
    }

    /// Forgets the state carried between calls of a stateful layer.
    public func resetStates() { finalState = ([], []) }

    /// Sets the state the next stateful call starts from (tests, and restoring a checkpoint).
    public func setState(hidden: [Float], cell: [Float]) { finalState = (hidden, cell) }

    /// Restarts the mask stream: the masks of a call then depend on nothing but the seed.
    public func restartMasks(seed: UInt64) { maskSource = SplitMixSource(seed: seed) }

    /// Inverted-dropout scales: 0 with probability `rate`, else 1 / (1 - rate).
    static func mask(count: Int, rate: Float, _ random: inout SplitMixSource) -> [Float] {
        let keep = 1 / (1 - rate)
        return (0..<count).map { _ in random.unit() < Double(rate) ? 0 : keep }
    }

    /// `[outer, inner, features]` to `[inner, outer, features]`.
    static func transpose(_ values: [Float], outer: Int, inner: Int, features: Int) -> [Float] {
        var result: [Float] = []
        transpose(values, outer: outer, inner: inner, features: features, into: &result)
        return result
    }

    /// The same into `result`, reusing its storage when it has the size.
    static func transpose(_ values: [Float], outer: Int, inner: Int, features: Int, into result: inout [Float]) {
        if result.count != values.count {
            result = []
            result = [Float](repeating: 0, count: values.count)
        }
        values.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { target in
                for o in 0..<outer {
                    for i in 0..<inner {
                        (target.baseAddress! + (i * outer + o) * features).update(from: source.baseAddress! + (o * inner + i) * features, count: features)
                    }
                }
            }
        }
    }

    /// One step for the rows `rows` (a lane): their gate pre-activations, the recurrent
    /// GEMM over just those rows, then the activations and the cell update.
    private func forwardStep(
        _ t: Int, rows: Range<Int>, batch: Int, gates: UnsafeMutablePointer<Float>,
        cells: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>,
        bias: UnsafePointer<Float>, recurrent: UnsafePointer<Float>, recurrentMask: UnsafePointer<Float>?,
        startHidden: UnsafePointer<Float>, startCell: UnsafePointer<Float>
    ) {
        guard !rows.isEmpty else { return }
        let width = 4 * units
        let step = gates + t * batch * width
        for b in rows {
            for j in 0..<width { step[b * width + j] += bias[j] }
        }
        // h[-1] is the start state: zeros (no product needed) unless the layer is stateful.
        if t > 0 || stateful {
            let previous = t > 0 ? UnsafePointer(hidden + ((t - 1) * batch + rows.lowerBound) * units) : startHidden + rows.lowerBound * units
            if let recurrentMask {
                // The rare path: the recurrent kernel sees a masked copy of h[t-1].
                let masked = (0..<rows.count * units).map { previous[$0] * recurrentMask[rows.lowerBound * units + $0] }
                masked.withUnsafeBufferPointer { masked in
                    Gemm.sgemm(m: rows.count, n: width, k: units, masked.baseAddress!, recurrent, beta: 1, step + rows.lowerBound * width)
                }
            } else {
                Gemm.sgemm(m: rows.count, n: width, k: units, previous, recurrent, beta: 1, step + rows.lowerBound * width)
            }
        }
        // The hot loop: gate activations and the cell update, row by row. Branch-free
        // inside a row (the mask and the first step are decided outside), so it vectorizes.
        do {
            for b in rows {
                let c = cells + (t * batch + b) * units
                let h = hidden + (t * batch + b) * units
                let cPrevious = t > 0 ? UnsafePointer(cells + ((t - 1) * batch + b) * units) : startCell + b * units
                let hPrevious = t > 0 ? UnsafePointer(hidden + ((t - 1) * batch + b) * units) : startHidden + b * units
                guard t < Int(lengths[b]) else {
                    c.update(from: cPrevious, count: units)
                    h.update(from: hPrevious, count: units)
                    continue
                }
                let row = step + b * width
                for j in 0..<units {
                    let i = LSTM.sigmoid(row[j])
                    let f = LSTM.sigmoid(row[units + j])
                    let g = Activations.tanh(row[2 * units + j])
                    let o = LSTM.sigmoid(row[3 * units + j])
                    row[j] = i
                    row[units + j] = f
                    row[2 * units + j] = g
                    row[3 * units + j] = o
                    c[j] = f * cPrevious[j] + i * g
                    h[j] = o * Activations.tanh(c[j])
                }
            }
        }
    }

    /// Back-propagation through time. Adds the parameter gradients into the arena and
    /// returns the gradient of the input, `[batch, steps, inputDim]`. Consumes what forward
    /// saved: each step's gate values are overwritten by their gradients as it goes.
    public func backward(_ outputGradient: Tensor, arena: ParameterArena) -> Tensor {
        let (batch, steps, units, width, inputDim) = (batch, steps, units, 4 * units, inputDim)
        // Each lane adds into its own copies of the kernel gradients; lanes are summed in
        // order afterwards, so the result is the same for any thread count.
        var laneGradients = [Float](repeating: 0, count: Lanes.count * units * width)
        var kernelPartials = [Float](repeating: 0, count: Lanes.count * inputDim * width)
        let recurrent = UnsafePointer(arena.values(of: recurrentKernel).baseAddress!)
        let kernelValues = UnsafePointer(arena.values(of: kernel).baseAddress!)
        gates.withUnsafeMutableBufferPointer { gates in
            laneGradients.withUnsafeMutableBufferPointer { laneGradients in
                outputGradient.values.withUnsafeBufferPointer { upstream in
                    cells.withUnsafeBufferPointer { cells in
                        hidden.withUnsafeBufferPointer { hidden in
                            recurrentMask.withUnsafeBufferPointer { mask in
                                startHidden.withUnsafeBufferPointer { startHidden in
                                    startCell.withUnsafeBufferPointer { startCell in
                                        let buffers = Shared((self, gates.baseAddress!, laneGradients.baseAddress!, upstream.baseAddress!,
                                                              cells.baseAddress!, hidden.baseAddress!, recurrent, mask.isEmpty ? nil : mask.baseAddress,
                                                              startHidden.baseAddress!, startCell.baseAddress!))
                                        Lanes.run(rows: batch, threads: LSTM.threads) { rows, lane in
                                            let (layer, gates, laneGradients, upstream, cells, hidden, recurrent, mask, startHidden, startCell) = buffers.value
                                            layer.backwardRows(rows, batch: batch, steps: steps, upstream: upstream, gates: gates,
                                                               cells: cells, hidden: hidden, recurrent: recurrent,
                                                               recurrentGradient: laneGradients + lane * units * width, recurrentMask: mask,
                                                               startHidden: startHidden, startCell: startCell)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // What forward kept is spent as backward goes: cells and hidden states now, the input
        // and the gates below, each released before the next large buffer is allocated, so
        // that the peak of training is the end of forward, not backward (the next forward
        // allocates them afresh).
        cells = []
        hidden = []
        var inputGradientTimeMajor = [Float](repeating: 0, count: steps * batch * inputDim)
        gates.withUnsafeMutableBufferPointer { gates in
            // gates now holds dz, time-major. All steps at once, split by ranges of steps:
            // dW += x^T dz (lane partials), dx = dz W^T.
            input.withUnsafeBufferPointer { x in
                kernelPartials.withUnsafeMutableBufferPointer { partials in
                    inputGradientTimeMajor.withUnsafeMutableBufferPointer { dx in
                        let buffers = Shared((x.baseAddress!, gates.baseAddress!, partials.baseAddress!, dx.baseAddress!, kernelValues))
                        Lanes.run(rows: steps, threads: LSTM.threads) { range, lane in
                            let (x, dz, partials, dx, kernel) = buffers.value
                            guard !range.isEmpty else { return }
                            let first = range.lowerBound * batch
                            Gemm.sgemm(transposeA: true, m: inputDim, n: width, k: range.count * batch, x + first * inputDim,
                                       dz + first * width, partials + lane * inputDim * width)
                            Gemm.sgemm(transposeB: true, m: range.count * batch, n: inputDim, k: width, dz + first * width,
                                       kernel, dx + first * inputDim)
                        }
                    }
                }
            }
        }
        let recurrentGradient = arena.gradients(of: recurrentKernel)
        let kernelGradient = arena.gradients(of: kernel)
        for lane in 0..<Lanes.count {
            for index in 0..<units * width { recurrentGradient[index] += laneGradients[lane * units * width + index] }
            for index in 0..<inputDim * width { kernelGradient[index] += kernelPartials[lane * inputDim * width + index] }
        }
        let biasGradient = arena.gradients(of: bias)
        for row in 0..<batch * steps {
            for j in 0..<width { biasGradient[j] += gates[row * width + j] }
        }
        if !inputMask.isEmpty {
            for t in 0..<steps { for b in 0..<batch { for e in 0..<inputDim { inputGradientTimeMajor[(t * batch + b) * inputDim + e] *= inputMask[b * inputDim + e] } } }
        }
        input = []
        gates = []
        let inputGradient = Tensor(shape: [batch, steps, inputDim],
                                   values: LSTM.transpose(inputGradientTimeMajor, outer: steps, inner: batch, features: inputDim))
        return goBackwards ? Bidirectional.reverseValidSteps(inputGradient, lengths: lengths) : inputGradient
    }
}
