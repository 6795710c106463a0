import FolioCore

/// An optimizer over a ``ParameterArena``: one update from the arena's gradients, scaled by
/// `gradientScale` (1/k after k accumulated micro-batches). Its state has the arena's layout.
public protocol Optimizer: AnyObject {
    /// Optimizer steps taken: schedules, bias corrections and weight decay count these,
    /// never micro-batches.
    var iterations: Int { get }
    func step(arena: ParameterArena, gradientScale: Float) throws(FolioError)
    /// Everything the optimizer carries between steps, for checkpoints: named buffers of the
    /// arena's size and the step count.
    var state: OptimizerState { get }
    func restore(iterations: Int)
    /// Multiplies the schedule's rate (1 unless a callback such as ReduceLROnPlateau
    /// lowered it; saved with checkpoints). Rprop adapts its own steps and ignores it.
    var learningRateFactor: Float { get set }
    /// The learning rate of the next step (0 for Rprop, whose steps are per weight).
    var nextLearningRate: Float { get }
    /// Whether a lazy table's row is updated from its own gradient alone, keeping no state
    /// and needing no other row (plain SGD without norm clipping): then ranks may each
    /// update part of a step's rows (``GradientReduction/splitsRowUpdates``).
    var updatesEachRowAlone: Bool { get }
}

extension Optimizer {
    public var updatesEachRowAlone: Bool { false }
}

/// An optimizer whose learning rate follows a ``LearningRateSchedule`` (scaled by
/// ``Optimizer/learningRateFactor``): Adam, SGD, RMSprop.
public protocol ScheduledOptimizer: Optimizer {
    var schedule: LearningRateSchedule { get }
}

extension ScheduledOptimizer {
    public var nextLearningRate: Float { schedule.rate(at: iterations) * learningRateFactor }
}

/// An optimizer's per-parameter buffers (Adam's moments, SGD's velocity, ...): each the
/// arena's size, allocated once, freed with the optimizer, named for checkpoints.
public final class OptimizerState {
    private var buffers: [(name: String, buffer: UnsafeMutableBufferPointer<Float>)] = []

    /// Floats held in all buffers (what `folio plan` counts as optimizer state).
    public var floatCount: Int { buffers.reduce(0) { $0 + ($1.buffer.count > 1 ? $1.buffer.count : 0) } }

    /// A new buffer of the arena's size filled with `value` (capacity 1 when `needed` is false).
    func buffer(_ name: String, _ arena: ParameterArena, value: Float = 0, needed: Bool = true) -> UnsafeMutableBufferPointer<Float> {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: needed ? max(1, arena.count) : 1)
        HugePages.advise(buffer)  // a lazy table's state rows are read as its rows are, at random
        buffer.initialize(repeating: value)
        buffers.append((name, buffer))
        return buffer
    }

    /// Reads buffers written by ``save(to:metadata:)`` straight into place; returns the
    /// file's metadata. Every buffer must be there with its size.
    public func load(from path: String) throws(FolioError) -> [String: String] {
        let file = try SafetensorsFile(path: path)
        for (name, buffer) in buffers {
            guard file.tensors[name]?.count == buffer.count else {
                throw FolioError("optimizer state '\(name)' is missing or has the wrong size", file: path, place: "key \(name)")
            }
        }
        for (name, buffer) in buffers { try file.read(name, into: buffer) }
        return file.metadata
    }

    /// Writes the buffers as safetensors (1-D, by name) without copying them.
    public func save(to path: String, metadata: [String: String]) throws(FolioError) {
        try saveUncommitted(to: path, metadata: metadata).commit()
    }

    /// ``save(to:metadata:)`` but for the commit, which the caller makes (``AtomicFile/commit()``).
    public func saveUncommitted(to path: String, metadata: [String: String]) throws(FolioError) -> AtomicFile {
        let buffers = buffers
        return try Safetensors.writeUncommitted(layout: buffers.map { ($0.name, [$0.buffer.count]) }, metadata: metadata, to: path) { index, file throws(FolioError) in
            try file.write(raw: UnsafeRawBufferPointer(buffers[index].buffer))
        }
    }

    deinit { for (_, buffer) in buffers { buffer.deallocate() } }
}

