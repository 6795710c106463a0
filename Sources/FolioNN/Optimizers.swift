import FolioCore

/// An optimizer over a ``ParameterArena``: one update from the arena's gradients, scaled by
/// `gradientScale` (1/k after k accumulated micro-batches). Its state has the arena's layout.
public protocol Optimizer: AnyObject {
    /// Optimizer steps taken: schedules, bias corrections and weight decay count these,
    /// never micro-batches.
    var iterations: Int { get }
    func step(arena: ParameterArena, gradientScale: Float) throws(FolioError)
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

    /// Scales (and clamps) the arena's gradients in place, after `gradientScale`; throws on
    /// NaN or infinity, naming the parameter.
    func apply(_ arena: ParameterArena, gradientScale: Float) throws(FolioError) {
        let gradients = arena.gradients
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
/// `w -= alpha * m / (sqrt(v) + epsilon)`; with `weightDecay`, AdamW's decoupled decay
/// `w -= lr * weightDecay * w` first.
public final class Adam: Optimizer {
    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    public let clipping: Clipping
    public private(set) var iterations = 0
    private let m: UnsafeMutableBufferPointer<Float>
    private let v: UnsafeMutableBufferPointer<Float>

    public init(
        arena: ParameterArena, learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999,
        epsilon: Float = 1e-7, weightDecay: Float = 0, clipping: Clipping = Clipping()
    ) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.clipping = clipping
        m = .allocate(capacity: max(1, arena.count))
        m.initialize(repeating: 0)
        v = .allocate(capacity: max(1, arena.count))
        v.initialize(repeating: 0)
    }

    deinit {
        m.deallocate()
        v.deallocate()
    }

    public func step(arena: ParameterArena, gradientScale: Float) throws(FolioError) {
        try clipping.apply(arena, gradientScale: gradientScale)
        iterations += 1
        let t = Double(iterations)
        let alpha = Float(Double(learningRate) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
        let (weights, gradients) = (arena.values, arena.gradients)
        for index in 0..<arena.count {
            if weightDecay != 0 { weights[index] -= learningRate * weightDecay * weights[index] }
            let g = gradients[index]
            m[index] += (g - m[index]) * (1 - beta1)
            v[index] += (g * g - v[index]) * (1 - beta2)
            weights[index] -= alpha * m[index] / (v[index].squareRoot() + epsilon)
        }
    }
}

/// SGD as Keras computes it: `velocity = momentum * velocity - lr * g`, `w += velocity`
/// (Nesterov: `w += momentum * velocity - lr * g`).
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    public let clipping: Clipping
    public private(set) var iterations = 0
    private let velocity: UnsafeMutableBufferPointer<Float>

    public init(arena: ParameterArena, learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false,
                clipping: Clipping = Clipping()) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.clipping = clipping
        velocity = .allocate(capacity: max(1, arena.count))
        velocity.initialize(repeating: 0)
    }

    deinit { velocity.deallocate() }

    public func step(arena: ParameterArena, gradientScale: Float) throws(FolioError) {
        try clipping.apply(arena, gradientScale: gradientScale)
        iterations += 1
        let (weights, gradients) = (arena.values, arena.gradients)
        for index in 0..<arena.count {
            let g = gradients[index]
            if momentum == 0 {
                weights[index] -= learningRate * g
                continue
            }
            velocity[index] = momentum * velocity[index] - learningRate * g
            weights[index] += nesterov ? momentum * velocity[index] - learningRate * g : velocity[index]
        }
    }
}

/// Micro-batches add into the gradient arena; every `steps`-th one triggers one optimizer
/// step on their average (the virtual batch is micro-batch x steps), then the gradients
/// are cleared.
public final class GradientAccumulator {
    public let steps: Int
    public private(set) var pending = 0

    public init(steps: Int) { self.steps = max(1, steps) }

    /// Call after each micro-batch's backward pass; returns whether an update happened.
    @discardableResult
    public func microBatchDone(arena: ParameterArena, optimizer: any Optimizer) throws(FolioError) -> Bool {
        pending += 1
        guard pending == steps else { return false }
        try optimizer.step(arena: arena, gradientScale: 1 / Float(steps))
        arena.zeroGradients()
        pending = 0
        return true
    }
}

import Foundation
