import FolioTestSupport
import Foundation
import Testing
@testable import FolioNN

/// A fixture from bench/make_nn_fixtures.py (PyTorch, float64), read exactly.
struct NNFixture {
    let json: [String: Any]
    init(_ name: String) throws {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
        json = try #require(try JSONValue.read(url) as? [String: Any])
    }
    func floats(_ keys: String...) -> [Float] {
        var value: Any? = json
        for key in keys { value = (value as? [String: Any])?[key] }
        return (value as! [Double]).map { Float($0) }
    }
    func int(_ key: String) -> Int { Int(json[key] as! Double) }
}

func expectClose(_ a: [Float], _ b: [Float], _ tolerance: Float, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what): sizes", sourceLocation: sourceLocation)
    let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    #expect(worst <= tolerance, "\(what): worst relative error \(worst)", sourceLocation: sourceLocation)
}

/// The central difference of `loss` in `values[index]` with step 1e-2; the value is restored.
func centralDifference(_ values: UnsafeMutableBufferPointer<Float>, at index: Int, _ loss: () -> Double) -> Double {
    let saved = values[index]
    values[index] = saved + 1e-2
    let up = loss()
    values[index] = saved - 1e-2
    let down = loss()
    values[index] = saved
    return (up - down) / 2e-2
}

/// An LSTM (4 inputs, 5 units) with the weights of the PyTorch fixture `lstm.json`.
func fixtureLSTM(_ fixture: NNFixture, sequences: Bool) -> (LSTM, ParameterArena) {
    let arena = ParameterArena(layout: LSTM.layout(prefix: "lstm", inputDim: 4, units: 5))
    let lstm = LSTM(inputDim: 4, units: 5, returnSequences: sequences, arena: arena, prefix: "lstm")
    for (view, key) in [(lstm.kernel, "kernel"), (lstm.recurrentKernel, "recurrent_kernel"), (lstm.bias, "bias")] {
        for (index, value) in fixture.floats(key).enumerated() { arena.values(of: view)[index] = value }
    }
    return (lstm, arena)
}

@Suite struct GemmTests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func blasMatchesTheReference(transposeA: Bool, transposeB: Bool) {
        var generator = SplitMix64(seed: 3)
        let (m, n, k) = (7, 5, 9)
        let a = (0..<m * k).map { _ in Float(generator.nextUnit() * 2 - 1) }
        let b = (0..<k * n).map { _ in Float(generator.nextUnit() * 2 - 1) }
        var expected = (0..<m * n).map { _ in Float(generator.nextUnit()) }
        var found = expected
        Gemm.referenceSgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5, a, b, beta: 2, &expected)
        found.withUnsafeMutableBufferPointer { c in
            Gemm.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5, a, b, beta: 2, c.baseAddress!)
        }
        expectClose(found, expected, 1e-6, "sgemm")
    }

    /// Row strides: each matrix is every other row of a wider buffer; the rows between
    /// are left as they were.
    @Test(arguments: [(false, false), (true, true)])
    func stridedRowsMatchTheReference(transposeA: Bool, transposeB: Bool) {
        var generator = SplitMix64(seed: 4)
        let (m, n, k) = (6, 5, 4)
        let (aRows, aColumns) = transposeA ? (k, m) : (m, k)
        let (bRows, bColumns) = transposeB ? (n, k) : (k, n)
        let a = (0..<aRows * aColumns).map { _ in Float(generator.nextUnit() * 2 - 1) }
        let b = (0..<bRows * bColumns).map { _ in Float(generator.nextUnit() * 2 - 1) }
        var expected = (0..<m * n).map { _ in Float(generator.nextUnit()) }
        // Interleaved with rows of 7s: matrix row r is buffer row 2r.
        func spread(_ values: [Float], columns: Int) -> [Float] {
            stride(from: 0, to: values.count, by: columns).flatMap { Array(values[$0..<$0 + columns]) + Array(repeating: 7, count: columns) }
        }
        var c = spread(expected, columns: n)
        Gemm.referenceSgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a, b, beta: 1, &expected)
        let (wideA, wideB) = (spread(a, columns: aColumns), spread(b, columns: bColumns))
        c.withUnsafeMutableBufferPointer { c in
            Gemm.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, wideA, lda: 2 * aColumns,
                       wideB, ldb: 2 * bColumns, beta: 1, c.baseAddress!, ldc: 2 * n)
        }
        expectClose(stride(from: 0, to: c.count, by: 2 * n).flatMap { Array(c[$0..<$0 + n]) }, expected, 1e-6, "strided sgemm")
        #expect(stride(from: n, to: c.count, by: 2 * n).allSatisfy { c[$0..<$0 + n].allSatisfy { $0 == 7 } })
    }
}

@Suite struct LSTMTests {
    let fixture: NNFixture
    init() throws { fixture = try NNFixture("lstm") }

