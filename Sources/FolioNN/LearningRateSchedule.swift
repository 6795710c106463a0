import Foundation

/// Learning rate per optimizer step (0 for the first update), as Keras's schedules.
/// Steps count updates, never micro-batches: with gradient accumulation a schedule runs at
/// the speed of the virtual batch.
public enum LearningRateSchedule: Sendable, Hashable, Codable {
    case constant(Float)
    /// `initial * rate^(step / decaySteps)` (the exponent floored with `staircase`).
    case exponentialDecay(initial: Float, decaySteps: Int, rate: Float, staircase: Bool = false)
    /// Linear warm-up from `initial` to `warmupTarget` over `warmupSteps`, then a cosine
    /// from `warmupTarget` down to `alpha * warmupTarget` over `decaySteps`. Without
    /// warm-up (`warmupSteps: 0`, `warmupTarget: nil`) the cosine starts at `initial`.
    case cosineDecay(initial: Float, decaySteps: Int, alpha: Float = 0, warmupTarget: Float? = nil, warmupSteps: Int = 0)
    /// `values[i]` while `step <= boundaries[i]`, the last value after.
    case piecewiseConstant(boundaries: [Int], values: [Float])
    /// `initial / (1 + rate * step / decaySteps)`: Keras's `InverseTimeDecay`, and with
    /// `decaySteps: 1` the legacy `SGD(decay:)` argument.
    case inverseTimeDecay(initial: Float, decaySteps: Int, rate: Float)

    /// The same schedule starting at `rate` (what a pipeline's `learning_rate` sets); a
    /// piecewise schedule, which has no single start, has all its values scaled to begin there.
    public func withInitialRate(_ rate: Float) -> LearningRateSchedule {
        switch self {
        case .constant: .constant(rate)
        case .exponentialDecay(_, let steps, let decay, let staircase):
            .exponentialDecay(initial: rate, decaySteps: steps, rate: decay, staircase: staircase)
        case .cosineDecay(_, let steps, let alpha, let warmupTarget, let warmupSteps):
            .cosineDecay(initial: rate, decaySteps: steps, alpha: alpha, warmupTarget: warmupTarget, warmupSteps: warmupSteps)
        case .inverseTimeDecay(_, let steps, let decay): .inverseTimeDecay(initial: rate, decaySteps: steps, rate: decay)
        case .piecewiseConstant(let boundaries, let values):
            .piecewiseConstant(boundaries: boundaries, values: values.map { values[0] == 0 ? rate : $0 * (rate / values[0]) })
        }
    }

    /// The same schedule over `steps` decay steps (constant and piecewise schedules have
    /// none and come back unchanged).
    public func withDecaySteps(_ steps: Int) -> LearningRateSchedule {
        switch self {
        case .exponentialDecay(let initial, _, let rate, let staircase):
            .exponentialDecay(initial: initial, decaySteps: steps, rate: rate, staircase: staircase)
        case .cosineDecay(let initial, _, let alpha, let warmupTarget, let warmupSteps):
            .cosineDecay(initial: initial, decaySteps: steps, alpha: alpha, warmupTarget: warmupTarget, warmupSteps: warmupSteps)
        case .inverseTimeDecay(let initial, _, let rate):
            .inverseTimeDecay(initial: initial, decaySteps: steps, rate: rate)
        case .constant, .piecewiseConstant:
            self
        }
    }

    public func rate(at step: Int) -> Float {
        switch self {
        case .constant(let rate):
            return rate
        case .exponentialDecay(let initial, let decaySteps, let rate, let staircase):
            var exponent = Double(step) / Double(decaySteps)
            if staircase { exponent.round(.down) }
            return Float(Double(initial) * pow(Double(rate), exponent))
        case .cosineDecay(let initial, let decaySteps, let alpha, let warmupTarget, let warmupSteps):
            if let warmupTarget, step < warmupSteps {
                return initial + (warmupTarget - initial) * Float(step) / Float(warmupSteps)
            }
            let peak = warmupTarget ?? initial
            let progress = Double(min(step - (warmupTarget == nil ? 0 : warmupSteps), decaySteps)) / Double(decaySteps)
            let cosine = 0.5 * (1 + cos(Double.pi * progress))
            return Float(Double(peak) * ((1 - Double(alpha)) * cosine + Double(alpha)))
        case .piecewiseConstant(let boundaries, let values):
            for (index, boundary) in boundaries.enumerated() where step <= boundary { return values[index] }
            return values.last ?? 0
        case .inverseTimeDecay(let initial, let decaySteps, let rate):
            return Float(Double(initial) / (1 + Double(rate) * Double(step) / Double(decaySteps)))
        }
    }
}
