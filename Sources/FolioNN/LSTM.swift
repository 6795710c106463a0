import FolioCore

import Foundation

/// Long short-term memory over `[batch, steps, inputDim]`, Keras's `LSTM` (one layer;
/// stack them for more).
///
/// Parameters, gates stacked in the order i, f, g, o (as PyTorch and Keras):
/// - `kernel` `[inputDim, 4 * units]`, glorot-uniform;
/// - `recurrentKernel` `[units, 4 * units]`, orthogonal;
/// - `bias` `[4 * units]`, zeros but the forget gate's, 1.
///
/// Both kernels are packed once per pass (``PackedMatrix``). At each step a lane's rows get
/// their input projection plus bias (`[rows, inputDim] x [inputDim, 4 * units]`, read from
/// the input as it came, never copied), then `h[t-1] x recurrentKernel` added onto it while
/// those gate rows are in cache. The gate loops are C kernels vectorized for the CPU
/// (``LSTMRows``); the kernels' gradients come after the time loop, in long products over
/// all steps (``KernelSet/multiplyTransposed``: Folio's, not OpenBLAS's, so that the sums'
/// order is the same on every machine). Rows are masked by their lengths: at a padded step
/// a row's `h` and `c` carry over unchanged, its outputs are zero, and nothing flows back
/// through it, so padding never changes an output or a gradient.
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
    /// The kernels this layer's products and gate loops run on (``KernelSet/selected``
    /// unless set): every path gives the same results to rounding.
    public var kernels = KernelSet.selected
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

    // Saved by forward for backward: the input as it came, `[batch, steps, inputDim]` (the
    // caller's storage, shared, not copied, unless input dropout masks it); activated gates,
    // cells and hidden states per step, `[steps, batch, ...]`, so that each step's rows are
    // contiguous for the recurrent GEMMs.
    private var input: [Float] = []
    // The batch's distinct ids when forward projected each once (training): backward then
    // sums each id's gradients before the input kernel's products (``distinctInputBackward``).
    private var distinct: DistinctIDs?
    private var lengths: [Int32] = []
    private var batch = 0
    private var steps = 0
    private var gates: [Float] = []
    private var cells: [Float] = []
    private var hidden: [Float] = []
    // Whether the last forward kept every step (for backward) or only the steps it still
    // needed (inference): the step buffers above are then rings, see ``Slots``.
    private var slots = Slots(keepsEverything: true)

    /// Which row block of the step buffers holds step t. Training keeps every step for
    /// backward; inference needs only the step being computed (gates) and the one before it
    /// (cells, hidden; a returned sequence is written to the output as each step ends), so
    /// it cycles through one or two blocks that stay in cache instead of writing `steps`
    /// blocks through memory (at batch 256, 200 steps and 128 units the gates alone are 105 MB).
    struct Slots {
        let keepsEverything: Bool
        var gateSlots: Int { keepsEverything ? Int.max : 1 }
        var cellSlots: Int { keepsEverything ? Int.max : 2 }
        var hiddenSlots: Int { keepsEverything ? Int.max : 2 }
        func count(_ slots: Int, steps: Int) -> Int { min(slots, steps) }
        func gate(_ t: Int) -> Int { t % gateSlots }
        func cell(_ t: Int) -> Int { t % cellSlots }
        func hidden(_ t: Int) -> Int { t % hiddenSlots }
    }

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

    /// Back-propagation through time for the rows `rows` (a lane): turns each step's gate
    /// values into the gradients of their pre-activations, `dz`, in place, and carries the
    /// gradient of `h` back through the recurrent kernel. The kernels' gradients need all
    /// steps' `dz` and are left to one GEMM each afterwards (``backward(_:arena:)``).
    private func backwardRows(
        _ rows: Range<Int>, batch: Int, steps: Int, upstream: UnsafePointer<Float>, gates: UnsafeMutablePointer<Float>,
        cells: UnsafePointer<Float>, recurrentTransposed: PackedMatrix, recurrentMask: UnsafePointer<Float>?,
        startCell: UnsafePointer<Float>
    ) {
        guard !rows.isEmpty else { return }
        let width = 4 * units
        let count = rows.count
        let first = rows.lowerBound
        let dh = UnsafeMutablePointer<Float>.allocate(capacity: count * units)  // gradient reaching h[t], lane rows
        let dc = UnsafeMutablePointer<Float>.allocate(capacity: count * units)  // gradient reaching c[t]
        let throughRecurrence = UnsafeMutablePointer<Float>.allocate(capacity: count * units)
        defer { dh.deallocate(); dc.deallocate(); throughRecurrence.deallocate() }
        dc.initialize(repeating: 0, count: count * units)
        if returnSequences {
            dh.initialize(repeating: 0, count: count * units)
        } else {
            dh.initialize(from: upstream + first * units, count: count * units)
        }
        for t in stride(from: steps - 1, through: 0, by: -1) {
            for r in 0..<count {
                let b = first + r
                let dz = gates + (t * batch + b) * width
                guard t < Int(lengths[b]) else {
                    // Padded rows pass their gradients through unchanged and add nothing.
                    dz.update(repeating: 0, count: width)
                    continue
                }
                let dhRow = dh + r * units, dcRow = dc + r * units
                if returnSequences {
                    let up = upstream + (b * steps + t) * units
                    for j in 0..<units { dhRow[j] += up[j] }
                }
                let c = cells + (t * batch + b) * units
                let cPrevious = t > 0 ? cells + ((t - 1) * batch + b) * units : startCell + b * units
                kernels.lstmBackwardRow(dz, c: c, cPrevious: cPrevious, dh: dhRow, dc: dcRow, units: units)
            }
            // No gradient flows into the start state (truncated back-propagation).
            guard t > 0 else { continue }
            // The gradient reaching h[t-1]: dz[t] x U^T (masked as h[t-1] was in forward).
            recurrentTransposed.multiply(m: count, gates + (t * batch + first) * width, lda: width, into: throughRecurrence, ldc: units,
                                         accumulate: false, kernels: kernels)
            for r in 0..<count where t < Int(lengths[first + r]) {
                let row = throughRecurrence + r * units
                if let recurrentMask {
                    let mask = recurrentMask + (first + r) * units
                    for j in 0..<units { dh[r * units + j] = row[j] * mask[j] }
                } else {
                    (dh + r * units).update(from: row, count: units)
                }
            }
        }
    }

    /// The most floats per row a forward pass's table of distinct ids' projections takes
    /// (at most half the ids are distinct, else it is not built), with the ids' slots and map.
    static func distinctTableFloats(steps: Int, units: Int) -> Int { (steps / 2) * 4 * units + (1 + DistinctIDs.mapEntriesPerID) * steps }

    /// How many rows the input kernel's products of an LSTM right after the Embedding run
    /// over in training, for a batch of `embeddedIDs` (with no dropout on its input): the
    /// distinct ids where at most half are, else every position.
    public static func inputProductRows(embeddedIDs: [UInt32]) -> Int {
        DistinctIDs(embeddedIDs, atMost: embeddedIDs.count / 2)?.count ?? embeddedIDs.count
    }

    /// Rows of time-major inputs backward copies at a time for the kernel's gradient (1 MB
    /// at 128 inputs): a long product, and a copy small enough to stay in cache.
    static let inputChunkRows = 2048

    /// Threads for the lanes (the batch is always cut into ``Lanes/count`` lanes, so the
    /// results never depend on this).
    public var threads = 2

    /// - Parameters: `input` `[batch, steps, inputDim]`; `lengths` per row (0...steps);
    ///   `keepsCaches` false for inference, when no backward follows: each step's gates and
    ///   cells then live in a block of one or two steps (``Slots``), same outputs;
    ///   `embeddedIDs`: the ids `[batch, steps]` whose embedding rows `input` holds, position
    ///   by position (an Embedding right before this layer), so that each distinct id's
    ///   input projection is computed once (``DistinctIDs``), same outputs.
    public func forward(
        _ input: Tensor, lengths: [Int32], arena: ParameterArena, training: Bool = false, keepsCaches: Bool = true,
        embeddedIDs: [UInt32]? = nil
    ) -> Tensor {
        let input = goBackwards ? Bidirectional.reverseValidSteps(input, lengths: lengths) : input
        inputMask = training && dropout > 0 ? LSTM.mask(count: input.shape[0] * inputDim, rate: dropout, &maskSource) : []
        recurrentMask = training && recurrentDropout > 0 ? LSTM.mask(count: input.shape[0] * units, rate: recurrentDropout, &maskSource) : []
        self.input = input.values
        if !inputMask.isEmpty { LSTM.applyInputMask(inputMask, to: &self.input, batch: input.shape[0], steps: input.shape[1]) }
        distinct = nil
        // A batch of text repeats its words: a quarter of a batch of 64 x 200 Zipf-distributed
        // ids are distinct. Each distinct id's projection is then computed once, from its
        // first position's row, and every step copies its rows' projections from that table
        // (as prediction over a ProjectedEmbedding does): the same product per row, so the
        // same bits, for a quarter of the input kernel's arithmetic. Not where the input is
        // masked (dropout) or read backwards.
        if let embeddedIDs, inputMask.isEmpty, !goBackwards, embeddedIDs.count == input.shape[0] * input.shape[1],
           let distinct = DistinctIDs(embeddedIDs, atMost: embeddedIDs.count / 2) {
            let rows = [Float](unsafeUninitializedCapacity: distinct.count * inputDim) { rows, initialized in
                self.input.withUnsafeBufferPointer { x in
                    for (index, position) in distinct.firstPositions.enumerated() {
                        (rows.baseAddress! + index * inputDim).initialize(from: x.baseAddress! + position * inputDim, count: inputDim)
                    }
                }
                initialized = distinct.count * inputDim
            }
            let table = rows.withUnsafeBufferPointer { projectedEmbedding($0.baseAddress!, rows: distinct.count, arena: arena) }
            if keepsCaches || training { self.distinct = distinct }
            return distinct.slots.withUnsafeBufferPointer { slots in
                table.withUnsafeBufferPointer { table in
                    run(batch: input.shape[0], steps: input.shape[1], lengths: lengths, arena: arena, keepsCaches: keepsCaches || training,
                        projection: .rows(table: table.baseAddress!, ids: slots.baseAddress!))
                }
            }
        }
        // Packed once for the whole pass, as the recurrent kernel is in run (see PackedMatrix).
        let packedKernel = PackedMatrix(arena.values(of: kernel).baseAddress!, k: inputDim, n: 4 * units, ldb: 4 * units)
        let biasValues = UnsafePointer(arena.values(of: bias).baseAddress!)
        return self.input.withUnsafeBufferPointer { x in
            run(batch: input.shape[0], steps: input.shape[1], lengths: lengths, arena: arena, keepsCaches: keepsCaches || training,
                projection: .product(input: x.baseAddress!, kernel: packedKernel, bias: biasValues))
        }
    }

    /// Prediction from token ids `[batch, steps]` whose input projections are rows of
    /// `table` (``ProjectedEmbedding``, built by ``projectedEmbedding(_:rows:arena:)``): the
    /// same outputs as ``forward(_:lengths:arena:training:keepsCaches:)`` on their embeddings,
    /// bit for bit. No backward may follow.
    func forward(ids: [UInt32], table: [Float], batch: Int, steps: Int, lengths: [Int32], arena: ParameterArena) -> Tensor {
        precondition(!goBackwards && ids.count == batch * steps && table.count % (4 * units) == 0)
        (inputMask, recurrentMask, input, distinct) = ([], [], [], nil)
        return ids.withUnsafeBufferPointer { ids in
            table.withUnsafeBufferPointer { table in
                run(batch: batch, steps: steps, lengths: lengths, arena: arena, keepsCaches: false,
                    projection: .rows(table: table.baseAddress!, ids: ids.baseAddress!))
            }
        }
    }

    /// Every row of an embedding table (`rows x inputDim`) through this layer's kernel, bias
    /// added: `[rows, 4 * units]`, each row what a step's projection of it gives, bit for bit.
    func projectedEmbedding(_ embedding: UnsafePointer<Float>, rows: Int, arena: ParameterArena) -> [Float] {
        let width = 4 * units
        let packedKernel = PackedMatrix(arena.values(of: kernel).baseAddress!, k: inputDim, n: width, ldb: width)
        let biasValues = UnsafePointer(arena.values(of: bias).baseAddress!)
        var table = [Float](repeating: 0, count: rows * width)
        table.withUnsafeMutableBufferPointer { table in
            let buffers = Shared((embedding, biasValues, packedKernel, table.baseAddress!, inputDim, kernels))
            Lanes.run(rows: rows, threads: threads) { range in
                let (embedding, bias, kernel, table, inputDim, kernels) = buffers.value
                guard !range.isEmpty else { return }
                kernel.multiply(m: range.count, embedding + range.lowerBound * inputDim, lda: inputDim, bias: bias,
                                into: table + range.lowerBound * width, ldc: width, accumulate: false, kernels: kernels)
            }
        }
        return table
    }

    /// Where a step's input projection comes from: the product of the input's rows with the
    /// packed kernel plus bias, or (prediction over a ``ProjectedEmbedding``) a table row per id.
    enum StepProjection {
        case product(input: UnsafePointer<Float>, kernel: PackedMatrix, bias: UnsafePointer<Float>)
        case rows(table: UnsafePointer<Float>, ids: UnsafePointer<UInt32>)
    }

    /// The time loop of a forward pass, each lane of rows on its own thread.
    private func run(
        batch: Int, steps: Int, lengths: [Int32], arena: ParameterArena, keepsCaches: Bool, projection: StepProjection
    ) -> Tensor {
        let units = units
        self.lengths = lengths
        self.batch = batch
        self.steps = steps
        let width = 4 * units
        // Backward releases these caches; after an inference pass they are reused in place.
        // Either way the old and the new copy of a cache never take memory at once.
        let slots = Slots(keepsEverything: keepsCaches)
        self.slots = slots
        refill(&gates, uninitialized: slots.count(slots.gateSlots, steps: steps) * batch * width)  // each step's projection writes its rows
        // Every step writes every row's c and h (padded rows carry theirs over).
        refill(&cells, uninitialized: slots.count(slots.cellSlots, steps: steps) * batch * units)
        refill(&hidden, uninitialized: slots.count(slots.hiddenSlots, steps: steps) * batch * units)
        let carried = stateful && finalState.hidden.count == batch * units
        startHidden = carried ? finalState.hidden : [Float](repeating: 0, count: batch * units)
        startCell = carried ? finalState.cell : [Float](repeating: 0, count: batch * units)
        let recurrent = PackedMatrix(arena.values(of: recurrentKernel).baseAddress!, k: units, n: width, ldb: width)
        let projection = Shared(projection)
        // Each step's lanes write their rows of a returned sequence as the step ends, while
        // those rows are in cache (a copy of every step afterwards ran on one thread).
        var output = Tensor(uninitialized: returnSequences ? [batch, steps, units] : [0])
        output.values.withUnsafeMutableBufferPointer { outputValues in
            let outputRows = Shared(returnSequences ? outputValues.baseAddress : nil)
            gates.withUnsafeMutableBufferPointer { gates in
                cells.withUnsafeMutableBufferPointer { cells in
                    hidden.withUnsafeMutableBufferPointer { hidden in
                        recurrentMask.withUnsafeBufferPointer { mask in
                            startHidden.withUnsafeBufferPointer { startHidden in
                                startCell.withUnsafeBufferPointer { startCell in
                                    let buffers = Shared((self, gates.baseAddress!, cells.baseAddress!, hidden.baseAddress!, recurrent,
                                                          mask.isEmpty ? nil : mask.baseAddress, startHidden.baseAddress!, startCell.baseAddress!))
                                    Lanes.run(rows: batch, threads: threads) { rows in
                                        let (layer, gates, cells, hidden, recurrent, mask, startHidden, startCell) = buffers.value
                                        for t in 0..<steps {
                                            layer.forwardStep(t, rows: rows, batch: batch, steps: steps, projection: projection.value,
                                                              gates: gates, cells: cells, hidden: hidden, recurrent: recurrent, recurrentMask: mask,
                                                              startHidden: startHidden, startCell: startCell, output: outputRows.value)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let (lastHidden, lastCell) = (slots.hidden(steps - 1) * batch * units, slots.cell(steps - 1) * batch * units)
        finalState = steps == 0 ? (startHidden, startCell)
            : (Array(hidden[lastHidden..<lastHidden + batch * units]), Array(cells[lastCell..<lastCell + batch * units]))
        if !returnSequences { return Tensor(shape: [batch, units], values: steps == 0 ? [Float](repeating: 0, count: batch * units) : finalState.hidden) }
        return output
    }

    /// Forgets the state carried between calls of a stateful layer.
    public func resetStates() { finalState = ([], []) }

    /// Sets the state the next stateful call starts from (tests, and restoring a checkpoint).
    public func setState(hidden: [Float], cell: [Float]) { finalState = (hidden, cell) }

    /// Restarts the mask stream: the masks of a call then depend on nothing but the seed.
    public func restartMasks(seed: UInt64) { maskSource = SplitMixSource(seed: seed) }

    /// Scales every step of each row of `values` (`[batch, steps, features]`) by that row's
    /// mask (`[batch, features]`): the input on the way in, its gradient on the way back.
    static func applyInputMask(_ mask: [Float], to values: inout [Float], batch: Int, steps: Int) {
        let features = mask.count / max(1, batch)
        for b in 0..<batch { for t in 0..<steps { for e in 0..<features { values[(b * steps + t) * features + e] *= mask[b * features + e] } } }
    }

    /// Inverted-dropout scales: 0 with probability `rate`, else 1 / (1 - rate).
    static func mask(count: Int, rate: Float, _ random: inout SplitMixSource) -> [Float] {
        let keep = 1 / (1 - rate)
        return (0..<count).map { _ in random.unit() < Double(rate) ? 0 : keep }
    }

    /// One step for the rows `rows` (a lane): their gate pre-activations (input projection
    /// plus bias, then the recurrent product adds onto them), the activations and the cell
    /// update.
    private func forwardStep(
        _ t: Int, rows: Range<Int>, batch: Int, steps: Int, projection: StepProjection,
        gates: UnsafeMutablePointer<Float>, cells: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>,
        recurrent: PackedMatrix, recurrentMask: UnsafePointer<Float>?,
        startHidden: UnsafePointer<Float>, startCell: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>?
    ) {
        guard !rows.isEmpty else { return }
        let width = 4 * units
        let step = gates + slots.gate(t) * batch * width
        // The projection of this step's inputs (every steps-th row of the batch-major input)
        // runs here rather than for all steps before the loop, so that the recurrent product
        // and the activations find the gate rows in cache: projecting all steps first sent
        // the whole gate buffer through memory once more (15-20% of a training step).
        switch projection {
        case .product(let input, let kernel, let bias):
            kernel.multiply(m: rows.count, input + (rows.lowerBound * steps + t) * inputDim, lda: steps * inputDim, bias: bias,
                            into: step + rows.lowerBound * width, ldc: width, accumulate: false, kernels: kernels)
        case .rows(let table, let ids):
            for b in rows { (step + b * width).update(from: table + Int(ids[b * steps + t]) * width, count: width) }
        }
        // h[-1] is the start state: zeros (no product needed) unless the layer is stateful.
        if t > 0 || stateful {
            let previous = t > 0 ? UnsafePointer(hidden + (slots.hidden(t - 1) * batch + rows.lowerBound) * units) : startHidden + rows.lowerBound * units
            if let recurrentMask {
                // The rare path: the recurrent kernel sees a masked copy of h[t-1].
                let masked = (0..<rows.count * units).map { previous[$0] * recurrentMask[rows.lowerBound * units + $0] }
                masked.withUnsafeBufferPointer { masked in
                    recurrent.multiply(m: rows.count, masked.baseAddress!, lda: units, into: step + rows.lowerBound * width, ldc: width,
                                       accumulate: true, kernels: kernels)
                }
            } else {
                recurrent.multiply(m: rows.count, previous, lda: units, into: step + rows.lowerBound * width, ldc: width, accumulate: true, kernels: kernels)
            }
        }
        // The hot loop: gate activations and the cell update, row by row, in C on this
        // layer's kernel path (``KernelSet``; ``LSTMRows`` is the reference twin).
        for b in rows {
            let c = cells + (slots.cell(t) * batch + b) * units
            let h = hidden + (slots.hidden(t) * batch + b) * units
            let cPrevious = t > 0 ? UnsafePointer(cells + (slots.cell(t - 1) * batch + b) * units) : startCell + b * units
            guard t < Int(lengths[b]) else {
                let hPrevious = t > 0 ? UnsafePointer(hidden + (slots.hidden(t - 1) * batch + b) * units) : startHidden + b * units
                c.update(from: cPrevious, count: units)
                h.update(from: hPrevious, count: units)
                output?.advanced(by: (b * steps + t) * units).update(repeating: 0, count: units)  // padded steps output zeros
                continue
            }
            kernels.lstmForwardRow(step + b * width, cPrevious: cPrevious, c: c, h: h, units: units)
            output?.advanced(by: (b * steps + t) * units).update(from: h, count: units)
        }
    }

    /// Back-propagation through time. Adds the parameter gradients into the arena and
    /// returns the gradient of the input, `[batch, steps, inputDim]`. Consumes what forward
    /// saved: each step's gate values are overwritten by their gradients as it goes.
    public func backward(_ outputGradient: Tensor, arena: ParameterArena) -> Tensor {
        precondition(slots.keepsEverything, "LSTM.backward after a forward with keepsCaches: false")
        let (batch, steps, units, width, inputDim, kernels) = (batch, steps, units, 4 * units, inputDim, kernels)
        // Backward multiplies by both kernels transposed, each packed once for the pass.
        let recurrentTransposed = PackedMatrix(arena.values(of: recurrentKernel).baseAddress!, k: width, n: units, ldb: width,
                                               transposed: true)
        let kernelTransposed = PackedMatrix(arena.values(of: kernel).baseAddress!, k: width, n: inputDim, ldb: width, transposed: true)
        gates.withUnsafeMutableBufferPointer { gates in
            outputGradient.values.withUnsafeBufferPointer { upstream in
                cells.withUnsafeBufferPointer { cells in
                    recurrentMask.withUnsafeBufferPointer { mask in
                        startCell.withUnsafeBufferPointer { startCell in
                            let buffers = Shared((self, gates.baseAddress!, upstream.baseAddress!, cells.baseAddress!,
                                                  mask.isEmpty ? nil : mask.baseAddress, startCell.baseAddress!))
                            Lanes.run(rows: batch, threads: threads) { rows in
                                let (layer, gates, upstream, cells, mask, startCell) = buffers.value
                                layer.backwardRows(rows, batch: batch, steps: steps, upstream: upstream, gates: gates, cells: cells,
                                                   recurrentTransposed: recurrentTransposed, recurrentMask: mask, startCell: startCell)
                            }
                        }
                    }
                }
            }
        }
        // What forward kept is spent as backward goes: the cells now, the hidden states,
        // the input and the gates below, each released before the next large buffer is
        // allocated where the order allows, so that the peak of training is the end of
        // forward, not backward (the next forward allocates them afresh).
        cells = []
        // The recurrent kernel saw h[t-1] through the mask; its gradient sees the same.
        if !recurrentMask.isEmpty {
            for row in 0..<steps * batch { for j in 0..<units { hidden[row * units + j] *= recurrentMask[(row % batch) * units + j] } }
            for row in 0..<batch { for j in 0..<units { startHidden[row * units + j] *= recurrentMask[row * units + j] } }
        }
        // Each lane adds into its own copies of the kernel gradients; lanes are summed in
        // order afterwards, so the result is the same for any thread count.
        var recurrentPartials = [Float](repeating: 0, count: Lanes.count * units * width)
        var biasPartials = [Float](repeating: 0, count: Lanes.count * width)
        gates.withUnsafeBufferPointer { dz in
            // gates now holds dz, time-major. dU += h[t-1]^T dz[t] for all steps at once,
            // and the bias gradient, the sum of all dz rows, split by ranges of steps
            // (contiguous rows) into lane partials (with distinct ids, the sum of their sums,
            // later).
            let biasFromRows = distinct == nil
            hidden.withUnsafeBufferPointer { hidden in
                recurrentPartials.withUnsafeMutableBufferPointer { partials in
                    biasPartials.withUnsafeMutableBufferPointer { biasPartials in
                        let buffers = Shared((dz.baseAddress!, hidden.baseAddress!, partials.baseAddress!, biasPartials.baseAddress!))
                        Lanes.run(rows: steps, threads: threads) { range, lane in
                            let (dz, hidden, partials, biasPartials) = buffers.value
                            for row in range.lowerBound * batch..<range.upperBound * batch where biasFromRows {
                                kernels.addScaled(biasPartials + lane * width, dz + row * width, 1, count: width)
                            }
                            let firstStep = max(range.lowerBound, 1)  // step 0 follows the start state, below
                            guard firstStep < range.upperBound else { return }
                            kernels.multiplyTransposed(m: units, n: width, k: (range.upperBound - firstStep) * batch,
                                                       hidden + (firstStep - 1) * batch * units, lda: units,
                                                       dz + firstStep * batch * width, ldb: width, into: partials + lane * units * width, ldc: width)
                        }
                    }
                }
            }
        }
        hidden = []
        let recurrentGradient = arena.gradients(of: recurrentKernel)
        Lanes.add(recurrentPartials, into: recurrentGradient)
        if stateful && steps > 0 {
            // The start state fed step 0's product: dU += h[-1]^T dz[0].
            kernels.multiplyTransposed(m: units, n: width, k: batch, startHidden, lda: units, gates, ldb: width,
                                       into: recurrentGradient.baseAddress!, ldc: width)
        }
        var kernelPartials = [Float](repeating: 0, count: Lanes.count * inputDim * width)
        var inputGradient: Tensor
        if let distinct {
            inputGradient = distinctInputBackward(distinct, kernelTransposed: kernelTransposed, kernelPartials: &kernelPartials,
                                                  biasPartials: &biasPartials)
        } else {
            inputGradient = Tensor(uninitialized: [batch, steps, inputDim])  // dx = dz W^T below writes every row
            // dW += x^T dz over every (step, row) and dx = dz W^T, the lanes splitting the steps.
            // dz is time-major and x batch-major, and xᵀ · dz needs their rows in one order, so a
            // lane copies a chunk of steps' inputs into time-major order and dW takes one long
            // product per chunk (k = chunk x batch rows). The chunk's size depends on the batch
            // alone, so the sums' order does not depend on the threads.
            let chunkSteps = max(1, LSTM.inputChunkRows / max(1, batch))
            gates.withUnsafeBufferPointer { dz in
                input.withUnsafeBufferPointer { x in
                    kernelPartials.withUnsafeMutableBufferPointer { partials in
                        inputGradient.values.withUnsafeMutableBufferPointer { dx in
                            let buffers = Shared((x.baseAddress!, dz.baseAddress!, partials.baseAddress!, dx.baseAddress!))
                            Lanes.run(rows: steps, threads: threads) { range, lane in
                                let (x, dz, partials, dx) = buffers.value
                                let chunk = UnsafeMutablePointer<Float>.allocate(capacity: chunkSteps * batch * inputDim)
                                defer { chunk.deallocate() }
                                for first in stride(from: range.lowerBound, to: range.upperBound, by: chunkSteps) {
                                    let count = min(chunkSteps, range.upperBound - first)
                                    for b in 0..<batch {
                                        for t in 0..<count {
                                            (chunk + (t * batch + b) * inputDim).update(from: x + (b * steps + first + t) * inputDim, count: inputDim)
                                        }
                                    }
                                    kernels.multiplyTransposed(m: inputDim, n: width, k: count * batch, chunk, lda: inputDim,
                                                               dz + first * batch * width, ldb: width, into: partials + lane * inputDim * width,
                                                               ldc: width)
                                    // A step's dx rows are every steps-th row of the batch-major dx.
                                    for t in first..<first + count {
                                        kernelTransposed.multiply(m: batch, dz + t * batch * width, lda: width, into: dx + t * inputDim,
                                                                  ldc: steps * inputDim, accumulate: false, kernels: kernels)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Lanes.add(kernelPartials, into: arena.gradients(of: kernel))
        Lanes.add(biasPartials, into: arena.gradients(of: bias))
        if !inputMask.isEmpty { LSTM.applyInputMask(inputMask, to: &inputGradient.values, batch: batch, steps: steps) }
        (input, gates, distinct) = ([], [], nil)
        return goBackwards ? Bidirectional.reverseValidSteps(inputGradient, lengths: lengths) : inputGradient
    }
}

extension LSTM {
    /// The input kernel's gradient and the input's, when forward projected each distinct id
    /// once (``DistinctIDs``). All positions of an id hold the same row x, so their share of
    /// xᵀ · dz is xᵀ · (the sum of their dz rows), and their input gradients, which the
    /// Embedding adds into that one row, sum to (that sum) · Wᵀ: dz is summed per id first and
    /// both products run over the distinct ids alone (a quarter of the rows of a batch of
    /// text), as forward's projection did. The input gradient comes back at each id's first
    /// position and zeros elsewhere, which the Embedding adds up to the same rows. The bias's
    /// gradient, the sum of all dz rows, is the sum of the per-id sums. Not the bits of the
    /// plain path (the sums' order differs), but the same for any thread count and on the
    /// AVX2 and AVX-512 paths. Memory: the per-id sums (at most half the rows of dz) live
    /// while dz does, once the cells and hidden states are released (2 x units a step a row,
    /// what the sums take at most), so the layer's peak does not grow.
    fileprivate func distinctInputBackward(
        _ distinct: DistinctIDs, kernelTransposed: PackedMatrix, kernelPartials: inout [Float], biasPartials: inout [Float]
    ) -> Tensor {
        let (batch, steps, inputDim, width, kernels, lengths) = (batch, steps, inputDim, 4 * units, kernels, lengths)
        let count = distinct.count
        var sums = [Float](repeating: 0, count: count * width)
        // Each lane sums its own columns over every valid position in time-major order (dz's),
        // so each sum's order is fixed whatever the threads; then the bias's gradient, the
        // sum of the sums, into the first lane's partial.
        gates.withUnsafeBufferPointer { dz in
            sums.withUnsafeMutableBufferPointer { sums in
                distinct.slots.withUnsafeBufferPointer { slots in
                    biasPartials.withUnsafeMutableBufferPointer { bias in
                        let buffers = Shared((dz.baseAddress!, sums.baseAddress!, slots.baseAddress!, bias.baseAddress!))
                        Lanes.run(rows: width, threads: threads) { columns in
                            let (dz, sums, slots, bias) = buffers.value
                            guard !columns.isEmpty else { return }
                            for t in 0..<steps {
                                for b in 0..<batch where t < Int(lengths[b]) {
                                    kernels.addScaled(sums + Int(slots[b * steps + t]) * width + columns.lowerBound,
                                                      dz + (t * batch + b) * width + columns.lowerBound, 1, count: columns.count)
                                }
                            }
                            for slot in 0..<count {
                                kernels.addScaled(bias + columns.lowerBound, sums + slot * width + columns.lowerBound, 1, count: columns.count)
                            }
                        }
                    }
                }
            }
        }
        gates = []
        var inputGradient = Tensor(zeros: [batch, steps, inputDim])
        // Lanes split the ids; each copies a chunk of its ids' rows for dW, then overwrites
        // the chunk with their gradients (sums · Wᵀ) and puts each at its id's first position.
        let chunkRows = LSTM.inputChunkRows
        input.withUnsafeBufferPointer { x in
            sums.withUnsafeBufferPointer { sums in
                kernelPartials.withUnsafeMutableBufferPointer { partials in
                    inputGradient.values.withUnsafeMutableBufferPointer { dx in
                        distinct.firstPositions.withUnsafeBufferPointer { firstPositions in
                            let buffers = Shared((x.baseAddress!, sums.baseAddress!, partials.baseAddress!, dx.baseAddress!,
                                                  firstPositions.baseAddress!))
                            Lanes.run(rows: count, threads: threads) { range, lane in
                                let (x, sums, partials, dx, firstPositions) = buffers.value
                                let chunk = UnsafeMutablePointer<Float>.allocate(capacity: chunkRows * inputDim)
                                defer { chunk.deallocate() }
                                for first in stride(from: range.lowerBound, to: range.upperBound, by: chunkRows) {
                                    let rows = first..<min(first + chunkRows, range.upperBound)
                                    for slot in rows {
                                        (chunk + (slot - first) * inputDim).update(from: x + firstPositions[slot] * inputDim, count: inputDim)
                                    }
                                    kernels.multiplyTransposed(m: inputDim, n: width, k: rows.count, chunk, lda: inputDim,
                                                               sums + first * width, ldb: width, into: partials + lane * inputDim * width, ldc: width)
                                    kernelTransposed.multiply(m: rows.count, sums + first * width, lda: width, into: chunk, ldc: inputDim,
                                                              accumulate: false, kernels: kernels)
                                    for slot in rows {
                                        (dx + firstPositions[slot] * inputDim).update(from: chunk + (slot - first) * inputDim, count: inputDim)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return inputGradient
    }
}

extension LSTM: SequentialLayer {
    /// `[steps, features]` to `[steps, units]` or `[units]`. Keeps its input (shared, not a
    /// copy), four gates, the cell and the hidden state per step, and a row's dropout masks;
    /// backward releases them as it goes.
    static func facts(
        units: Int, returnSequences: Bool, dropout: Float, recurrentDropout: Float, input: LayerShape, prefix: String
    ) throws(FolioError) -> LayerFacts {
        try LayerFacts.atLeastOne(units, "units")
        try LayerFacts.rate(dropout, "dropout")
        try LayerFacts.rate(recurrentDropout, "recurrent_dropout")
        let steps = try input.requireSteps()
        let inputDim = input.features
        var facts = LayerFacts(
            parameters: layout(prefix: prefix, inputDim: inputDim, units: units),
            output: LayerShape(steps: returnSequences ? steps : nil, features: units),
            keptFloats: steps * (inputDim + 6 * units) + (dropout > 0 ? inputDim : 0) + (recurrentDropout > 0 ? units : 0)
        ) { building in
            let layer = LSTM(inputDim: inputDim, units: units, returnSequences: returnSequences, arena: building.arena, prefix: prefix)
            building.initialize(layer.initialize)
            layer.dropout = dropout
            layer.recurrentDropout = recurrentDropout
            return layer
        }
        facts.releasedByBackward = true
        facts.keepsInput = true
        return facts
    }

    // Outside training no backward follows: the LSTM keeps only the steps it needs.
    func forward(_ x: Tensor, _ pass: inout ForwardPass) -> Tensor {
        forward(x, lengths: pass.lengths, arena: pass.arena, training: pass.training, keepsCaches: pass.training, embeddedIDs: pass.embeddedIDs)
    }

    var lstms: [LSTM] { [self] }

    func use(_ kernels: KernelSet) { self.kernels = kernels }
}