    func make(_ returnSequences: Bool, _ fixture: NNFixture? = nil) -> (LSTM, ParameterArena) {
        let fixture = fixture ?? self.fixture
        let (inputs, units) = (fixture.int("input_dim"), fixture.int("units"))
        let arena = ParameterArena(layout: LSTM.layout(prefix: "lstm", inputDim: inputs, units: units))
        let lstm = LSTM(inputDim: inputs, units: units, returnSequences: returnSequences, arena: arena, prefix: "lstm")
        for (view, key) in [(lstm.kernel, "kernel"), (lstm.recurrentKernel, "recurrent_kernel"), (lstm.bias, "bias")] {
            let values = arena.values(of: view)
            for (index, value) in fixture.floats(key).enumerated() { values[index] = value }
        }
        return (lstm, arena)
    }

    var input: Tensor { input(fixture) }
    var lengths: [Int32] { lengths(fixture) }
    func input(_ fixture: NNFixture) -> Tensor {
        Tensor(shape: [fixture.int("batch"), fixture.int("steps"), fixture.int("input_dim")], values: fixture.floats("input"))
    }
    func lengths(_ fixture: NNFixture) -> [Int32] { (fixture.json["lengths"] as! [Double]).map { Int32($0) } }

    /// `lstm_wide` has 11 units (a full group of eight and a part) and two rows per lane.
    @Test(arguments: ["lstm", "lstm_wide"], ["sequences", "last"])
    func outputsAndGradientsMatchPyTorch(name: String, mode: String) throws {
        let fixture = try NNFixture(name)
        let (lstm, arena) = make(mode == "sequences", fixture)
        let output = lstm.forward(input(fixture), lengths: lengths(fixture), arena: arena)
        expectClose(output.values, fixture.floats(mode, "output"), 1e-5, "output")
        let gradient = Tensor(shape: output.shape, values: fixture.floats(mode, "output_gradient"))
        let inputGradient = lstm.backward(gradient, arena: arena)
        expectClose(inputGradient.values, fixture.floats(mode, "input_gradient"), 1e-5, "input gradient")
        expectClose(Array(arena.gradients(of: lstm.kernel)), fixture.floats(mode, "kernel_gradient"), 1e-5, "kernel gradient")
        expectClose(Array(arena.gradients(of: lstm.recurrentKernel)), fixture.floats(mode, "recurrent_kernel_gradient"), 1e-5,
                    "recurrent kernel gradient")
        expectClose(Array(arena.gradients(of: lstm.bias)), fixture.floats(mode, "bias_gradient"), 1e-5, "bias gradient")
    }

    /// Padding never changes a result: each row alone, unpadded, gives the padded batch's
    /// outputs and adds up to its gradients.
    @Test func paddedBatchEqualsRowsOneByOne() throws {
        let (lstm, arena) = make(true)
        let (batch, steps, inputs, units) = (fixture.int("batch"), fixture.int("steps"), fixture.int("input_dim"), fixture.int("units"))
        // Garbage in the padding must not matter either.
        var padded = input
        for b in 0..<batch { for t in Int(lengths[b])..<steps { for j in 0..<inputs { padded.values[(b * steps + t) * inputs + j] = 99 } } }
        let output = lstm.forward(padded, lengths: lengths, arena: arena)
        let upstream = Tensor(shape: output.shape, values: fixture.floats("sequences", "output_gradient"))
        _ = lstm.backward(upstream, arena: arena)
        let batchGradient = Array(arena.gradients(of: lstm.kernel))
        arena.zeroGradients()
        for b in 0..<batch {
            let length = Int(lengths[b])
            let row = Tensor(shape: [1, length, inputs], values: Array(input.values[b * steps * inputs..<(b * steps + length) * inputs]))
            let alone = lstm.forward(row, lengths: [Int32(length)], arena: arena)
            expectClose(alone.values, Array(output.values[b * steps * units..<(b * steps + length) * units]), 1e-6, "row \(b)")
            _ = lstm.backward(Tensor(shape: alone.shape, values: Array(upstream.values[b * steps * units..<(b * steps + length) * units])), arena: arena)
        }
        expectClose(Array(arena.gradients(of: lstm.kernel)), batchGradient, 1e-5, "summed row gradients")
    }

