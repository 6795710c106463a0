import FolioTestSupport
import Foundation
import Testing
@testable import FolioNN

@Suite struct OptimizerTests {
    let fixture: NNFixture
    init() throws { fixture = try NNFixture("optimizers") }

    @Test(arguments: ["adam", "adamw", "sgd_momentum", "sgd_nesterov", "adam_global_clipnorm", "adam_amsgrad", "rmsprop",
                      "rmsprop_momentum_centered", "sgd_exponential_decay", "sgd_cosine_warmup", "sgd_piecewise", "sgd_inverse_time", "rprop"])
    func matchesKerasStepByStep(name: String) throws {
        let arena = ParameterArena(layout: [("w", [5])])
        let start = fixture.floats("start")
        for index in 0..<5 { arena.values[index] = start[index] }
        let optimizer: any Optimizer = switch name {
        case "adam": Adam(arena: arena, learningRate: 0.01)
        case "adamw": Adam(arena: arena, learningRate: 0.01, weightDecay: 0.1)
        case "sgd_momentum": SGD(arena: arena, learningRate: 0.1, momentum: 0.9)
        case "sgd_nesterov": SGD(arena: arena, learningRate: 0.1, momentum: 0.9, nesterov: true)
        case "adam_global_clipnorm": Adam(arena: arena, learningRate: 0.01, clipping: Clipping(globalNorm: 0.5))
        case "adam_amsgrad": Adam(arena: arena, learningRate: 0.01, amsgrad: true)
        case "rmsprop": RMSprop(arena: arena, schedule: .constant(0.01))
        case "rmsprop_momentum_centered": RMSprop(arena: arena, schedule: .constant(0.01), momentum: 0.5, centered: true)
        case "sgd_exponential_decay": SGD(arena: arena, schedule: .exponentialDecay(initial: 0.1, decaySteps: 2, rate: 0.5))
        case "sgd_cosine_warmup": SGD(arena: arena, schedule: .cosineDecay(initial: 0, decaySteps: 3, warmupTarget: 0.1, warmupSteps: 2))
        case "sgd_piecewise": SGD(arena: arena, schedule: .piecewiseConstant(boundaries: [1, 2], values: [0.1, 0.05, 0.01]))
        case "sgd_inverse_time": SGD(arena: arena, schedule: .inverseTimeDecay(initial: 0.1, decaySteps: 1, rate: 0.5), momentum: 0.9)
        default: Rprop(arena: arena, learningRate: 0.01)
        }
        let gradients = (fixture.json["gradients"] as! [Any]).map { ($0 as! [Double]).map(Float.init) }
        let expected = (fixture.json[name] as! [Any]).map { ($0 as! [Double]).map(Float.init) }
        for (step, gradient) in gradients.enumerated() {
            for index in 0..<5 { arena.gradients[index] = gradient[index] }
            try optimizer.step(arena: arena, gradientScale: 1)
            expectClose(Array(arena.values), expected[step], 1e-6, "\(name) step \(step + 1)")
        }
        #expect(optimizer.iterations == 4)
    }

    @Test func nanGradientStopsBeforeTheUpdateNamingTheParameter() throws {
        let arena = ParameterArena(layout: [("dense.kernel", [2])])
        arena.gradients[1] = .nan
        #expect(throws: FolioError("gradient of dense.kernel is not finite (NaN or infinity): stopping before the update")) {
            try Adam(arena: arena).step(arena: arena, gradientScale: 1)
        }
        #expect(arena.values[0] == 0 && arena.values[1] == 0)
    }

    /// k micro-batches of b rows with accumulation give the update of one batch of k * b
    /// rows (a model whose rows are independent: Dense + cross-entropy).
    @Test(arguments: ["adam", "sgd_momentum"])
    func accumulationEqualsOneBigBatch(name: String) throws {
        var generator = SplitMix64(seed: 11)
        let (rows, features, classes) = (8, 6, 3)
        let input = (0..<rows * features).map { _ in Float(generator.nextUnit() * 2 - 1) }
        let labels = (0..<rows).map { _ in UInt32(generator.next() % 3) }
        func model() -> (Dense, ParameterArena, any Optimizer) {
            let arena = ParameterArena(layout: Dense.layout(prefix: "d", inputDim: features, units: classes))
            let dense = Dense(inputDim: features, units: classes, arena: arena, prefix: "d")
            var random = SplitMixSource(seed: 5)
            dense.initialize(arena: arena, random: &random)
            let optimizer: any Optimizer = name == "adam"
                ? Adam(arena: arena, learningRate: 0.01) : SGD(arena: arena, learningRate: 0.1, momentum: 0.9)
            return (dense, arena, optimizer)
        }
        func train(_ dense: Dense, _ arena: ParameterArena, _ optimizer: any Optimizer, microBatch: Int) throws {
            let accumulator = GradientAccumulator(steps: rows / microBatch)
            for _ in 0..<3 {  // three optimizer steps
                for start in stride(from: 0, to: rows, by: microBatch) {
                    let x = Tensor(shape: [microBatch, features], values: Array(input[start * features..<(start + microBatch) * features]))
                    let logits = dense.forward(x, arena: arena)
                    let (_, gradient) = try SparseCategoricalCrossentropy.lossAndGradient(
                        logits: logits, labels: Array(labels[start..<start + microBatch]))
                    _ = dense.backward(gradient, arena: arena)
                    try accumulator.microBatchDone(arena: arena, optimizer: optimizer)
                }
            }
        }
        let (bigDense, bigArena, bigOptimizer) = model()
        try train(bigDense, bigArena, bigOptimizer, microBatch: 8)
        let (smallDense, smallArena, smallOptimizer) = model()
        try train(smallDense, smallArena, smallOptimizer, microBatch: 2)
        #expect(bigOptimizer.iterations == 3 && smallOptimizer.iterations == 3, "steps count updates, not micro-batches")
        expectClose(Array(smallArena.values), Array(bigArena.values), 1e-6, "weights")
    }
}