/// Gradient clipping, as Keras's `clipnorm` (per parameter), `clipvalue`, `global_clipnorm`.
public struct Clipping: Sendable, Hashable, Codable {
    public var norm: Float?
    public var value: Float?
    public var globalNorm: Float?
    public init(norm: Float? = nil, value: Float? = nil, globalNorm: Float? = nil) {
        self.norm = norm
        self.value = value
        self.globalNorm = globalNorm
    }

    /// The rare path, out of line: the first parameter with a non-finite gradient.
    private func nameNonFinite(_ arena: ParameterArena) throws(FolioError) {
        for view in arena.views {
            for index in view.offset..<view.offset + view.count where !arena.gradients[index].isFinite {
                throw FolioError("gradient of \(view.name) is not finite (NaN or infinity): stopping before the update")
            }
        }
    }

    /// Scales (and clamps) the arena's gradients in place, after `gradientScale`; throws on
    /// NaN or infinity, naming the parameter.
    func apply(_ arena: ParameterArena, gradientScale: Float) throws(FolioError) {
        let gradients = arena.gradients
        if norm == nil && globalNorm == nil {
            // The common case, inline: scale, and check finiteness with one branch-free
            // reduction (x * 0 is NaN exactly for NaN and infinity); only a failure walks
            // the parameters to name the culprit. Only the ranges this step updates: a lazy
            // table's untouched rows have zero gradients (scaling and clamping keep them 0),
            // and visiting them all was most of a hashed-n-gram model's step.
            var lanes: (Float, Float, Float, Float) = (0, 0, 0, 0)
            arena.forEachUpdatedRange(readsValues: false) { range in
                var index = range.lowerBound
                while index + 4 <= range.upperBound {
                    gradients[index] *= gradientScale
                    gradients[index + 1] *= gradientScale
                    gradients[index + 2] *= gradientScale
                    gradients[index + 3] *= gradientScale
                    lanes.0 += gradients[index] * 0
                    lanes.1 += gradients[index + 1] * 0
                    lanes.2 += gradients[index + 2] * 0
                    lanes.3 += gradients[index + 3] * 0
                    index += 4
                }
                while index < range.upperBound { gradients[index] *= gradientScale; lanes.0 += gradients[index] * 0; index += 1 }
            }
            if (lanes.0 + lanes.1 + lanes.2 + lanes.3) != 0 { try nameNonFinite(arena) }
            if let value {
                arena.forEachUpdatedRange(readsValues: false) { range in for index in range { gradients[index] = min(max(gradients[index], -value), value) } }
            }
            return
        }
        var total = 0.0
        for view in arena.views {
            var sum = 0.0
            for index in view.offset..<view.offset + view.count {
                gradients[index] *= gradientScale
                let value = Double(gradients[index])
                guard value.isFinite else {
                    throw FolioError("gradient of \(view.name) is not finite (NaN or infinity): stopping before the update")
                }
                sum += value * value
            }
            if let norm, sum.squareRoot() > Double(norm) {
                let factor = Float(Double(norm) / sum.squareRoot())
                for index in view.offset..<view.offset + view.count { gradients[index] *= factor }
                sum = Double(norm) * Double(norm)
            }
            total += sum
        }
        if let globalNorm, total.squareRoot() > Double(globalNorm) {
            let factor = Float(Double(globalNorm) / total.squareRoot())
            for index in 0..<arena.count { gradients[index] *= factor }
        }
        if let value {
            for index in 0..<arena.count { gradients[index] = min(max(gradients[index], -value), value) }
        }
    }
}

