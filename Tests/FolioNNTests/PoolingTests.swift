import FolioTestSupport
import Foundation
import Testing
@testable import FolioNN

@Suite struct PoolingAndActivationTests {
    func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = SplitMix64(seed: seed)
        return Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in Float(generator.nextUnit() * 2 - 1) })
    }

    /// Central differences of sum(output * r) for any layer given as forward/backward.
    func checkGradient(_ input: Tensor, forward: @escaping (Tensor) -> Tensor, backward: (Tensor) -> Tensor, _ what: String) {
        let output = forward(input)
        let r = randomTensor(output.shape, seed: 9)
        let analytic = backward(r)
        let loss = { (x: Tensor) -> Double in zip(forward(x).values, r.values).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
        for index in stride(from: 0, to: input.count, by: 3) {
            var up = input, down = input
            up.values[index] += 1e-3
            down.values[index] -= 1e-3
            let numeric = (loss(up) - loss(down)) / 2e-3
            #expect(abs(numeric - Double(analytic.values[index])) < 2e-3, "\(what) at \(index): \(numeric) vs \(analytic.values[index])")
        }
    }

    @Test(arguments: [GlobalPooling1D.Kind.average, .sqrtN])
    func maskedSumsMatchAPlainLoopAndIgnorePadding(kind: GlobalPooling1D.Kind) {
        let input = randomTensor([3, 5, 4], seed: 1)
        let lengths: [Int32] = [5, 2, 0]
        let output = GlobalPooling1D(kind).forward(input, lengths: lengths)
        for b in 0..<3 {
            for f in 0..<4 {
                let valid = Int(lengths[b])
                let sum = (0..<valid).reduce(Float(0)) { $0 + input.values[(b * 5 + $1) * 4 + f] }
                let expected = valid == 0 ? 0 : sum / (kind == .average ? Float(valid) : Float(valid).squareRoot())
                #expect(abs(output.values[b * 4 + f] - expected) < 1e-6)
            }
        }
        // A bag of 4 distinct one-hot tokens: the mean has L2 norm 1/2, sqrtn keeps it at 1.
        let bag = Tensor(shape: [1, 4, 4], values: (0..<16).map { $0 % 5 == 0 ? 1 : 0 })
        let pooled = GlobalPooling1D(kind).forward(bag, lengths: [4]).values
        #expect(abs(pooled.reduce(0) { $0 + $1 * $1 }.squareRoot() - (kind == .average ? 0.5 : 1)) < 1e-6)
        var padded = input
        for t in 2..<5 { for f in 0..<4 { padded.values[(1 * 5 + t) * 4 + f] = 1000 } }
        #expect(GlobalPooling1D(.max).forward(padded, lengths: lengths).values[4..<8] == GlobalPooling1D(.max).forward(input, lengths: lengths).values[4..<8])
    }

    @Test(arguments: [GlobalPooling1D.Kind.average, .sqrtN, .max])
    func poolingGradients(kind: GlobalPooling1D.Kind) {
        let pool = GlobalPooling1D(kind)
        checkGradient(randomTensor([2, 4, 3], seed: 2), forward: { pool.forward($0, lengths: [4, 3]) }, backward: pool.backward, "\(kind)")
    }

    /// Weighted: `Σ w·x / Σ w` and `Σ w·x / √(Σ w²)` against a plain loop; weights of 1 give
    /// the unweighted result bit for bit; a row whose weights are all 0 pools to zeros and
    /// passes no gradient; padding's weights never count.
    @Test(arguments: [GlobalPooling1D.Kind.average, .sqrtN])
    func weightedSumsMatchAPlainLoop(kind: GlobalPooling1D.Kind) {
        let input = randomTensor([3, 5, 4], seed: 5)
        let lengths: [Int32] = [5, 3, 2]
        var weights = randomTensor([3 * 5], seed: 6).values.map { abs($0) + 0.1 }
        weights[2 * 5] = 0
        weights[2 * 5 + 1] = 0
        let pool = GlobalPooling1D(kind)
        let output = pool.forward(input, lengths: lengths, weights: weights)
        for b in 0..<2 {
            let valid = Int(lengths[b])
            let w = (0..<valid).map { Double(weights[b * 5 + $0]) }
            let divisor = kind == .average ? w.reduce(0, +) : w.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for f in 0..<4 {
                let sum = (0..<valid).reduce(0.0) { $0 + w[$1] * Double(input.values[(b * 5 + $1) * 4 + f]) }
                #expect(abs(Double(output.values[b * 4 + f]) - sum / divisor) < 1e-6)
            }
        }
        #expect(output.values[8..<12].allSatisfy { $0 == 0 })
        #expect(pool.backward(randomTensor([3, 4], seed: 7)).values[(2 * 5) * 4..<(3 * 5) * 4].allSatisfy { $0 == 0 })
        var paddingWeights = weights
        paddingWeights[1 * 5 + 4] = 1000
        #expect(GlobalPooling1D(kind).forward(input, lengths: lengths, weights: paddingWeights) == output)

        let ones = [Float](repeating: 1, count: 15)
        let plain = GlobalPooling1D(kind)
        let unit = GlobalPooling1D(kind)
        #expect(unit.forward(input, lengths: lengths, weights: ones) == plain.forward(input, lengths: lengths))
        let gradient = randomTensor([3, 4], seed: 8)
        #expect(unit.backward(gradient) == plain.backward(gradient))
    }

    @Test(arguments: [GlobalPooling1D.Kind.average, .sqrtN])
    func weightedPoolingGradients(kind: GlobalPooling1D.Kind) {
        let pool = GlobalPooling1D(kind)
        let weights = randomTensor([2 * 4], seed: 3).values.map { abs($0) + 0.2 }
        checkGradient(randomTensor([2, 4, 3], seed: 2), forward: { pool.forward($0, lengths: [4, 3], weights: weights) },
                      backward: pool.backward, "weighted \(kind)")
    }

    @Test(arguments: Activation.Function.allCases)
    func activationGradients(function: Activation.Function) {
        let layer = Activation(function)
        checkGradient(randomTensor([3, 5], seed: 4), forward: layer.forward, backward: layer.backward, function.rawValue)
    }

    @Test func dropoutIsSeededScaledAndOffAtInference() {
        let input = Tensor(shape: [1, 10_000], values: [Float](repeating: 1, count: 10_000))
        let a = Dropout(rate: 0.25, seed: 3).forward(input, training: true)
        let b = Dropout(rate: 0.25, seed: 3).forward(input, training: true)
        #expect(a == b)
        let kept = a.values.filter { $0 != 0 }
        #expect(kept.allSatisfy { abs($0 - 4.0 / 3.0) < 1e-6 })
        #expect(abs(Double(kept.count) / 10_000 - 0.75) < 0.02)
        #expect(Dropout(rate: 0.25, seed: 3).forward(input, training: false) == input)
        let layer = Dropout(rate: 0.5, seed: 8)
        let output = layer.forward(input, training: true)
        #expect(layer.backward(input) == output, "the gradient goes through the same mask")
    }
}