/// Optimizer state is what `folio plan` counts (MemoryModel: Adam 2 buffers, amsgrad 3,
/// SGD 1 with momentum and none without, RMSprop 1 plus centered and momentum): plain SGD
/// once allocated a velocity of the arena's size that it never read.
@Suite struct OptimizerStateSizeTests {
    @Test func buffersAreTheOnesTheMemoryModelCounts() {
        let arena = ParameterArena(layout: [("w", [1000])])
        let cases: [(any Optimizer, OptimizerState, Int)] = {
            let sgd = SGD(arena: arena), momentum = SGD(arena: arena, momentum: 0.9)
            let adam = Adam(arena: arena), amsgrad = Adam(arena: arena, amsgrad: true)
            let rmsprop = RMSprop(arena: arena), full = RMSprop(arena: arena, momentum: 0.5, centered: true)
            return [(sgd, sgd.state, 0), (momentum, momentum.state, 1), (adam, adam.state, 2), (amsgrad, amsgrad.state, 3),
                    (rmsprop, rmsprop.state, 1), (full, full.state, 3)]
        }()
        for (optimizer, state, buffers) in cases {
            #expect(state.floatCount == buffers * arena.count, "\(type(of: optimizer)): \(state.floatCount) floats")
        }
    }
}

@Suite(.serialized) struct DeterminismTests {
    /// Same seed, same batches: bit-identical weights with 1 and with 2 threads (the LSTM's
    /// lanes and BLAS), on every kernel path this CPU runs; each path agrees with the
    /// widest to rounding, and the AVX2 path with the AVX-512 one bit for bit (both sum each
    /// product element in the same order with fused multiply-adds, and the gate loops are one
    /// source). No OpenBLAS product is left in this model's training (whose sums would follow
    /// its kernel family, not the path).
    @Test(arguments: KernelSet.available)
    func sameSeedSameWeightsWhateverTheThreadCount(kernels: KernelSet) throws {
        let one = try Self.train(threads: 1, kernels: kernels)
        let two = try Self.train(threads: 2, kernels: kernels)
        #expect(one == two, "path \(kernels)")
        #expect(one != (LSTMClassifier(vocabulary: 50, embeddingDim: 8, units: 17, layers: 2, classes: 3, seed: 42)).arena.values.map { $0 })
        if kernels != KernelSet.widest {
            let widest = try Self.train(threads: 2, kernels: KernelSet.widest)
            expectClose(one, widest, 1e-4, "path \(kernels) against \(KernelSet.widest)")
            if kernels.path == .avx2 && KernelSet.widest.path == .avx512 {
                #expect(one == widest, "avx2 against avx512: \(zip(one, widest).filter { $0 != $1 }.count) weights differ")
            }
        }
    }

    static func train(threads: Int, kernels: KernelSet) throws -> [Float] {
        Gemm.setThreads(threads)
        defer { Gemm.setThreads(1) }
        // 17 units: a partial panel and a partial vector on every path.
        let model = LSTMClassifier(vocabulary: 50, embeddingDim: 8, units: 17, layers: 2, classes: 3, seed: 42)
        model.threads = threads
        for lstm in model.lstms { lstm.kernels = kernels }
        model.dense.kernels = kernels
        let optimizer = Adam(arena: model.arena, learningRate: 0.01)
        optimizer.kernels = kernels
        let accumulator = GradientAccumulator(steps: 2)
        var generator = SplitMix64(seed: 1)
        for _ in 0..<6 {
            let ids = (0..<16 * 12).map { _ in UInt32(generator.next() % 50) }
            let lengths = (0..<16).map { _ in Int32(1 + generator.next() % 12) }
            let labels = (0..<16).map { _ in UInt32(generator.next() % 3) }
            try model.trainStep(TokenBatch(rows: 16, length: 12, ids: ids, lengths: lengths), labels: labels,
                                optimizer: optimizer, accumulator: accumulator)
        }
        return Array(model.arena.values)
    }
}

