/// Removes the mean and scales to unit variance per column, as scikit-learn's
/// `StandardScaler` (population variance, `ddof = 0`).
///
/// Means and variances are kept in `Double` and merged batch by batch with the parallel
/// algorithm of Chan, Golub and LeVeque (each batch by two passes, then
/// `M2 = M2a + M2b + delta^2 * na * nb / n`), so any batching gives the same statistics
/// to about 1e-12. A column whose variance is zero (to rounding, scikit-learn's test)
/// gets scale 1.
///
/// ```swift
/// var scaler = StandardScaler<Float>()
/// for batch in batches { try scaler.partialFit(batch) }   // data larger than memory
/// let z = try scaler.transform(batch)
/// ```
public struct StandardScaler<Scalar: PreprocessingScalar>: InvertibleStage {
    public var withMean: Bool
    public var withStd: Bool
    /// Rows seen so far.
    public private(set) var samplesSeen = 0
    public private(set) var mean: [Double] = []
    /// Sum of squared deviations from the mean, per column.
    private var m2: [Double] = []

    public init(withMean: Bool = true, withStd: Bool = true) {
        self.withMean = withMean
        self.withStd = withStd
    }

    static var stage: String { "StandardScaler" }

    /// Population variance per column.
    public var variance: [Double] {
        m2.map { samplesSeen > 0 ? $0 / Double(samplesSeen) : 0 }
    }

    /// The divisor per column: the standard deviation, or 1 for constant columns (and
    /// for every column when `withStd` is off).
    public var scale: [Double] {
        let n = Double(samplesSeen)
        let epsilon = Double.ulpOfOne
        return zip(variance, mean).map { variance, mean in
            guard withStd else { return 1 }
            let bound = n * epsilon * variance + (n * mean * epsilon) * (n * mean * epsilon)
            return variance <= bound ? 1 : variance.squareRoot()
        }
    }

    public mutating func reset() {
        samplesSeen = 0
        mean = []
        m2 = []
    }

    public mutating func partialFit(_ batch: Matrix<Scalar>) throws(PreprocessingError) {
        try batch.checkFinite(stage: Self.stage)
        if samplesSeen > 0 && batch.columns != mean.count {
            throw .shapeMismatch(stage: Self.stage, expected: mean.count, got: batch.columns)
        }
        guard batch.rows > 0 else { return }
        let columns = batch.columns
        var batchMean = [Double](repeating: 0, count: columns)
        var batchM2 = [Double](repeating: 0, count: columns)
        batch.values.withUnsafeBufferPointer { values in
            // Row-major walks keep the reads sequential; two passes keep M2 exact.
            for row in 0..<batch.rows {
                for column in 0..<columns { batchMean[column] += Double(values[row * columns + column]) }
            }
            for column in 0..<columns { batchMean[column] /= Double(batch.rows) }
            for row in 0..<batch.rows {
                for column in 0..<columns {
                    let deviation = Double(values[row * columns + column]) - batchMean[column]
                    batchM2[column] += deviation * deviation
                }
            }
        }
        if samplesSeen == 0 {
            mean = batchMean
            m2 = batchM2
            samplesSeen = batch.rows
            return
        }
        let seen = Double(samplesSeen)
        let added = Double(batch.rows)
        let total = seen + added
        for column in 0..<columns {
            let delta = batchMean[column] - mean[column]
            mean[column] += delta * added / total
            m2[column] += batchM2[column] + delta * delta * seen * added / total
        }
        samplesSeen += batch.rows
    }

    public func transform(_ input: Matrix<Scalar>) throws(PreprocessingError) -> Matrix<Scalar> {
        try apply(input) { value, mean, inverseScale in (value - mean) * inverseScale }
    }

    public func inverseTransform(_ output: Matrix<Scalar>) throws(PreprocessingError) -> Matrix<Scalar> {
        try apply(output, inverse: true) { value, mean, scale in value * scale + mean }
    }

    /// Runs `operation(value, shift, factor)` over every entry, in Double, rounding once.
    private func apply(
        _ input: Matrix<Scalar>, inverse: Bool = false, _ operation: (Double, Double, Double) -> Double
    ) throws(PreprocessingError) -> Matrix<Scalar> {
        guard samplesSeen > 0 else { throw .notFitted(stage: Self.stage) }
        guard input.columns == mean.count else {
            throw .shapeMismatch(stage: Self.stage, expected: mean.count, got: input.columns)
        }
        try input.checkFinite(stage: Self.stage)
        let shift = withMean ? mean : [Double](repeating: 0, count: mean.count)
        let factor = inverse ? scale : scale.map { 1 / $0 }
        var output = input
        let columns = input.columns
        output.values.withUnsafeMutableBufferPointer { values in
            shift.withUnsafeBufferPointer { shift in
                factor.withUnsafeBufferPointer { factor in
                    for row in 0..<input.rows {
                        let base = row * columns
                        for column in 0..<columns {
                            values[base + column] = Scalar(
                                operation(Double(values[base + column]), shift[column], factor[column]))
                        }
                    }
                }
            }
        }
        return output
    }
}
