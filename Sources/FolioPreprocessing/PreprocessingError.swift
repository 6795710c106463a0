/// Why a preprocessing stage refused its input. Each case names the stage and the place.
public enum PreprocessingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `transform` (or `inverseTransform`) before any `fit`.
    case notFitted(stage: String)
    /// The input's number of columns differs from what the stage was fitted on.
    case shapeMismatch(stage: String, expected: Int, got: Int)
    /// NaN or infinity in the input.
    case nonFinite(stage: String, row: Int, column: Int)
    /// A category or label never seen in `fit`.
    case unknownCategory(stage: String, column: Int, value: String)
    /// An argument out of its range (a class index, a feature range, a row length).
    case invalidArgument(stage: String, message: String)

    public var description: String {
        switch self {
        case .notFitted(let stage):
            return "\(stage): transform called before fit"
        case .shapeMismatch(let stage, let expected, let got):
            return "\(stage): expected \(expected) columns (as in fit), got \(got)"
        case .nonFinite(let stage, let row, let column):
            return "\(stage): NaN or infinity at row \(row), column \(column)"
        case .unknownCategory(let stage, let column, let value):
            return "\(stage): unknown category '\(value)' in column \(column)"
        case .invalidArgument(let stage, let message):
            return "\(stage): \(message)"
        }
    }
}