/// Adam as Keras computes it: `alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)`,
/// `w -= alpha * m / (sqrt(v) + epsilon)`; with `amsgrad`, `v` is the running maximum;
/// with `weightDecay`, AdamW's decoupled decay `w -= lr * weightDecay * w` first.
public final class Adam: ScheduledOptimizer {
    public var schedule: LearningRateSchedule
    public let amsgrad: Bool
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    public let clipping: Clipping
    public private(set) var iterations = 0
    public let state = OptimizerState()
    public func restore(iterations: Int) { self.iterations = iterations }
    public var learningRateFactor: Float = 1
    /// The kernels its common update runs on (``KernelSet/selected`` unless set).
    public var kernels = KernelSet.selected
    private let m: UnsafeMutableBufferPointer<Float>
    private let v: UnsafeMutableBufferPointer<Float>
    private let vMax: UnsafeMutableBufferPointer<Float>

    public convenience init(
        arena: ParameterArena, learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999,
        epsilon: Float = 1e-7, amsgrad: Bool = false, weightDecay: Float = 0, clipping: Clipping = Clipping()
    ) {
        self.init(arena: arena, schedule: .constant(learningRate), beta1: beta1, beta2: beta2, epsilon: epsilon,
                  amsgrad: amsgrad, weightDecay: weightDecay, clipping: clipping)
    }

    public init(
        arena: ParameterArena, schedule: LearningRateSchedule, beta1: Float = 0.9, beta2: Float = 0.999,
        epsilon: Float = 1e-7, amsgrad: Bool = false, weightDecay: Float = 0, clipping: Clipping = Clipping()
    ) {
        self.schedule = schedule
        self.amsgrad = amsgrad
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.clipping = clipping
        m = state.buffer("m", arena)
        v = state.buffer("v", arena)
        vMax = state.buffer("v_max", arena, needed: amsgrad)
    }

    public func step(arena: ParameterArena, gradientScale: Float) throws(FolioError) {
        try clipping.apply(arena, gradientScale: gradientScale)
        let learningRate = nextLearningRate
        iterations += 1
        let t = Double(iterations)
        let alpha = Float(Double(learningRate) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
        let (weights, gradients) = (arena.values, arena.gradients)
        let (m, v, vMax, beta1, beta2, epsilon, weightDecay, amsgrad, kernels) = (m, v, vMax, beta1, beta2, epsilon, weightDecay, amsgrad, kernels)
        func update(_ range: Range<Int>) {
            if weightDecay == 0 && !amsgrad {
                // The common case, in C for the CPU's widest vectors (CFolioKernels): every
                // step walks every parameter (7.7M for an embedding with hashed bigrams)
                // unless the tables are row-sparse. The loop below is its plain twin.
                kernels.adamUpdate(weights.baseAddress! + range.lowerBound, g: gradients.baseAddress! + range.lowerBound,
                                   m: m.baseAddress! + range.lowerBound, v: v.baseAddress! + range.lowerBound, count: range.count,
                                   alpha: alpha, beta1: beta1, beta2: beta2, epsilon: epsilon)
                return
            }
            for index in range {
                if weightDecay != 0 { weights[index] -= learningRate * weightDecay * weights[index] }
                let g = gradients[index]
                m[index] += (g - m[index]) * (1 - beta1)
                v[index] += (g * g - v[index]) * (1 - beta2)
                var second = v[index]
                if amsgrad {
                    vMax[index] = max(vMax[index], second)
                    second = vMax[index]
                }
                weights[index] -= alpha * m[index] / (second.squareRoot() + epsilon)
            }
        }
        // Lazy tables: only the rows this step's gradients reached (LazyAdam).
        arena.forEachUpdatedRange(update)
    }
}

/// SGD as Keras computes it: `velocity = momentum * velocity - lr * g`, `w += velocity`
/// (Nesterov: `w += momentum * velocity - lr * g`). Keras 2's `decay` argument is
/// `schedule: .inverseTimeDecay(initial: lr, decaySteps: 1, rate: decay)`.
public final class SGD: ScheduledOptimizer {
    public var schedule: LearningRateSchedule
    public let momentum: Float
    public let nesterov: Bool
    public let clipping: Clipping
    public private(set) var iterations = 0
    public let state = OptimizerState()
    public func restore(iterations: Int) { self.iterations = iterations }
    public var learningRateFactor: Float = 1
    private let velocity: UnsafeMutableBufferPointer<Float>

