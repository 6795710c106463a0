/// One column of zeros and ones per category of each input column, as scikit-learn's
/// `OneHotEncoder` (dense output). Categories are sorted per column by code point.
///
/// With `handleUnknown: .error` an unseen category is an error naming the column and the
/// value; with `.ignore` its block is all zeros, and `inverseTransform` gives nil there.
///
/// ```swift
/// var encoder = OneHotEncoder<Float>(handleUnknown: .ignore)
/// try encoder.fit([["red", "s"], ["blue", "m"]])
/// try encoder.transform([["red", "m"]])   // [[0, 1, 1, 0]]: blue red | m s
/// ```
public struct OneHotEncoder<Scalar: PreprocessingScalar>: PreprocessingStage {
    public enum UnknownHandling: String, Codable, Sendable {
        case error, ignore
    }

    public var handleUnknown: UnknownHandling
    /// Sorted categories per input column.
    public private(set) var categories: [[String]] = []
    private var seen: [Set<String>] = []

    static var stage: String { "OneHotEncoder" }

    public init(handleUnknown: UnknownHandling = .error) {
        self.handleUnknown = handleUnknown
    }

    /// Output columns: the categories of all input columns.
    public var outputColumns: Int { categories.reduce(0) { $0 + $1.count } }

    public mutating func reset() {
        categories = []
        seen = []
    }

    public mutating func partialFit(_ batch: [[String]]) throws(PreprocessingError) {
        guard let width = batch.first?.count else { return }
        if seen.isEmpty { seen = Array(repeating: [], count: width) }
        for (index, row) in batch.enumerated() where row.count != seen.count {
            throw .invalidArgument(
                stage: Self.stage, message: "row \(index) has \(row.count) columns, expected \(seen.count)")
        }
        for column in 0..<seen.count {
            for row in batch { seen[column].insert(row[column]) }
        }
        categories = seen.map { $0.sorted(by: String.precedes) }
    }

    public func transform(_ input: [[String]]) throws(PreprocessingError) -> Matrix<Scalar> {
        guard !categories.isEmpty else { throw .notFitted(stage: Self.stage) }
        let lookups = categories.map { Dictionary(uniqueKeysWithValues: $0.enumerated().map { ($1, $0) }) }
        var starts: [Int] = []
        var start = 0
        for column in categories { starts.append(start); start += column.count }
        var output = Matrix<Scalar>.zeros(rows: input.count, columns: outputColumns)
        for (rowIndex, row) in input.enumerated() {
            guard row.count == categories.count else {
                throw .shapeMismatch(stage: Self.stage, expected: categories.count, got: row.count)
            }
            for (column, value) in row.enumerated() {
                if let id = lookups[column][value] {
                    output[rowIndex, starts[column] + id] = 1
                } else if handleUnknown == .error {
                    throw .unknownCategory(stage: Self.stage, column: column, value: value)
                }
            }
        }
        return output
    }

    /// The category of each block's largest entry; nil for an all-zero block (an ignored
    /// unknown).
    public func inverseTransform(_ output: Matrix<Scalar>) throws(PreprocessingError) -> [[String?]] {
        guard !categories.isEmpty else { throw .notFitted(stage: Self.stage) }
        guard output.columns == outputColumns else {
            throw .shapeMismatch(stage: Self.stage, expected: outputColumns, got: output.columns)
        }
        return (0..<output.rows).map { row in
            var start = 0
            return categories.map { column -> String? in
                defer { start += column.count }
                var best: Int? = nil
                for id in 0..<column.count where output[row, start + id] > 0 {
                    if best == nil || output[row, start + id] > output[row, start + best!] { best = id }
                }
                return best.map { column[$0] }
            }
        }
    }
}

/// One-hot rows from class indices, as Keras `to_categorical`: `numClasses` defaults to
/// the largest index + 1; a negative index or one beyond `numClasses` is an error naming it.
///
/// ```swift
/// try toCategorical([0, 2], numClasses: 3)   // [[1, 0, 0], [0, 0, 1]]
/// ```
public func toCategorical<Scalar: PreprocessingScalar>(
    _ labels: [Int], numClasses: Int? = nil, as: Scalar.Type = Float.self
) throws(PreprocessingError) -> Matrix<Scalar> {
    let classes = numClasses ?? ((labels.max() ?? -1) + 1)
    var output = Matrix<Scalar>.zeros(rows: labels.count, columns: classes)
    for (row, label) in labels.enumerated() {
        guard label >= 0 && label < classes else {
            throw .invalidArgument(
                stage: "toCategorical", message: "label \(label) at row \(row) outside 0..<\(classes)")
        }
        output[row, label] = 1
    }
    return output
}