@Suite struct Conv1DTests {
    /// Conv1D then MaxPooling1D, values and gradients against torch's conv1d and max_pool1d.
    @Test(arguments: [Conv1D.Padding.valid, .same])
    func convolutionAndMaxPoolingMatchPyTorch(padding: Conv1D.Padding) throws {
        let fixture = try NNFixture("conv1d")
        let key = padding.rawValue
        let arena = ParameterArena(layout: Conv1D.layout(prefix: "conv", channels: 3, filters: 4, kernelSize: 3))
        let conv = Conv1D(channels: 3, filters: 4, kernelSize: 3, padding: padding, arena: arena, prefix: "conv")
        for (index, value) in fixture.floats(key, "kernel").enumerated() { arena.values(of: conv.kernel)[index] = value }
        for (index, value) in fixture.floats(key, "bias").enumerated() { arena.values(of: conv.bias)[index] = value }
        let pool = MaxPooling1D(poolSize: 2)
        let input = Tensor(shape: [2, 7, 3], values: fixture.floats("input"))
        let output = pool.forward(conv.forward(input, arena: arena))
        #expect(output.shape == ((fixture.json[key] as! [String: Any])["output_shape"] as! [Double]).map { Int($0) })
        expectClose(output.values, fixture.floats(key, "output"), 1e-5, "output")
        let inputGradient = conv.backward(pool.backward(Tensor(shape: output.shape, values: fixture.floats(key, "output_gradient"))), arena: arena)
        expectClose(inputGradient.values, fixture.floats(key, "input_gradient"), 1e-5, "input gradient")
        expectClose(Array(arena.gradients(of: conv.kernel)), fixture.floats(key, "kernel_gradient"), 1e-5, "kernel gradient")
        expectClose(Array(arena.gradients(of: conv.bias)), fixture.floats(key, "bias_gradient"), 1e-5, "bias gradient")
        #expect(conv.outputLengths([7, 2]) == (padding == .same ? [7, 2] : [5, 0]))
    }
}