    /// Central differences of the loss sum(output * r) against the analytic gradient.
    @Test func recurrentKernelGradientMatchesFiniteDifferences() throws {
        let (lstm, arena) = make(false)
        let r = fixture.floats("last", "output_gradient")
        let loss = { () -> Double in
            zip(lstm.forward(input, lengths: lengths, arena: arena).values, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        _ = loss()
        _ = lstm.backward(Tensor(shape: [fixture.int("batch"), fixture.int("units")], values: r), arena: arena)
        let analytic = Array(arena.gradients(of: lstm.recurrentKernel))
        let values = arena.values(of: lstm.recurrentKernel)
        for index in stride(from: 0, to: values.count, by: 7) {
            let numeric = centralDifference(values, at: index, loss)
            #expect(abs(numeric - Double(analytic[index])) <= 2e-3 * max(1, abs(numeric)), "index \(index): \(numeric) vs \(analytic[index])")
        }
    }
}

@Suite struct DenseAndLossTests {
    @Test func matchPyTorch() throws {
        let fixture = try NNFixture("dense_crossentropy")
        let (rows, features, classes) = (fixture.int("rows"), fixture.int("features"), fixture.int("classes"))
        let arena = ParameterArena(layout: Dense.layout(prefix: "dense", inputDim: features, units: classes))
        let dense = Dense(inputDim: features, units: classes, arena: arena, prefix: "dense")
        for (index, value) in fixture.floats("kernel").enumerated() { arena.values(of: dense.kernel)[index] = value }
        for (index, value) in fixture.floats("bias").enumerated() { arena.values(of: dense.bias)[index] = value }
        let logits = dense.forward(Tensor(shape: [rows, features], values: fixture.floats("input")), arena: arena)
        expectClose(logits.values, fixture.floats("logits"), 1e-5, "logits")
        let labels = (fixture.json["labels"] as! [Double]).map { UInt32($0) }
        let (loss, gradient) = try SparseCategoricalCrossentropy.lossAndGradient(logits: logits, labels: labels)
        #expect(abs(loss - (fixture.json["loss"] as! Double)) < 1e-5)
        let inputGradient = dense.backward(gradient, arena: arena)
        expectClose(inputGradient.values, fixture.floats("input_gradient"), 1e-5, "input gradient")
        expectClose(Array(arena.gradients(of: dense.kernel)), fixture.floats("kernel_gradient"), 1e-5, "kernel gradient")
        expectClose(Array(arena.gradients(of: dense.bias)), fixture.floats("bias_gradient"), 1e-5, "bias gradient")
    }

    @Test func badIdsAndLabelsAreErrorsNotCrashes() throws {
        #expect(throws: FolioError.self) {
            try SparseCategoricalCrossentropy.lossAndGradient(logits: Tensor(zeros: [1, 3]), labels: [3])
        }
        // Huge logits stay finite thanks to the shift.
        let (loss, _) = try SparseCategoricalCrossentropy.lossAndGradient(logits: Tensor(shape: [1, 2], values: [1e30, -1e30]), labels: [0])
        #expect(loss == 0)
        let arena = ParameterArena(layout: Embedding.layout(prefix: "embedding", inputDim: 10, outputDim: 2))
        let embedding = Embedding(inputDim: 10, outputDim: 2, arena: arena, prefix: "embedding")
        #expect(throws: FolioError("Embedding: token id 10 at row 1, position 0 is outside 0..<10")) {
            try embedding.forward(TokenBatch(rows: 2, length: 2, ids: [1, 2, 10, 0], lengths: [2, 1]), arena: arena)
        }
    }
}

