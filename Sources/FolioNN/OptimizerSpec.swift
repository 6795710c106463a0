/// An optimizer as a pipeline file names it, with Keras's arguments and defaults; ``make(arena:)``
/// builds it over a model's arena.
public struct OptimizerSpec: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case sgd, rmsprop, adam, adamw, rprop
    }

    public var kind: Kind
    public var schedule: LearningRateSchedule
    /// SGD and RMSprop.
    public var momentum: Float = 0
    public var nesterov = false
    public var rho: Float = 0.9
    public var centered = false
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-7
    public var amsgrad = false
    /// AdamW's decoupled decay (Keras's default 0.004).
    public var weightDecay: Float = 0.004
    public var clipping = Clipping()

    public init(kind: Kind = .adam, schedule: LearningRateSchedule = .constant(0.001)) {
        self.kind = kind
        self.schedule = schedule
    }

    /// The learning rate a schedule starts from.
    public var initialLearningRate: Float { schedule.rate(at: 0) }

    /// SGD with no momentum and no clipping (``SGD/isPlain``): each row's update is its own
    /// gradient scaled, so a lazy table can take it share by share.
    public var isPlainSGD: Bool { kind == .sgd && momentum == 0 && clipping == Clipping() }

    public func make(arena: ParameterArena) -> any Optimizer {
        switch kind {
        case .sgd:
            SGD(arena: arena, schedule: schedule, momentum: momentum, nesterov: nesterov, clipping: clipping)
        case .rmsprop:
            RMSprop(arena: arena, schedule: schedule, rho: rho, momentum: momentum, centered: centered, epsilon: epsilon, clipping: clipping)
        case .adam, .adamw:
            Adam(arena: arena, schedule: schedule, beta1: beta1, beta2: beta2, epsilon: epsilon, amsgrad: amsgrad,
                 weightDecay: kind == .adamw ? weightDecay : 0, clipping: clipping)
        case .rprop:
            Rprop(arena: arena, learningRate: initialLearningRate)
        }
    }
}