@Suite struct BatchNormalizationTests {
    @Test func trainingAndInferenceMatchKeras() throws {
        let fixture = try NNFixture("batchnorm")
        let arena = ParameterArena(layout: BatchNormalization.layout(prefix: "bn", features: 3))
        let layer = BatchNormalization(features: 3, arena: arena, prefix: "bn")
        for (index, value) in fixture.floats("gamma").enumerated() { arena.values(of: layer.gamma)[index] = value }
        for (index, value) in fixture.floats("beta").enumerated() { arena.values(of: layer.beta)[index] = value }
        let input = Tensor(shape: [6, 3], values: fixture.floats("input"))
        let output = layer.forward(input, training: true, arena: arena)
        expectClose(output.values, fixture.floats("training_output"), 1e-5, "training output")
        let inputGradient = layer.backward(Tensor(shape: [6, 3], values: fixture.floats("output_gradient")), arena: arena)
        expectClose(inputGradient.values, fixture.floats("input_gradient"), 1e-4, "input gradient")
        expectClose(Array(arena.gradients(of: layer.gamma)), fixture.floats("gamma_gradient"), 1e-5, "gamma gradient")
        expectClose(Array(arena.gradients(of: layer.beta)), fixture.floats("beta_gradient"), 1e-5, "beta gradient")
        expectClose(layer.movingMean, fixture.floats("moving_mean"), 1e-6, "moving mean")
        expectClose(layer.movingVariance, fixture.floats("moving_variance"), 1e-6, "moving variance")
        expectClose(layer.forward(input, training: false, arena: arena).values, fixture.floats("inference_output"), 1e-5, "inference output")
    }

    /// Prediction pools table rows directly (an embedding bag); the layer-by-layer forward
    /// (what training runs with a dropout between) is its reference twin: equal bit for bit,
    /// with weights and without, padding and empty rows included, dropouts between skipped.
    @Test(arguments: [LayerSpec.globalAveragePooling1D, .globalSqrtNPooling1D, .globalMaxPooling1D])
    func predictionPoolsTableRowsAsTheLayersDo(pooling: LayerSpec) throws {
        let model = try Sequential([.embedding(outputDim: 7), .dropout(rate: 0), pooling, .dense(units: 3)], vocabulary: 50, seed: 3)
        var generator = SplitMix64(seed: 5)
        let (rows, length) = (6, 9)
        let lengths: [Int32] = [9, 4, 1, 0, 7, 9]
        let ids = (0..<rows * length).map { position in
            position % length < Int(lengths[position / length]) ? UInt32(generator.next() % 50) : 0
        }
        var batch = TokenBatch(rows: rows, length: length, ids: ids, lengths: lengths)
        let layered = try model.forward(batch, training: true).values
        let fused = try model.forward(batch, training: false).values
        #expect(fused == layered)
        if pooling != .globalMaxPooling1D {
            batch.weights = (0..<rows * length).map { _ in Float(generator.nextUnit()) }
            #expect(try model.forward(batch, training: false).values == model.forward(batch, training: true).values)
        }
        let beyond = TokenBatch(rows: 1, length: 1, ids: [50], lengths: [1])
        #expect(throws: FolioError.self) { try model.forward(beyond, training: false) }
    }

