/// A fitted transformation of data, scikit-learn style, that can learn from data too
/// large for memory one batch at a time.
///
/// - ``partialFit(_:)`` learns from one batch; ``fit(_:)`` forgets what was learned and
///   learns from all the data at once. Stages whose state is a sum over rows (all of
///   Folio's) give the same state for any batching.
/// - ``transform(_:)`` applies what was learned; before any fit it throws
///   ``PreprocessingError/notFitted(stage:)`` (stateless stages need no fit).
/// - The state is `Codable`: a fitted stage saves as JSON and loads back equal.
public protocol PreprocessingStage: Codable, Sendable {
    associatedtype Input
    associatedtype Output

    /// Learns from one more batch.
    mutating func partialFit(_ batch: Input) throws(PreprocessingError)
    /// Forgets everything learned (the configuration stays).
    mutating func reset()
    func transform(_ input: Input) throws(PreprocessingError) -> Output
}

extension PreprocessingStage {
    /// Learns from `data` alone, forgetting earlier fits.
    public mutating func fit(_ data: Input) throws(PreprocessingError) {
        reset()
        try partialFit(data)
    }

    /// `fit`, then `transform` of the same data.
    public mutating func fitTransform(_ data: Input) throws(PreprocessingError) -> Output {
        try fit(data)
        return try transform(data)
    }

    /// Chains `next` after this stage: the result is itself a stage.
    public func then<Next: PreprocessingStage>(_ next: Next) -> Chain<Self, Next> where Next.Input == Output {
        Chain(self, next)
    }
}

/// A stage whose transformation can be undone.
public protocol InvertibleStage: PreprocessingStage {
    func inverseTransform(_ output: Output) throws(PreprocessingError) -> Input
}

/// Two stages run one after the other, itself a stage (chains nest: `a.then(b).then(c)`).
///
/// ``fit(_:)`` fits the first stage, then the second on the first's output, as
/// scikit-learn's `Pipeline` does. ``partialFit(_:)`` feeds each batch through the
/// first stage as it stands, so it matches `fit` only when the first stage is stateless
/// (a ``Normalizer``) or already fitted. For data that does not fit in memory and a
/// stateful first stage, use ``fit(passes:)``: one pass over the batches per stage.
public struct Chain<First: PreprocessingStage, Second: PreprocessingStage>: PreprocessingStage
where First.Output == Second.Input {
    public var first: First
    public var second: Second

    public init(_ first: First, _ second: Second) {
        self.first = first
        self.second = second
    }

    public mutating func partialFit(_ batch: First.Input) throws(PreprocessingError) {
        try first.partialFit(batch)
        try second.partialFit(try first.transform(batch))
    }

    public mutating func reset() {
        first.reset()
        second.reset()
    }

    public mutating func fit(_ data: First.Input) throws(PreprocessingError) {
        try first.fit(data)
        try second.fit(try first.transform(data))
    }

    /// Exact streaming fit: `batches()` is called once per pass and must give the same
    /// batches each time; pass 1 fits the first stage, pass 2 the second on its output.
    public mutating func fit<Batches: Sequence>(passes batches: () -> Batches) throws(PreprocessingError)
    where Batches.Element == First.Input {
        reset()
        for batch in batches() { try first.partialFit(batch) }
        for batch in batches() { try second.partialFit(try first.transform(batch)) }
    }

    public func transform(_ input: First.Input) throws(PreprocessingError) -> Second.Output {
        try second.transform(try first.transform(input))
    }
}

extension Chain: InvertibleStage where First: InvertibleStage, Second: InvertibleStage {
    public func inverseTransform(_ output: Second.Output) throws(PreprocessingError) -> First.Input {
        try first.inverseTransform(try second.inverseTransform(output))
    }
}
