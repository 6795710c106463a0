/// Removes the mean and scales to unit variance per column, as scikit-learn's
/// `StandardScaler` (population variance, `ddof = 0`).
///
/// Means and variances are kept in `Double` and merged batch by batch with the parallel
/// algorithm of Chan, Golub and LeVeque (each batch by the corrected two-pass formula,
/// then `M2 = M2a + M2b + delta^2 * na * nb / n`). Everything is accumulated relative
/// to a per-column shift, the first value seen: a column around 1e6 with unit variance
/// would otherwise lose digits in every `delta`. So any batching gives the same
/// statistics to about 1e-12. A column whose variance is zero (to rounding,
/// scikit-learn's test) gets scale 1.
///
/// ```swift
/// var scaler = StandardScaler<Float>()
/// for batch in batches { try scaler.partialFit(batch) }   // data larger than memory
/// let z = try scaler.transform(batch)
/// ```
public struct StandardScaler<Scalar: PreprocessingScalar>: InvertibleStage {
    public var withMean: Bool
    public var withStd: Bool
    // Internal storage visible to the inlinable kernels: called from another module, a
    // generic stage must be specialized there, or every element goes through witness tables.
    @usableFromInline var seen = 0
    /// The first row seen: all sums are taken relative to it.
    @usableFromInline var shift: [Double] = []
    /// Mean minus shift, per column.
    @usableFromInline var shiftedMeans: [Double] = []
    /// Sum of squared deviations from the mean, per column.
    @usableFromInline var m2: [Double] = []

    /// Rows seen so far.
    public var samplesSeen: Int { seen }
    public var mean: [Double] { zip(shift, shiftedMeans).map { $0 + $1 } }

    public init(withMean: Bool = true, withStd: Bool = true) {
        self.withMean = withMean
        self.withStd = withStd
    }

    enum CodingKeys: String, CodingKey {
        case withMean, withStd, shift, shiftedMeans, m2
        case seen = "samplesSeen"
    }

    @usableFromInline static var stage: String { "StandardScaler" }

    /// Population variance per column.
    public var variance: [Double] {
        m2.map { seen > 0 ? $0 / Double(seen) : 0 }
    }

    /// The divisor per column: the standard deviation, or 1 for constant columns (and
    /// for every column when `withStd` is off).
    @inlinable
    public var scale: [Double] {
        let n = Double(seen)
        let epsilon = Double.ulpOfOne
        return zip(m2, mean).map { m2, mean in
            let variance = n > 0 ? m2 / n : 0
            guard withStd else { return 1 }
            let bound = n * epsilon * variance + (n * mean * epsilon) * (n * mean * epsilon)
            return variance <= bound ? 1 : variance.squareRoot()
        }
    }

    public mutating func reset() {
        seen = 0
        shift = []
        shiftedMeans = []
        m2 = []
    }

    @inlinable
    public mutating func partialFit(_ batch: Matrix<Scalar>) throws(PreprocessingError) {
        try batch.checkFinite(stage: Self.stage)
        if seen > 0 && batch.columns != shift.count {
            throw .shapeMismatch(stage: Self.stage, expected: shift.count, got: batch.columns)
        }
        guard batch.rows > 0 else { return }
        let columns = batch.columns
        if seen == 0 { shift = (0..<columns).map { Double(batch[0, $0]) } }
        var batchMean = [Double](repeating: 0, count: columns)
        var batchM2 = [Double](repeating: 0, count: columns)
        var correction = [Double](repeating: 0, count: columns)
        batch.values.withUnsafeBufferPointer { values in
            shift.withUnsafeBufferPointer { shift in
                // Row-major walks keep the reads sequential.
                for row in 0..<batch.rows {
                    for column in 0..<columns { batchMean[column] += Double(values[row * columns + column]) - shift[column] }
                }
                for column in 0..<columns { batchMean[column] /= Double(batch.rows) }
                for row in 0..<batch.rows {
                    for column in 0..<columns {
                        let deviation = Double(values[row * columns + column]) - shift[column] - batchMean[column]
                        batchM2[column] += deviation * deviation
                        correction[column] += deviation
                    }
                }
            }
        }
        // The corrected two-pass formula: the rounding of the batch mean cancels.
        for column in 0..<columns { batchM2[column] -= correction[column] * correction[column] / Double(batch.rows) }
        if seen == 0 {
            shiftedMeans = batchMean
            m2 = batchM2
            seen = batch.rows
            return
        }
        let before = Double(seen)
        let added = Double(batch.rows)
        let total = before + added
        for column in 0..<columns {
            let delta = batchMean[column] - shiftedMeans[column]
            shiftedMeans[column] += delta * added / total
            m2[column] += batchM2[column] + delta * delta * before * added / total
        }
        seen += batch.rows
    }

    @inlinable
    public func transform(_ input: Matrix<Scalar>) throws(PreprocessingError) -> Matrix<Scalar> {
        try apply(input, inverse: false)
    }

    @inlinable
    public func inverseTransform(_ output: Matrix<Scalar>) throws(PreprocessingError) -> Matrix<Scalar> {
        try apply(output, inverse: true)
    }

    /// `(x - shift - shiftedMean) / scale`, or its inverse, per entry in Double, rounded
    /// once. The two loops are written out: a closure here was not inlined across modules
    /// and cost a third of the throughput.
    @inlinable
    func apply(_ input: Matrix<Scalar>, inverse: Bool) throws(PreprocessingError) -> Matrix<Scalar> {
        guard seen > 0 else { throw .notFitted(stage: Self.stage) }
        guard input.columns == shift.count else {
            throw .shapeMismatch(stage: Self.stage, expected: shift.count, got: input.columns)
        }
        try input.checkFinite(stage: Self.stage)
        let zeros = [Double](repeating: 0, count: shift.count)
        let shift = withMean ? self.shift : zeros
        let shiftedMeans = withMean ? self.shiftedMeans : zeros
        let factor = inverse ? scale : scale.map { 1 / $0 }
        let columns = input.columns
        // Written straight from the input: a copy first would be one more pass over memory.
        let values = [Scalar](unsafeUninitializedCapacity: input.values.count) { out, initialized in
            input.values.withUnsafeBufferPointer { values in
                shift.withUnsafeBufferPointer { shift in
                    shiftedMeans.withUnsafeBufferPointer { means in
                        factor.withUnsafeBufferPointer { factor in
                            for row in 0..<input.rows {
                                let base = row * columns
                                if inverse {
                                    for column in 0..<columns {
                                        let value = Double(values[base + column]) * factor[column]
                                        out[base + column] = Scalar(value + means[column] + shift[column])
                                    }
                                } else {
                                    for column in 0..<columns {
                                        let value = Double(values[base + column]) - shift[column] - means[column]
                                        out[base + column] = Scalar(value * factor[column])
                                    }
                                }
                            }
                        }
                    }
                }
            }
            initialized = input.values.count
        }
        let output = Matrix<Scalar>(unchecked: input.rows, columns, values)
        return output
    }
}
