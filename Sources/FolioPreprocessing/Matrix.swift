/// The scalar types the stages work in.
public protocol PreprocessingScalar: BinaryFloatingPoint, Codable, Sendable {}
extension Float: PreprocessingScalar {}
extension Double: PreprocessingScalar {}

/// A dense row-major matrix: `values[row * columns + column]`.
///
/// ```swift
/// let x = try Matrix<Double>([[1, 2], [3, 4]])
/// x[1, 0]  // 3
/// ```
public struct Matrix<Scalar: PreprocessingScalar>: Equatable, Codable, Sendable {
    public let rows: Int
    public let columns: Int
    public var values: [Scalar]

    /// - Throws: when `values.count != rows * columns`.
    public init(rows: Int, columns: Int, values: [Scalar]) throws(PreprocessingError) {
        guard rows >= 0, columns >= 0, values.count == rows * columns else {
            throw .invalidArgument(
                stage: "Matrix", message: "\(values.count) values do not make \(rows) x \(columns)")
        }
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// A matrix from rows of equal length.
    public init(_ rows: [[Scalar]]) throws(PreprocessingError) {
        let columns = rows.first?.count ?? 0
        for (index, row) in rows.enumerated() where row.count != columns {
            throw .invalidArgument(stage: "Matrix", message: "row \(index) has \(row.count) values, row 0 has \(columns)")
        }
        try self.init(rows: rows.count, columns: columns, values: rows.flatMap { $0 })
    }

    public static func zeros(rows: Int, columns: Int) -> Matrix {
        Matrix(unchecked: rows, columns, [Scalar](repeating: 0, count: rows * columns))
    }

    @usableFromInline
    init(unchecked rows: Int, _ columns: Int, _ values: [Scalar]) {
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    @inlinable
    public subscript(row: Int, column: Int) -> Scalar {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    /// The rows as arrays (for printing and tests).
    public var rowArrays: [[Scalar]] {
        (0..<rows).map { Array(values[$0 * columns..<($0 + 1) * columns]) }
    }

    /// Throws ``PreprocessingError/nonFinite(stage:row:column:)`` at the first NaN or infinity.
    @inlinable
    public func checkFinite(stage: String) throws(PreprocessingError) {
        guard !allFinite(values) else { return }
        // The rare path: find the place to name it.
        for (index, value) in values.enumerated() where !value.isFinite {
            throw .nonFinite(stage: stage, row: index / columns, column: index % columns)
        }
    }
}

/// A sparse matrix in compressed sparse row (CSR) form: row `r` holds the entries
/// `rowOffsets[r] ..< rowOffsets[r + 1]` of `columnIndices` and `values`, columns ascending.
///
/// ```swift
/// // token-id counts of two documents over a 5-token vocabulary
/// let counts = try SparseMatrix<Double>(columns: 5, rows: [[(1, 2), (4, 1)], [(0, 1)]])
/// ```
public struct SparseMatrix<Scalar: PreprocessingScalar>: Equatable, Codable, Sendable {
    public let rows: Int
    public let columns: Int
    public var rowOffsets: [Int]
    public var columnIndices: [Int]
    public var values: [Scalar]

    /// Rows given as (column, value) pairs in any order; duplicate columns are summed,
    /// explicit zeros dropped.
    public init(columns: Int, rows: [[(Int, Scalar)]]) throws(PreprocessingError) {
        self.rows = rows.count
        self.columns = columns
        var offsets = [0]
        var indices: [Int] = []
        var values: [Scalar] = []
        for (rowIndex, row) in rows.enumerated() {
            var merged: [Int: Scalar] = [:]
            for (column, value) in row {
                guard column >= 0 && column < columns else {
                    throw .invalidArgument(
                        stage: "SparseMatrix", message: "row \(rowIndex): column \(column) outside 0..<\(columns)")
                }
                merged[column, default: 0] += value
            }
            for column in merged.keys.sorted() where merged[column]! != 0 {
                indices.append(column)
                values.append(merged[column]!)
            }
            offsets.append(indices.count)
        }
        self.rowOffsets = offsets
        self.columnIndices = indices
        self.values = values
    }

    /// Rows already in compressed form (scipy's `csr_matrix((data, indices, indptr))`): row r
    /// holds `columnIndices[rowOffsets[r]..<rowOffsets[r + 1]]`, strictly ascending, with
    /// nonzero `values`. Checked, not merged: for callers that have their rows sorted already
    /// (a dictionary per row made the general initializer most of a TF-IDF fit).
    @inlinable
    public init(columns: Int, rowOffsets: [Int], columnIndices: [Int], values: [Scalar]) throws(PreprocessingError) {
        guard rowOffsets.first == 0, rowOffsets.last == columnIndices.count, columnIndices.count == values.count else {
            throw .invalidArgument(stage: "SparseMatrix", message: "row offsets must run from 0 to the \(columnIndices.count) column indices, one value each")
        }
        for row in 0..<rowOffsets.count - 1 {
            guard rowOffsets[row] <= rowOffsets[row + 1] else {
                throw .invalidArgument(stage: "SparseMatrix", message: "row \(row): offsets go backwards")
            }
            let entries = rowOffsets[row]..<rowOffsets[row + 1]
            for entry in entries {
                let column = columnIndices[entry]
                guard column >= 0 && column < columns, entry == entries.lowerBound || columnIndices[entry - 1] < column, values[entry] != 0 else {
                    throw .invalidArgument(stage: "SparseMatrix", message: "row \(row): columns must be ascending in 0..<\(columns) with nonzero values")
                }
            }
        }
        self.init(unchecked: rowOffsets.count - 1, columns, rowOffsets, columnIndices, values)
    }

    @usableFromInline
    init(unchecked rows: Int, _ columns: Int, _ offsets: [Int], _ indices: [Int], _ values: [Scalar]) {
        self.rows = rows
        self.columns = columns
        self.rowOffsets = offsets
        self.columnIndices = indices
        self.values = values
    }

    /// The same matrix, dense.
    public var dense: Matrix<Scalar> {
        var result = Matrix<Scalar>.zeros(rows: rows, columns: columns)
        for row in 0..<rows {
            for entry in rowOffsets[row]..<rowOffsets[row + 1] {
                result[row, columnIndices[entry]] = values[entry]
            }
        }
        return result
    }

    @inlinable
    public func checkFinite(stage: String) throws(PreprocessingError) {
        guard !allFinite(values) else { return }
        for row in 0..<rows {
            for entry in rowOffsets[row]..<rowOffsets[row + 1] where !values[entry].isFinite {
                throw .nonFinite(stage: stage, row: row, column: columnIndices[entry])
            }
        }
    }
}

/// Whether every value is finite. `x * 0` is 0 for finite x and NaN otherwise, so the sum
/// of those products is NaN exactly when one value is not finite: a branch-free reduction
/// that vectorizes, unlike a loop that tests and exits.
@inlinable
func allFinite<Scalar: PreprocessingScalar>(_ values: [Scalar]) -> Bool {
    values.withUnsafeBufferPointer { buffer in
        var lanes: (Scalar, Scalar, Scalar, Scalar) = (0, 0, 0, 0)
        var index = 0
        let count = buffer.count
        while index + 4 <= count {
            lanes.0 += buffer[index] * 0
            lanes.1 += buffer[index + 1] * 0
            lanes.2 += buffer[index + 2] * 0
            lanes.3 += buffer[index + 3] * 0
            index += 4
        }
        while index < count { lanes.0 += buffer[index] * 0; index += 1 }
        return (lanes.0 + lanes.1 + lanes.2 + lanes.3) == 0
    }
}