    /// Training pools table rows directly too when the pooling follows the embedding, and
    /// scatters the pooled gradient straight into the table's rows; the layer-by-layer
    /// path is its reference twin: the same weights bit for bit after several updates, with
    /// per-id weights (one row's all 0) and without, padding and an empty row included,
    /// for Adam over the whole table and plain SGD and Adam with lazy rows.
    @Test(arguments: [LayerSpec.globalAveragePooling1D, .globalSqrtNPooling1D])
    func trainingPoolsTableRowsAsTheLayersDo(pooling: LayerSpec) throws {
        for (lazy, sgd) in [(false, false), (true, false), (true, true)] {
            for weighted in [false, true] {
                var trained: [[Float]] = []
                for fused in [true, false] {
                    let model = try Sequential([.embedding(outputDim: 7), pooling, .dense(units: 3)], vocabulary: 50, seed: 3)
                    model.fusesBagInTraining = fused
                    model.updatesTableInBackward = false  // its own twin test below
                    if lazy { model.makeEmbeddingsRowSparse() }
                    let optimizer: any Optimizer = sgd ? SGD(arena: model.arena, learningRate: 0.3) : Adam(arena: model.arena, learningRate: 0.05)
                    let accumulator = GradientAccumulator(steps: 2)
                    var generator = SplitMix64(seed: 5)
                    for _ in 0..<6 {
                        // Row 1's weights all 0.
                        let (batch, labels) = randomBags(&generator, ids: 40, weight: weighted ? { row, unit in row == 1 ? 0 : unit } : nil)
                        try model.trainStep(batch, labels: labels, optimizer: optimizer, accumulator: accumulator)
                    }
                    trained.append(Array(model.arena.values))
                }
                #expect(trained[0] == trained[1], "lazy \(lazy), sgd \(sgd), weighted \(weighted)")
            }
        }
    }

    /// What the memory model is told (``Sequential/keepsNoTableGradient(_:lazyUpdates:optimizer:subwords:)``)
    /// is what training does: exactly where it says so, a sentinel in the table's gradients
    /// survives several steps; everywhere else training writes them.
    @Test func theTableKeepsNoGradientExactlyWhereTheMemoryModelSaysSo() throws {
        var momentum = OptimizerSpec(kind: .sgd, schedule: .constant(0.3))
        momentum.momentum = 0.9
        var clipped = OptimizerSpec(kind: .sgd, schedule: .constant(0.3))
        clipped.clipping = Clipping(norm: 1)
        let optimizers = [OptimizerSpec(kind: .sgd, schedule: .constant(0.3)), momentum, clipped, OptimizerSpec(kind: .adam, schedule: .constant(0.01))]
        let layerings: [[LayerSpec]] = [
            [.embedding(outputDim: 5), .globalAveragePooling1D, .dense(units: 3)],
            [.embedding(outputDim: 5), .globalSqrtNPooling1D, .dense(units: 3)],
            [.embedding(outputDim: 5), .globalMaxPooling1D, .dense(units: 3)],
            [.embedding(outputDim: 5), .dense(units: 5), .globalAveragePooling1D, .dense(units: 3)],
        ]
        var kept = 0
        for layers in layerings {
            for spec in optimizers {
                for lazy in [true, false] {
                    let model = try Sequential(layers, vocabulary: 30, seed: 3)
                    if lazy { model.makeEmbeddingsRowSparse() }
                    let table = model.embedding.table
                    model.arena.gradients(of: table).update(repeating: 0.25)
                    let optimizer = spec.make(arena: model.arena)
                    let accumulator = GradientAccumulator(steps: 1)
                    var generator = SplitMix64(seed: 5)
                    for _ in 0..<3 {
                        let (batch, labels) = randomBags(&generator, ids: 12, weight: nil)
                        try model.trainStep(batch, labels: labels, optimizer: optimizer, accumulator: accumulator)
                    }
                    let untouched = model.arena.gradients(of: table).allSatisfy { $0 == 0.25 }
                    let said = Sequential.keepsNoTableGradient(layers, lazyUpdates: lazy, optimizer: spec, subwords: false)
                    #expect(untouched == said, "\(layers), \(spec.kind) momentum \(spec.momentum), lazy \(lazy)")
                    #expect(!Sequential.keepsNoTableGradient(layers, lazyUpdates: lazy, optimizer: spec, subwords: true))
                    if said { kept += 1 }
                }
            }
        }
        #expect(kept == 2)  // plain SGD, lazy, average or sqrtn pooling straight after the table
    }