/// Lazy (row-sparse) embedding updates: Adam touches only the rows a step's tokens reached.
@Suite struct LazyEmbeddingUpdateTests {
    /// An embedding of 5 rows x 3 and a bias of 2 after it, with gradients put in by hand.
    func arena(lazy: Bool) -> ParameterArena {
        let arena = ParameterArena(layout: [("table", [5, 3]), ("bias", [2])])
        for index in 0..<arena.count { arena.values[index] = Float(index) * 0.1 - 0.5 }
        if lazy { arena.makeRowSparse(arena.view("table")!, rowWidth: 3) }
        return arena
    }

    func gradient(_ arena: ParameterArena, rows: [Int], step: Int) {
        arena.touch(rows: rows, regionAt: 0)
        for row in rows {
            for j in 0..<3 { arena.gradients[row * 3 + j] += Float(row + j + step) * 0.3 - 0.4 }
        }
        arena.gradients[15] += 0.2 * Float(step)
        arena.gradients[16] -= 0.1
    }

    @Test func onlyTouchedRowsMoveAndTheyFollowAdamWithTheGlobalStepCount() throws {
        let lazy = arena(lazy: true)
        let adam = Adam(arena: lazy, learningRate: 0.1)
        let start = Array(lazy.values)
        let schedule = [[0, 2], [1], [0], [0, 2]]
        // The reference: per element, Adam's moments move only on steps its row was touched;
        // the bias correction counts every step (as TensorFlow's LazyAdam).
        var m = [Double](repeating: 0, count: 17)
        var v = [Double](repeating: 0, count: 17)
        var expected = start.map(Double.init)
        for (step, rows) in schedule.enumerated() {
            gradient(lazy, rows: rows, step: step)
            let g = Array(lazy.gradients).map(Double.init)
            try adam.step(arena: lazy, gradientScale: 1)
            let t = Double(step + 1)
            let alpha = 0.1 * (1 - pow(0.999, t)).squareRoot() / (1 - pow(0.9, t))
            let moving = rows.flatMap { row in (0..<3).map { row * 3 + $0 } } + [15, 16]
            for index in moving {
                m[index] = 0.9 * m[index] + 0.1 * g[index]
                v[index] = 0.999 * v[index] + 0.001 * g[index] * g[index]
                expected[index] -= alpha * m[index] / (v[index].squareRoot() + 1e-7)
            }
            lazy.zeroGradients()
            #expect(lazy.gradients.allSatisfy { $0 == 0 }, "touched rows and the dense part are cleared")
        }
        for index in 0..<17 { #expect(abs(Double(lazy.values[index]) - expected[index]) < 1e-6, "\(index)") }
        #expect(Array(lazy.values[9..<15]) == Array(start[9..<15]), "rows 3 and 4 were never touched")
    }

    @Test func withEveryRowTouchedLazyEqualsDenseBitForBit() throws {
        let (dense, lazy) = (arena(lazy: false), arena(lazy: true))
        let (denseAdam, lazyAdam) = (Adam(arena: dense, learningRate: 0.05), Adam(arena: lazy, learningRate: 0.05))
        for step in 0..<3 {
            gradient(dense, rows: [4, 0, 1, 2, 3], step: step)
            gradient(lazy, rows: [4, 0, 1, 2, 3], step: step)
            try denseAdam.step(arena: dense, gradientScale: 0.5)
            try lazyAdam.step(arena: lazy, gradientScale: 0.5)
            dense.zeroGradients()
            lazy.zeroGradients()
        }
        #expect(Array(dense.values) == Array(lazy.values))
    }

    /// Plain SGD: an untouched row has zero gradient, so the lazy update is the dense one,
    /// bit for bit, with only some rows touched; and the untouched rows do not move. With a
    /// gradient scale and clipping by value too: those, and the finiteness check, visit only
    /// the ranges a step updates (walking the whole table was most of a bag model's step; a
    /// speed fix, measured by bench/quality_bench.sh), and a NaN in a touched row still stops
    /// the step.
    @Test(arguments: [nil, Float(0.25)])
    func lazySGDEqualsDenseSGDWithRowsLeftOut(clipValue: Float?) throws {
        let (dense, lazy) = (arena(lazy: false), arena(lazy: true))
        let clipping = Clipping(value: clipValue)
        let scale: Float = clipValue == nil ? 1 : 0.5
        let (denseSGD, lazySGD) = (SGD(arena: dense, learningRate: 0.3, clipping: clipping), SGD(arena: lazy, learningRate: 0.3, clipping: clipping))
        let start = Array(lazy.values)
        for (step, rows) in [[0, 2], [1], [0]].enumerated() {
            gradient(dense, rows: rows, step: step)
            gradient(lazy, rows: rows, step: step)
            try denseSGD.step(arena: dense, gradientScale: scale)
            try lazySGD.step(arena: lazy, gradientScale: scale)
            dense.zeroGradients()
            lazy.zeroGradients()
        }
        #expect(Array(dense.values) == Array(lazy.values))
        #expect(Array(lazy.values[9..<15]) == Array(start[9..<15]) && lazy.values[0] != start[0])
        gradient(lazy, rows: [3], step: 0)
        lazy.gradients[3 * 3 + 1] = .nan
        #expect(throws: FolioError("gradient of table is not finite (NaN or infinity): stopping before the update")) {
            try lazySGD.step(arena: lazy, gradientScale: scale)
        }
    }
}