    public convenience init(arena: ParameterArena, learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false,
                            clipping: Clipping = Clipping()) {
        self.init(arena: arena, schedule: .constant(learningRate), momentum: momentum, nesterov: nesterov, clipping: clipping)
    }

    public init(arena: ParameterArena, schedule: LearningRateSchedule, momentum: Float = 0, nesterov: Bool = false,
                clipping: Clipping = Clipping()) {
        self.schedule = schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.clipping = clipping
        // Plain SGD keeps no velocity (a buffer of the arena's size, 87 MB for the shipped
        // bag-of-n-grams model, was allocated and never read).
        velocity = state.buffer("velocity", arena, needed: momentum != 0)
    }

    public var updatesEachRowAlone: Bool { momentum == 0 && clipping.norm == nil && clipping.globalNorm == nil }
    /// No momentum and no clipping: an update is `w -= rate * g`, nothing else.
    public var isPlain: Bool { momentum == 0 && clipping == Clipping() }

    public func step(arena: ParameterArena, gradientScale: Float) throws(FolioError) {
        try clipping.apply(arena, gradientScale: gradientScale)
        let learningRate = nextLearningRate
        iterations += 1
        let (weights, gradients) = (arena.values, arena.gradients)
        // Lazy tables: only the rows this step touched (with momentum, untouched rows keep
        // their velocity instead of decaying it, as TensorFlow's lazy optimizers do).
        // Plain SGD gets its own loop, without the momentum branch, so that it vectorizes:
        // a lazy table's rows are short (32-128 floats) and many.
        if momentum == 0 {
            arena.forEachUpdatedRange { range in
                for index in range { weights[index] -= learningRate * gradients[index] }
            }
            return
        }
        arena.forEachUpdatedRange { range in
            for index in range {
                let g = gradients[index]
                velocity[index] = momentum * velocity[index] - learningRate * g
                weights[index] += nesterov ? momentum * velocity[index] - learningRate * g : velocity[index]
            }
        }
    }
}

/// RMSprop as Keras computes it: `v = rho v + (1 - rho) g^2`; centered, also
/// `a = rho a + (1 - rho) g` and `v - a^2` below; `increment = lr g / sqrt(v + epsilon)`,
/// through a momentum buffer when `momentum > 0`.
public final class RMSprop: ScheduledOptimizer {
    public var schedule: LearningRateSchedule
    public let rho: Float
    public let momentum: Float
    public let centered: Bool
    public let epsilon: Float
    public let clipping: Clipping
    public private(set) var iterations = 0
    public let state = OptimizerState()
    public func restore(iterations: Int) { self.iterations = iterations }
    public var learningRateFactor: Float = 1
    private let velocity: UnsafeMutableBufferPointer<Float>
    private let average: UnsafeMutableBufferPointer<Float>
    private let momentumBuffer: UnsafeMutableBufferPointer<Float>

    public init(arena: ParameterArena, schedule: LearningRateSchedule = .constant(0.001), rho: Float = 0.9, momentum: Float = 0,
                centered: Bool = false, epsilon: Float = 1e-7, clipping: Clipping = Clipping()) {
        self.schedule = schedule
        self.rho = rho
        self.momentum = momentum
        self.centered = centered
        self.epsilon = epsilon
        self.clipping = clipping
        velocity = state.buffer("velocity", arena)
        average = state.buffer("average", arena, needed: centered)
        momentumBuffer = state.buffer("momentum", arena, needed: momentum > 0)
    }