    /// Plain SGD updates a lazy table's rows share by share as the pooling's backward
    /// computes them (fastText's update; with accumulation, at the step's end); the summing
    /// path is its reference twin: the same weights to rounding after several steps, ids
    /// repeated within and across documents, weighted and not, one micro-batch a step and
    /// three. The table's gradients are never written on that path (a sentinel in them
    /// survives), and a non-finite gradient stops it before any update.
    @Test(arguments: [LayerSpec.globalAveragePooling1D, .globalSqrtNPooling1D])
    func plainSGDUpdatesTableRowsInBackward(pooling: LayerSpec) throws {
        for (weighted, steps) in [(false, 1), (true, 1), (true, 3)] {
            var trained: [[Float]] = []
            for direct in [true, false] {
                let model = try Sequential([.embedding(outputDim: 7), pooling, .dense(units: 3)], vocabulary: 30, seed: 3)
                model.updatesTableInBackward = direct
                model.makeEmbeddingsRowSparse()
                let table = model.embedding.table
                let initial = Array(model.arena.values(of: table))
                if direct { model.arena.gradients(of: table).update(repeating: 0.25) }
                let optimizer = SGD(arena: model.arena, learningRate: 0.3)
                let accumulator = GradientAccumulator(steps: steps)
                var generator = SplitMix64(seed: 5)
                for _ in 0..<6 {
                    let (batch, labels) = randomBags(&generator, ids: 12, weight: weighted ? { _, unit in 0.2 + unit } : nil)
                    try model.trainStep(batch, labels: labels, optimizer: optimizer, accumulator: accumulator)
                }
                let gradients = Array(model.arena.gradients(of: table))
                #expect(gradients.allSatisfy { $0 == (direct ? 0.25 : 0) }, "weighted \(weighted), steps \(steps), direct \(direct)")
                #expect(Array(model.arena.values(of: table)) != initial)
                trained.append(Array(model.arena.values))
            }
            let largest = zip(trained[0], trained[1]).map { abs($0 - $1) }.max() ?? 0
            #expect(largest < 1e-6, "weighted \(weighted), steps \(steps): \(largest)")
        }

        // Kernel columns of +-3e38: finite logits and loss, but the wrong class's gradient
        // through them overflows (2 x 3e38) into the pooled output's gradient.
        let model = try Sequential([.embedding(outputDim: 4), pooling, .dense(units: 2)], vocabulary: 10, seed: 1)
        model.makeEmbeddingsRowSparse()
        let kernel = try #require(model.arena.views.first { $0.name.hasSuffix("kernel") })
        for index in 0..<kernel.count { model.arena.values[kernel.offset + index] = index % 2 == 0 ? 3e38 : -3e38 }
        let batch = TokenBatch(rows: 1, length: 2, ids: [3, 4], lengths: [2])
        let logits = try model.forward(batch, training: false).values
        let before = Array(model.arena.values)
        #expect(throws: FolioError.self) {
            try model.trainStep(batch, labels: [logits[0] > logits[1] ? 1 : 0], optimizer: SGD(arena: model.arena, learningRate: 0.1),
                                accumulator: GradientAccumulator(steps: 1))
        }
        #expect(Array(model.arena.values) == before)
    }
}

/// Five rows of up to 8 ids drawn from 1...`ids` (row 2 empty, row 4 of a random length), and
/// a label of 3 per row; `weight(row, unit)` gives each position's weight from a uniform draw
/// (nil: no weights).
private func randomBags(_ generator: inout SplitMix64, ids: UInt64, weight: ((Int, Float) -> Float)?) -> (TokenBatch, [UInt32]) {
    let (rows, length) = (5, 8)
    let lengths: [Int32] = [8, 3, 0, 6, Int32(1 + generator.next() % 8)]
    let drawn = (0..<rows * length).map { position in
        position % length < Int(lengths[position / length]) ? UInt32(1 + generator.next() % ids) : 0
    }
    var batch = TokenBatch(rows: rows, length: length, ids: drawn, lengths: lengths)
    if let weight {
        batch.weights = (0..<rows * length).map { weight($0 / length, Float(generator.nextUnit())) }
    }
    return (batch, (0..<rows).map { _ in UInt32(generator.next() % 3) })
}
