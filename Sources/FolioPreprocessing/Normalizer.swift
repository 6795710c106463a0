/// Scales each row to unit norm, as scikit-learn's `Normalizer` / `normalize`.
///
/// Stateless: ``partialFit(_:)`` only checks the input. Rows of all zeros stay zero.
///
/// ```swift
/// let normalizer = Normalizer<Float>(norm: .l2)
/// let unit = try normalizer.transform(Matrix([[3, 4], [0, 0]]))  // [[0.6, 0.8], [0, 0]]
/// ```
public struct Normalizer<Scalar: PreprocessingScalar>: PreprocessingStage {
    public enum Norm: String, Codable, Sendable {
        case l1, l2, max
    }

    public var norm: Norm

    public init(norm: Norm = .l2) { self.norm = norm }

    @inlinable
    public mutating func partialFit(_ batch: Matrix<Scalar>) throws(PreprocessingError) {
        try batch.checkFinite(stage: "Normalizer")
    }

    public mutating func reset() {}

    @inlinable
    public func transform(_ input: Matrix<Scalar>) throws(PreprocessingError) -> Matrix<Scalar> {
        try input.checkFinite(stage: "Normalizer")
        var output = input
        let columns = input.columns
        output.values.withUnsafeMutableBufferPointer { values in
            for row in 0..<input.rows {
                let slice = UnsafeMutableBufferPointer(rebasing: values[row * columns..<(row + 1) * columns])
                Normalizer.scale(slice, norm: norm)
            }
        }
        return output
    }

    /// Sparse rows: only the stored entries are scaled (zeros stay implicit).
    @inlinable
    public func transform(_ input: SparseMatrix<Scalar>) throws(PreprocessingError) -> SparseMatrix<Scalar> {
        try input.checkFinite(stage: "Normalizer")
        var output = input
        output.values.withUnsafeMutableBufferPointer { values in
            for row in 0..<input.rows {
                let slice = UnsafeMutableBufferPointer(rebasing: values[input.rowOffsets[row]..<input.rowOffsets[row + 1]])
                Normalizer.scale(slice, norm: norm)
            }
        }
        return output
    }

    /// Divides one row by its norm. Sums run in four lanes so that the loop vectorizes.
    @inlinable
    static func scale(_ row: UnsafeMutableBufferPointer<Scalar>, norm: Norm) {
        var lanes: (Scalar, Scalar, Scalar, Scalar) = (0, 0, 0, 0)
        var index = 0
        let count = row.count
        switch norm {
        case .l2:
            while index + 4 <= count {
                lanes.0 += row[index] * row[index]
                lanes.1 += row[index + 1] * row[index + 1]
                lanes.2 += row[index + 2] * row[index + 2]
                lanes.3 += row[index + 3] * row[index + 3]
                index += 4
            }
            while index < count { lanes.0 += row[index] * row[index]; index += 1 }
        case .l1:
            while index + 4 <= count {
                lanes.0 += abs(row[index])
                lanes.1 += abs(row[index + 1])
                lanes.2 += abs(row[index + 2])
                lanes.3 += abs(row[index + 3])
                index += 4
            }
            while index < count { lanes.0 += abs(row[index]); index += 1 }
        case .max:
            for value in row { lanes.0 = Swift.max(lanes.0, abs(value)) }
        }
        var total = norm == .max ? lanes.0 : (lanes.0 + lanes.1) + (lanes.2 + lanes.3)
        if norm == .l2 { total = total.squareRoot() }
        guard total != 0 else { return }
        let inverse = 1 / total
        // scikit-learn divides; multiplying by the inverse differs by at most an ulp.
        for index in 0..<count { row[index] *= inverse }
    }
}
