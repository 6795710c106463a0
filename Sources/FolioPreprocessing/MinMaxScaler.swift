/// Scales each column to ``featureRange`` from the minimum and maximum seen in fit, as
/// scikit-learn's `MinMaxScaler`. A constant column (range below 10 ulps of 1) gets scale 1.
///
/// ```swift
/// var scaler = MinMaxScaler<Double>(featureRange: (-1, 1))
/// let scaled = try scaler.fitTransform(Matrix([[1, 10], [3, 30]]))  // [[-1, -1], [1, 1]]
/// ```
public struct MinMaxScaler<Scalar: PreprocessingScalar>: InvertibleStage {
    public var featureRange: (lower: Double, upper: Double)
    public private(set) var dataMin: [Double] = []
    public private(set) var dataMax: [Double] = []
    public private(set) var samplesSeen = 0

    static var stage: String { "MinMaxScaler" }

    public init(featureRange: (lower: Double, upper: Double) = (0, 1)) {
        self.featureRange = featureRange
    }

    enum CodingKeys: String, CodingKey { case lower, upper, dataMin, dataMax, samplesSeen }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        featureRange = (try container.decode(Double.self, forKey: .lower), try container.decode(Double.self, forKey: .upper))
        dataMin = try container.decode([Double].self, forKey: .dataMin)
        dataMax = try container.decode([Double].self, forKey: .dataMax)
        samplesSeen = try container.decode(Int.self, forKey: .samplesSeen)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(featureRange.lower, forKey: .lower)
        try container.encode(featureRange.upper, forKey: .upper)
        try container.encode(dataMin, forKey: .dataMin)
        try container.encode(dataMax, forKey: .dataMax)
        try container.encode(samplesSeen, forKey: .samplesSeen)
    }

    /// Per column: output = input * scale + offset.
    public var scale: [Double] {
        zip(dataMin, dataMax).map { low, high in
            let range = high - low
            return (featureRange.upper - featureRange.lower) / (range < 10 * Double(Scalar.ulpOfOne) ? 1 : range)
        }
    }

    public var offset: [Double] {
        zip(dataMin, scale).map { featureRange.lower - $0 * $1 }
    }

    public mutating func reset() {
        dataMin = []
        dataMax = []
        samplesSeen = 0
    }

    public mutating func partialFit(_ batch: Matrix<Scalar>) throws(PreprocessingError) {
        guard featureRange.lower < featureRange.upper else {
            throw .invalidArgument(stage: Self.stage, message: "feature range \(featureRange) is empty")
        }
        try batch.checkFinite(stage: Self.stage)
        if samplesSeen > 0 && batch.columns != dataMin.count {
            throw .shapeMismatch(stage: Self.stage, expected: dataMin.count, got: batch.columns)
        }
        guard batch.rows > 0 else { return }
        if samplesSeen == 0 {
            dataMin = [Double](repeating: .infinity, count: batch.columns)
            dataMax = [Double](repeating: -.infinity, count: batch.columns)
        }
        for row in 0..<batch.rows {
            for column in 0..<batch.columns {
                let value = Double(batch[row, column])
                dataMin[column] = min(dataMin[column], value)
                dataMax[column] = max(dataMax[column], value)
            }
        }
        samplesSeen += batch.rows
    }

    public func transform(_ input: Matrix<Scalar>) throws(PreprocessingError) -> Matrix<Scalar> {
        try affine(input, scale: scale, offset: offset)
    }

    public func inverseTransform(_ output: Matrix<Scalar>) throws(PreprocessingError) -> Matrix<Scalar> {
        let scale = self.scale
        return try affine(output, scale: scale.map { 1 / $0 }, offset: zip(offset, scale).map { -$0 / $1 })
    }

    private func affine(_ input: Matrix<Scalar>, scale: [Double], offset: [Double]) throws(PreprocessingError)
        -> Matrix<Scalar>
    {
        guard samplesSeen > 0 else { throw .notFitted(stage: Self.stage) }
        guard input.columns == dataMin.count else {
            throw .shapeMismatch(stage: Self.stage, expected: dataMin.count, got: input.columns)
        }
        try input.checkFinite(stage: Self.stage)
        var output = input
        for row in 0..<input.rows {
            for column in 0..<input.columns {
                output[row, column] = Scalar(Double(input[row, column]) * scale[column] + offset[column])
            }
        }
        return output
    }
}