    public func step(arena: ParameterArena, gradientScale: Float) throws(FolioError) {
        try clipping.apply(arena, gradientScale: gradientScale)
        let learningRate = nextLearningRate
        iterations += 1
        let (weights, gradients) = (arena.values, arena.gradients)
        // Every parameter but frozen ones (lazy tables are refused with RMSprop).
        arena.forEachUpdatedRange { range in for index in range {
            let g = gradients[index]
            velocity[index] = rho * velocity[index] + (1 - rho) * g * g
            var denominator = velocity[index]
            if centered {
                average[index] = rho * average[index] + (1 - rho) * g
                denominator -= average[index] * average[index]
            }
            let increment = learningRate * g / (denominator + epsilon).squareRoot()
            if momentum > 0 {
                momentumBuffer[index] = momentum * momentumBuffer[index] + increment
                weights[index] -= momentumBuffer[index]
            } else {
                weights[index] -= increment
            }
        } }
    }
}

/// Rprop, for full-batch training, as PyTorch computes it: per weight a step size that
/// grows by `etaPlus` while the gradient keeps its sign and shrinks by `etaMinus` when it
/// flips (that update is skipped), within `stepSizes`; `w -= sign(g) * step`.
public final class Rprop: Optimizer {
    public let etaMinus: Float
    public let etaPlus: Float
    public let stepSizes: ClosedRange<Float>
    public private(set) var iterations = 0
    public let state = OptimizerState()
    public func restore(iterations: Int) { self.iterations = iterations }
    public var learningRateFactor: Float = 1
    public var nextLearningRate: Float { 0 }
    private let previous: UnsafeMutableBufferPointer<Float>
    private let steps: UnsafeMutableBufferPointer<Float>

    public init(arena: ParameterArena, learningRate: Float = 0.01, etaMinus: Float = 0.5, etaPlus: Float = 1.2,
                stepSizes: ClosedRange<Float> = 1e-6...50) {
        self.etaMinus = etaMinus
        self.etaPlus = etaPlus
        self.stepSizes = stepSizes
        previous = state.buffer("previous_gradient", arena)
        steps = state.buffer("step_size", arena, value: learningRate)
    }

    public func step(arena: ParameterArena, gradientScale: Float) throws(FolioError) {
        try Clipping().apply(arena, gradientScale: gradientScale)
        iterations += 1
        let (weights, gradients) = (arena.values, arena.gradients)
        arena.forEachUpdatedRange { range in for index in range {
            var g = gradients[index]
            let agreement = g * previous[index]
            if agreement > 0 {
                steps[index] = min(steps[index] * etaPlus, stepSizes.upperBound)
            } else if agreement < 0 {
                steps[index] = max(steps[index] * etaMinus, stepSizes.lowerBound)
                g = 0
            }
            weights[index] -= (g > 0 ? 1 : g < 0 ? -1 : 0) * steps[index]
            previous[index] = g
        } }
    }
}

/// Micro-batches add into the gradient arena; every `steps`-th one triggers one optimizer
/// step on their average (the virtual batch is micro-batch x steps), then the gradients
/// are cleared.
public final class GradientAccumulator {
    public let steps: Int
    public private(set) var pending = 0
    /// Runs on the summed gradients before each update: a distributed run's reduction
    /// across ranks (``GradientReduction``), so that `steps` counts every rank's micro-batches.
    public var beforeStep: ((ParameterArena) throws(FolioError) -> Void)?
    /// Runs after each update, before the gradients are cleared: a distributed run's
    /// sharing of split updates (``GradientReduction/shareUpdatedRows(_:)``).
    public var afterStep: ((ParameterArena) throws(FolioError) -> Void)?

    public init(steps: Int) { self.steps = max(1, steps) }

    /// Call after each micro-batch's backward pass (and, in a distributed run, for each
    /// micro-batch another rank ran); returns whether an update happened.
    @discardableResult
    public func microBatchDone(arena: ParameterArena, optimizer: any Optimizer) throws(FolioError) -> Bool {
        pending += 1
        guard pending == steps else { return false }
        try beforeStep?(arena)
        try optimizer.step(arena: arena, gradientScale: 1 / Float(steps))
        try afterStep?(arena)
        arena.zeroGradients()
        pending = 0
        return true
    }
}

import Foundation