/// An embedding with extra ids per position (a word's character n-grams): each output is the
/// mean of its rows, and the table's gradient is the finite difference of a weighted sum of
/// the outputs (the map is linear, so the differences are exact up to rounding).
@Suite struct EmbeddingExtraIDsTests {
    @Test func aPositionIsTheMeanOfItsRowsAndTheGradientMatchesFiniteDifferences() throws {
        let (inputDim, outputDim) = (9, 3)
        let arena = ParameterArena(layout: Embedding.layout(prefix: "embedding", inputDim: inputDim, outputDim: outputDim))
        let embedding = Embedding(inputDim: inputDim, outputDim: outputDim, arena: arena, prefix: "embedding")
        var random = SplitMixSource(seed: 4)
        embedding.initialize(arena: arena, random: &random)
        // Two rows of three positions; position 1 has the extra ids 5, 5, 8 (a repeat counts
        // twice), position 3 the id 7, the others none.
        let extra = PositionIDs(offsets: [0, 0, 3, 3, 4, 4, 4], ids: [5, 5, 8, 7])
        let batch = TokenBatch(rows: 2, length: 3, ids: [2, 3, 0, 4, 1, 0], lengths: [2, 2], extraIDs: extra)
        let table = Array(arena.values(of: embedding.table))
        let row = { (id: Int) in Array(table[id * outputDim..<(id + 1) * outputDim]) }
        let output = try embedding.forward(batch, arena: arena)
        let expected: [[Float]] = [row(2), (0..<outputDim).map { (row(3)[$0] + 2 * row(5)[$0] + row(8)[$0]) / 4 }, row(0),
                                   (0..<outputDim).map { (row(4)[$0] + row(7)[$0]) / 2 }, row(1), row(0)]
        for (index, values) in expected.enumerated() {
            for j in 0..<outputDim { #expect(abs(output.values[index * outputDim + j] - values[j]) < 1e-6) }
        }
        let upstream = (0..<output.count).map { Float($0 % 5) - 1.5 }
        embedding.addGradient(Tensor(shape: output.shape, values: upstream), arena: arena)
        let analytic = Array(arena.gradients(of: embedding.table))
        let objective = { () throws -> Double in
            let out = try embedding.forward(batch, arena: arena)
            return zip(out.values, upstream).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        let values = arena.values(of: embedding.table)
        for index in 0..<inputDim * outputDim {
            let saved = values[index]
            values[index] = saved + 0.01
            let up = try objective()
            values[index] = saved - 0.01
            let down = try objective()
            values[index] = saved
            #expect(abs(Double(analytic[index]) - (up - down) / 0.02) < 1e-3, "entry \(index)")
        }
        let bad = TokenBatch(rows: 1, length: 2, ids: [1, 2], lengths: [2], extraIDs: PositionIDs(offsets: [0, 1], ids: [3]))
        #expect(throws: FolioError.self) { try embedding.forward(bad, arena: arena) }
    }
}

@Suite struct ActivationTests {
    @Test func fastActivationsMatchLibm() {
        var worstSigmoid: Float = 0
        var worstTanh: Float = 0
        var x: Float = -40
        while x <= 40 {
            worstSigmoid = max(worstSigmoid, abs(Activations.sigmoid(x) - Activations.referenceSigmoid(x)))
            worstTanh = max(worstTanh, abs(Activations.tanh(x) - Activations.referenceTanh(x)))
            x += 0.001
        }
        #expect(worstSigmoid < 3e-7)
        #expect(worstTanh < 5e-7)
        #expect(Activations.tanh(100) == 1 && Activations.tanh(-100) == -1 && Activations.sigmoid(-200) < 1e-30)
        let e1 = Activations.exp(1)
        #expect(abs(e1 - expf(1)) / expf(1) < 2e-7)
    }

    /// Regression: NaN reached `Int32(_:)` inside exp and trapped (a diverging run crashed
    /// instead of stopping with a message).
    @Test func nanAndInfinityPassThroughTheActivationsWithoutATrap() {
        #expect(Activations.exp(.nan).isNaN && Activations.sigmoid(.nan).isNaN && Activations.tanh(.nan).isNaN)
        #expect(Activations.exp(.infinity) > 1e38 && Activations.exp(-.infinity) < 1e-37)
        #expect(Activations.sigmoid(.infinity) == 1 && Activations.tanh(-.infinity) == -1)
    }
}

@Suite struct LSTMRowTests {
    /// The C kernels of every path this CPU runs against their plain twins, at widths that
    /// fill no vector, one, and several with a part left over, with pre-activations far
    /// into saturation.
    @Test(arguments: [1, 5, 16, 37, 128], KernelSet.available)
    func kernelsMatchTheReference(units: Int, kernels: KernelSet) {
        var generator = SplitMix64(seed: UInt64(units))
        func values(_ count: Int, scale: Double) -> [Float] { (0..<count).map { _ in Float((generator.nextUnit() * 2 - 1) * scale) } }
        let gates = values(4 * units, scale: 12), cPrevious = values(units, scale: 3)
        let dh = values(units, scale: 1), dc = values(units, scale: 1)
        var (fastGates, fastC, fastH) = (gates, [Float](repeating: 0, count: units), [Float](repeating: 0, count: units))
        var (slowGates, slowC, slowH) = (gates, fastC, fastH)
        kernels.lstmForwardRow(&fastGates, cPrevious: cPrevious, c: &fastC, h: &fastH, units: units)
        LSTMRows.referenceForward(gates: &slowGates, cPrevious: cPrevious, c: &slowC, h: &slowH, units: units)
        expectClose(fastGates, slowGates, 1e-6, "activated gates")
        expectClose(fastC, slowC, 1e-6, "c")
        expectClose(fastH, slowH, 1e-6, "h")
        var (fastDc, slowDc) = (dc, dc)
        kernels.lstmBackwardRow(&fastGates, c: slowC, cPrevious: cPrevious, dh: dh, dc: &fastDc, units: units)
        LSTMRows.referenceBackward(gates: &slowGates, c: slowC, cPrevious: cPrevious, dh: dh, dc: &slowDc, units: units)
        expectClose(fastGates, slowGates, 1e-6, "gate gradients")
        expectClose(fastDc, slowDc, 1e-6, "dc")
    }

    /// NaN passes through (so a diverging loss is caught), as in ``Activations``.
    @Test(arguments: KernelSet.available)
    func nanPassesThrough(kernels: KernelSet) {
        var gates: [Float] = [.nan, 0, 0, 0]
        var (c, h): ([Float], [Float]) = ([0], [0])
        kernels.lstmForwardRow(&gates, cPrevious: [0], c: &c, h: &h, units: 1)
        #expect(gates[0].isNaN && c[0].isNaN && h[0].isNaN)
    }
}

@Suite struct GRUTests {
    /// `gru_wide` has 11 units (a full group of eight and a part).
    @Test(arguments: ["gru", "gru_wide"], ["sequences", "last"])
    func outputsAndGradientsMatchPyTorch(name: String, mode: String) throws {
        let fixture = try NNFixture(name)
        let (inputs, units) = (fixture.int("input_dim"), fixture.int("units"))
        let arena = ParameterArena(layout: GRU.layout(prefix: "gru", inputDim: inputs, units: units))
        let gru = GRU(inputDim: inputs, units: units, returnSequences: mode == "sequences", arena: arena, prefix: "gru")
        for (view, key) in [(gru.kernel, "kernel"), (gru.recurrentKernel, "recurrent_kernel"), (gru.inputBias, "input_bias"),
                            (gru.recurrentBias, "recurrent_bias")] {
            for (index, value) in fixture.floats(key).enumerated() { arena.values(of: view)[index] = value }
        }
        let input = Tensor(shape: [fixture.int("batch"), fixture.int("steps"), inputs], values: fixture.floats("input"))
        let lengths = (fixture.json["lengths"] as! [Double]).map { Int32($0) }
        let output = gru.forward(input, lengths: lengths, arena: arena)
        expectClose(output.values, fixture.floats(mode, "output"), 1e-5, "output")
        let inputGradient = gru.backward(Tensor(shape: output.shape, values: fixture.floats(mode, "output_gradient")), arena: arena)
        expectClose(inputGradient.values, fixture.floats(mode, "input_gradient"), 1e-5, "input gradient")
        expectClose(Array(arena.gradients(of: gru.kernel)), fixture.floats(mode, "kernel_gradient"), 1e-5, "kernel gradient")
        expectClose(Array(arena.gradients(of: gru.recurrentKernel)), fixture.floats(mode, "recurrent_kernel_gradient"), 1e-5, "recurrent kernel gradient")
        expectClose(Array(arena.gradients(of: gru.inputBias)), fixture.floats(mode, "input_bias_gradient"), 1e-5, "input bias gradient")
        expectClose(Array(arena.gradients(of: gru.recurrentBias)), fixture.floats(mode, "recurrent_bias_gradient"), 1e-5, "recurrent bias gradient")
    }
}

@Suite struct BidirectionalTests {
    @Test(arguments: ["sequences", "last"])
    func matchesPyTorchsBidirectionalLSTM(mode: String) throws {
        let fixture = try NNFixture("bidirectional")
        let (inputs, units, batch, steps) = (4, 5, 3, 6)
        let lengths: [Int32] = [6, 4, 1]
        let arena = ParameterArena(layout: LSTM.layout(prefix: "f", inputDim: inputs, units: units) + LSTM.layout(prefix: "b", inputDim: inputs, units: units))
        let ahead = LSTM(inputDim: inputs, units: units, returnSequences: mode == "sequences", arena: arena, prefix: "f")
        let behind = LSTM(inputDim: inputs, units: units, returnSequences: mode == "sequences", arena: arena, prefix: "b")
        for (layer, key) in [(ahead, "forward"), (behind, "backward")] {
            for (view, name) in [(layer.kernel, "kernel"), (layer.recurrentKernel, "recurrent_kernel"), (layer.bias, "bias")] {
                for (index, value) in fixture.floats(key, name).enumerated() { arena.values(of: view)[index] = value }
            }
        }
        let bidirectional = Bidirectional(forward: .lstm(ahead), backward: .lstm(behind))
        let input = Tensor(shape: [batch, steps, inputs], values: fixture.floats("input"))
        let output = bidirectional.forward(input, lengths: lengths, arena: arena)
        expectClose(output.values, fixture.floats(mode, "output"), 1e-5, "output")
        let inputGradient = bidirectional.backward(Tensor(shape: output.shape, values: fixture.floats(mode, "output_gradient")), arena: arena)
        expectClose(inputGradient.values, fixture.floats(mode, "input_gradient"), 1e-5, "input gradient")
        expectClose(Array(arena.gradients(of: behind.kernel)), fixture.floats(mode, "backward_kernel_gradient"), 1e-5, "backward kernel gradient")
    }
}

@Suite struct GoBackwardsTests {
    /// goBackwards equals the same layer on each row's valid steps reversed by hand, for
    /// outputs and input gradients (reversed back).
    @Test(arguments: ["lstm", "gru"])
    func readsValidStepsBackwards(kind: String) throws {
        let (batch, steps, inputs, units) = (3, 6, 4, 5)
        let lengths: [Int32] = [6, 4, 1]
        var generator = SplitMix64(seed: 17)
        let input = Tensor(shape: [batch, steps, inputs], values: (0..<batch * steps * inputs).map { _ in Float(generator.nextUnit() * 2 - 1) })
        let upstream = Tensor(shape: [batch, steps, units], values: (0..<batch * steps * units).map { _ in Float(generator.nextUnit() * 2 - 1) })
        func run(goBackwards: Bool, _ x: Tensor) -> (Tensor, Tensor, [Float]) {
            let layout = kind == "lstm" ? LSTM.layout(prefix: "l", inputDim: inputs, units: units) : GRU.layout(prefix: "l", inputDim: inputs, units: units)
            let arena = ParameterArena(layout: layout)
            var random = SplitMixSource(seed: 3)
            if kind == "lstm" {
                let layer = LSTM(inputDim: inputs, units: units, returnSequences: true, goBackwards: goBackwards, arena: arena, prefix: "l")
                layer.initialize(arena: arena, random: &random)
                let y = layer.forward(x, lengths: lengths, arena: arena)
                return (y, layer.backward(upstream, arena: arena), Array(arena.gradients))
            }
            let layer = GRU(inputDim: inputs, units: units, returnSequences: true, goBackwards: goBackwards, arena: arena, prefix: "l")
            layer.initialize(arena: arena, random: &random)
            let y = layer.forward(x, lengths: lengths, arena: arena)
            return (y, layer.backward(upstream, arena: arena), Array(arena.gradients))
        }
        let (backwardsOutput, backwardsGradient, backwardsWeights) = run(goBackwards: true, input)
        let (byHandOutput, byHandGradient, byHandWeights) = run(goBackwards: false, Bidirectional.reverseValidSteps(input, lengths: lengths))
        #expect(backwardsOutput == byHandOutput)
        #expect(backwardsGradient == Bidirectional.reverseValidSteps(byHandGradient, lengths: lengths))
        #expect(backwardsWeights == byHandWeights)
        #expect(backwardsOutput != run(goBackwards: false, input).0)
    }
}

@Suite struct LSTMDropoutTests {
    func layer(_ fixture: NNFixture, sequences: Bool = false) -> (LSTM, ParameterArena) {
        let (lstm, arena) = fixtureLSTM(fixture, sequences: sequences)
        lstm.dropout = 0.3
        lstm.recurrentDropout = 0.4
        return (lstm, arena)
    }

    /// With the masks held fixed, the analytic gradients match central differences (for
    /// sequences too, where backward reads the states from the batch-major output).
    @Test(arguments: ["last", "sequences"])
    func gradientsWithMasksMatchFiniteDifferences(mode: String) throws {
        let fixture = try NNFixture("lstm")
        let (lstm, arena) = layer(fixture, sequences: mode == "sequences")
        let input = Tensor(shape: [3, 6, 4], values: fixture.floats("input"))
        // Two long rows in the second lane: backward reads h[t-1] of more than one row there.
        let lengths: [Int32] = [6, 5, 6]
        let r = fixture.floats(mode, "output_gradient")
        let loss = { () -> Double in
            lstm.restartMasks(seed: 1)
            return zip(lstm.forward(input, lengths: lengths, arena: arena, training: true).values, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        _ = loss()
        let inputGradient = lstm.backward(Tensor(shape: mode == "sequences" ? [3, 6, 5] : [3, 5], values: r), arena: arena)
        for (view, name) in [(lstm.kernel, "kernel"), (lstm.recurrentKernel, "recurrent")] {
            let analytic = Array(arena.gradients(of: view))
            let values = arena.values(of: view)
            for index in stride(from: 0, to: values.count, by: 5) {
                #expect(abs(centralDifference(values, at: index, loss) - Double(analytic[index])) < 2e-3, "\(name) \(index)")
            }
        }
        #expect(inputGradient.values.contains(0), "dropped inputs get no gradient")
    }

    @Test func inferenceIgnoresDropoutAndMasksDropTheirRate() throws {
        let fixture = try NNFixture("lstm")
        let (lstm, arena) = layer(fixture)
        let input = Tensor(shape: [3, 6, 4], values: fixture.floats("input"))
        let inference = lstm.forward(input, lengths: [6, 4, 1], arena: arena)
        expectClose(inference.values, fixture.floats("last", "output"), 1e-5, "inference equals the plain layer")
        #expect(lstm.forward(input, lengths: [6, 4, 1], arena: arena, training: true) != inference)
        var source = SplitMixSource(seed: 2)
        let mask = LSTM.mask(count: 100_000, rate: 0.3, &source)
        #expect(abs(Double(mask.filter { $0 == 0 }.count) / 100_000 - 0.3) < 0.01)
        #expect(mask.filter { $0 != 0 }.allSatisfy { abs($0 - 1 / 0.7) < 1e-6 })
    }
}

@Suite struct LSTMStateTests {
    func make(_ fixture: NNFixture, sequences: Bool) -> (LSTM, ParameterArena) { fixtureLSTM(fixture, sequences: sequences) }

    func slice(_ x: Tensor, steps range: Range<Int>) -> Tensor {
        let (batch, steps, features) = (x.shape[0], x.shape[1], x.shape[2])
        var values: [Float] = []
        for b in 0..<batch { values += x.values[(b * steps + range.lowerBound) * features..<(b * steps + range.upperBound) * features] }
        return Tensor(shape: [batch, range.count, features], values: values)
    }

    @Test func returnStateGivesTheLastValidStep() throws {
        let fixture = try NNFixture("lstm")
        let (lstm, arena) = make(fixture, sequences: false)
        let output = lstm.forward(Tensor(shape: [3, 6, 4], values: fixture.floats("input")), lengths: [6, 4, 1], arena: arena)
        #expect(lstm.finalState.hidden == output.values)
        #expect(lstm.finalState.cell.count == 15 && lstm.finalState.cell != output.values)
    }

    /// Two stateful halves give the whole sequence's outputs; the second half's gradient is
    /// the truncated one: finite differences with its start state held fixed.
    @Test func statefulHalvesEqualTheWholeSequence() throws {
        let fixture = try NNFixture("lstm")
        let input = Tensor(shape: [3, 6, 4], values: fixture.floats("input"))
        let full: [Int32] = [6, 6, 6]
        let (whole, wholeArena) = make(fixture, sequences: true)
        let expected = whole.forward(input, lengths: full, arena: wholeArena)
        let (lstm, arena) = make(fixture, sequences: true)
        lstm.stateful = true
        let first = lstm.forward(slice(input, steps: 0..<3), lengths: [3, 3, 3], arena: arena)
        let start = lstm.finalState
        let second = lstm.forward(slice(input, steps: 3..<6), lengths: [3, 3, 3], arena: arena)
        expectClose(first.values, slice(expected, steps: 0..<3).values, 1e-6, "first half")
        expectClose(second.values, slice(expected, steps: 3..<6).values, 1e-6, "second half")

        let r = (0..<45).map { Float(($0 % 7) - 3) / 3 }
        _ = lstm.backward(Tensor(shape: [3, 3, 5], values: r), arena: arena)
        let analytic = Array(arena.gradients(of: lstm.recurrentKernel))
        let loss = { () -> Double in
            lstm.setState(hidden: start.hidden, cell: start.cell)
            return zip(lstm.forward(slice(input, steps: 3..<6), lengths: [3, 3, 3], arena: arena).values, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        let values = arena.values(of: lstm.recurrentKernel)
        for index in stride(from: 0, to: values.count, by: 9) {
            #expect(abs(centralDifference(values, at: index, loss) - Double(analytic[index])) < 2e-3, "recurrent kernel \(index)")
        }
        lstm.resetStates()
        #expect(lstm.forward(slice(input, steps: 3..<6), lengths: [3, 3, 3], arena: arena) != second)
    }
}

@Suite struct FreedMemoryReuseTests {
    // The C side must see the C library it configures (a header order once hid it, and the
    // call did nothing): glibc is this project's platform. A sanitizer's allocator is not glibc's.
    @Test(.disabled(if: runsUnderSanitizer, "a sanitizer's allocator replaces glibc's, which mallopt configures"))
    func appliesOnGlibc() {
        #expect(FreedMemoryReuse.enable())
    }
}

@Suite struct LSTMInferencePathTests {
    /// Without caches (inference), the step buffers are rings of one or two steps: the
    /// outputs and final states must be the ones the caching pass gives, bit for bit, with
    /// padded rows, both output modes, a stateful second call, and on every kernel path.
    /// Widths of 11, 40 and 64 units: partial and whole panels and vectors.
    @Test(arguments: [false, true], KernelSet.available)
    func outputsEqualTheCachingPass(returnSequences: Bool, kernels: KernelSet) {
        for units in [11, 40, 64] { outputsEqualTheCachingPass(returnSequences: returnSequences, kernels: kernels, units: units) }
    }

    func outputsEqualTheCachingPass(returnSequences: Bool, kernels: KernelSet, units: Int) {
        let (inputDim, batch, steps) = (5, 7, 9)
        let lengths: [Int32] = [9, 1, 0, 4, 9, 7, 2]
        var generator = SplitMix64(seed: 11)
        let input = Tensor(shape: [batch, steps, inputDim], values: (0..<batch * steps * inputDim).map { _ in Float(generator.nextUnit() * 2 - 1) })
        func layer() -> (LSTM, ParameterArena) {
            let arena = ParameterArena(layout: LSTM.layout(prefix: "l", inputDim: inputDim, units: units))
            let lstm = LSTM(inputDim: inputDim, units: units, returnSequences: returnSequences, arena: arena, prefix: "l")
            var random = SplitMixSource(seed: 3)
            lstm.initialize(arena: arena, random: &random)
            lstm.kernels = kernels
            lstm.stateful = true
            return (lstm, arena)
        }
        let (caching, cachingArena) = layer()
        let (lean, leanArena) = layer()
        for call in 0..<2 {
            let expected = caching.forward(input, lengths: lengths, arena: cachingArena)
            let found = lean.forward(input, lengths: lengths, arena: leanArena, keepsCaches: false)
            #expect(found.shape == expected.shape && found.values == expected.values, "units \(units), call \(call)")
            // Each step writes its rows of a returned sequence as it ends; a padded step's are zeros.
            if returnSequences {
                for b in 0..<batch {
                    let padded = found.values[(b * steps + Int(lengths[b])) * units..<(b + 1) * steps * units]
                    let valid = found.values[b * steps * units..<(b * steps + Int(lengths[b])) * units]
                    #expect(padded.allSatisfy { $0 == 0 } && !valid.contains(0), "row \(b), units \(units)")
                }
            }
            #expect(lean.finalState.hidden == caching.finalState.hidden && lean.finalState.cell == caching.finalState.cell,
                    "units \(units), call \(call)")
        }
        // A caching pass after a lean one still trains: backward runs and gives gradients.
        let output = lean.forward(input, lengths: lengths, arena: leanArena)
        _ = lean.backward(Tensor(shape: output.shape, values: [Float](repeating: 1, count: output.values.count)), arena: leanArena)
        #expect(leanArena.gradients(of: lean.kernel).contains { $0 != 0 })
    }
}

@Suite struct BidirectionalInferencePathTests {
    /// A bidirectional LSTM in a model's inference keeps no caches (as a lone LSTM does) and
    /// gives the caching pass's outputs bit for bit; a training pass after it still runs backward.
    @Test(arguments: [false, true])
    func outputsEqualTheCachingPass(returnSequences: Bool) throws {
        let specs: [LayerSpec] = [.embedding(outputDim: 6), .bidirectional(.lstm(units: 9, returnSequences: returnSequences))]
            + (returnSequences ? [.globalMaxPooling1D] : []) + [.dense(units: 3)]
        let model = try Sequential(specs, vocabulary: 50, seed: 4)
        var generator = SplitMix64(seed: 8)
        let lengths: [Int32] = [7, 3, 0, 5]
        let ids = (0..<4 * 7).map { position in position % 7 < Int(lengths[position / 7]) ? UInt32(generator.next() % 50) : 0 }
        let batch = TokenBatch(rows: 4, length: 7, ids: ids, lengths: lengths)
        let lean = try model.forward(batch, training: false)
        let caching = try model.forward(batch, training: true)  // no dropout: the same function
        #expect(lean.values == caching.values)
        model.backward(Tensor(shape: caching.shape, values: [Float](repeating: 1, count: caching.values.count)))
        #expect(model.arena.gradients.contains { $0 != 0 })
    }
}

/// The ranks' weight check: equal weights hash equal, and a change to any one weight (in
/// each of the four lanes, and in the bytes after the last whole group) changes the hash.
@Suite struct WeightsHashTests {
    @Test func anyChangedWeightChangesTheHash() {
        let layout: [(name: String, shape: [Int])] = [("w", [37])]  // 148 bytes: 4 groups of 32 and 20 more
        let arena = ParameterArena(layout: layout), twin = ParameterArena(layout: layout)
        for index in 0..<37 { arena.values[index] = Float(index) * 0.25; twin.values[index] = Float(index) * 0.25 }
        let base = GradientReduction.weightsHash(arena)
        #expect(GradientReduction.weightsHash(twin) == base)
        var seen: Set<UInt64> = [base]
        for index in [0, 2, 4, 6, 9, 31, 32, 35, 36] {
            let saved = arena.values[index]
            arena.values[index] = saved + 1e-3
            let changed = GradientReduction.weightsHash(arena)
            #expect(changed != base, "weight \(index)")
            seen.insert(changed)
            arena.values[index] = saved
        }
        #expect(seen.count == 10)
        #expect(GradientReduction.weightsHash(arena) == base)
    }

    /// A range the ranks do not hold alike (a table dealt by rows) is left out; a weight
    /// on either side of it still changes the hash.
    @Test func anExcludedRangeIsLeftOut() {
        let arena = ParameterArena(layout: [("w", [37])])
        for index in 0..<37 { arena.values[index] = Float(index) * 0.25 }
        let base = GradientReduction.weightsHash(arena, excluding: 5..<30)
        arena.values[12] += 1
        #expect(GradientReduction.weightsHash(arena, excluding: 5..<30) == base)
        for index in [4, 30] {
            arena.values[index] += 1
            #expect(GradientReduction.weightsHash(arena, excluding: 5..<30) != base, "weight \(index)")
            arena.values[index] -= 1
        }
    }
}

@Suite struct RowMarksTests {
    @Test func rowsComeBackOnceEachAscendingAndAreCleared() {
        var marks = RowMarks(rows: 70)
        for row in [69, 3, 64, 3, 0, 63, 69] { marks.insert(row) }
        #expect(marks.count == 5)
        #expect(marks.removeAll() == [0, 3, 63, 64, 69])
        #expect(marks.count == 0 && marks.removeAll().isEmpty)
        marks.reserve(rows: 200)
        marks.insert(199)
        marks.insert(1)
        #expect(marks.removeAll() == [1, 199])
    }

    /// Marking a slice counts each new row once, whether it repeats within the slice or was
    /// marked before, as marking its rows one by one does.
    @Test func aSliceMarksWhatItsRowsOneByOneMark() {
        var (bulk, single) = (RowMarks(rows: 200), RowMarks(rows: 200))
        bulk.insert(64)
        single.insert(64)
        let rows: [UInt32] = [7, 199, 64, 7, 0, 128, 127, 199, 65]
        bulk.insert(rows[1...])
        for row in rows[1...] { single.insert(Int(row)) }
        #expect(bulk.count == 7 && bulk.count == single.count)
        #expect(bulk.removeAll() == single.removeAll())
    }
}
