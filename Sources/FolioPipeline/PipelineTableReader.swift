import FolioCore

/// Reads typed settings out of one table of a pipeline file and remembers which keys it
/// read, so that ``finish()`` can reject the rest: a misspelt key fails before any work
/// starts, naming the key and its line, with the keys that table knows.
final class PipelineTableReader {
    /// The file, its key lines and the keys `--set` replaced: where errors point.
    struct Context {
        var file: String
        var lines: PipelineSourceLines
        var overridden: Set<String>
    }

    let path: String
    private let entries: [(key: String, value: PipelineValue)]
    private let context: Context
    private var known: [String] = []

    init(_ value: PipelineValue, path: String, context: Context) throws(FolioError) {
        self.path = path
        self.context = context
        guard case .table(let entries) = value else {
            throw Self.error("expected a table, found \(value.kind)", at: path, context)
        }
        self.entries = entries
    }

    private func fullPath(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    static func error(_ message: String, at path: String, _ context: Context) -> FolioError {
        if context.overridden.contains(where: { path == $0 || path.hasPrefix($0 + ".") || path.hasPrefix($0 + "[") }) {
            return FolioError(message, place: "--set \(path)")
        }
        let line = context.lines.line(of: path).map { "line \($0), " } ?? ""
        return FolioError(message, file: context.file, place: "\(line)key \(path)")
    }

    func error(_ message: String, key: String) -> FolioError { Self.error(message, at: fullPath(key), context) }

    /// An error about a key of another table of the same file (`model.layers[0].weights`).
    func error(_ message: String, atPath path: String) -> FolioError { Self.error(message, at: path, context) }

    private func value(_ key: String) -> PipelineValue? {
        known.append(key)
        return entries.first { $0.key == key }?.value
    }

    func string(_ key: String) throws(FolioError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else { throw error("expected a string, found \(value.kind)", key: key) }
        // A NUL would cut a path short when it reaches the C library, and TOML cannot
        // write it back (a `--set` value can carry one).
        guard !text.utf8.contains(0) else { throw error("a string may not contain a NUL character", key: key) }
        return text
    }

    func string(_ key: String, default fallback: String) throws(FolioError) -> String { try string(key) ?? fallback }

    /// Whether `key` is absent or the word `"labels"` (a size taken from the data); false
    /// for a number (read later as one), an error for any other string.
    func sizedByLabels(_ key: String) throws(FolioError) -> Bool {
        guard let value = entries.first(where: { $0.key == key })?.value else { return true }
        guard case .string(let word) = value else { return false }
        known.append(key)
        guard word == "labels" else { throw error("expected a number or \"labels\" (the training split's label count), found \"\(word)\"", key: key) }
        return true
    }

    /// One of `choices` (the error lists them).
    func choice(_ key: String, _ choices: [String], default fallback: String) throws(FolioError) -> String {
        let text = try string(key, default: fallback)
        guard choices.contains(text) else { throw error("'\(text)' is not one of \(choices.joined(separator: ", "))", key: key) }
        return text
    }

    func int(_ key: String, in range: ClosedRange<Int> = Int.min...Int.max) throws(FolioError) -> Int? {
        guard let value = value(key) else { return nil }
        guard case .integer(let number) = value else { throw error("expected an integer, found \(value.kind)", key: key) }
        guard range.contains(number) else { throw error("\(number) is outside \(Self.describe(range))", key: key) }
        return number
    }

    func int(_ key: String, default fallback: Int, in range: ClosedRange<Int> = Int.min...Int.max) throws(FolioError) -> Int {
        try int(key, in: range) ?? fallback
    }

    func double(_ key: String, in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude) throws(FolioError) -> Double? {
        guard let value = value(key) else { return nil }
        let number: Double
        switch value {
        case .float(let x): number = x
        case .integer(let x): number = Double(x)
        default: throw error("expected a number, found \(value.kind)", key: key)
        }
        guard range.contains(number) else { throw error("\(number) is outside \(range.lowerBound)...\(range.upperBound)", key: key) }
        return number
    }

    func double(_ key: String, default fallback: Double,
                in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude) throws(FolioError) -> Double {
        try double(key, in: range) ?? fallback
    }

    func bool(_ key: String, default fallback: Bool) throws(FolioError) -> Bool {
        guard let value = value(key) else { return fallback }
        guard case .boolean(let flag) = value else { throw error("expected true or false, found \(value.kind)", key: key) }
        return flag
    }

    /// A size: an integer of bytes or a string such as `"256MB"`, `"2GB"`.
    func bytes(_ key: String, default fallback: Int) throws(FolioError) -> Int {
        guard let value = value(key) else { return fallback }
        switch value {
        case .integer(let number) where number > 0: return number
        case .string(let text):
            guard let bytes = parseByteSize(text) else { throw error("'\(text)' is not a size such as 64MB or 2GB", key: key) }
            return bytes
        default: throw error("expected a size such as \"64MB\", found \(value.kind)", key: key)
        }
    }

    func table(_ key: String) throws(FolioError) -> PipelineTableReader? {
        guard let value = value(key) else { return nil }
        return try PipelineTableReader(value, path: fullPath(key), context: context)
    }

    /// A required table (an empty one when absent, so that defaults apply).
    func section(_ key: String) throws(FolioError) -> PipelineTableReader {
        if let table = try table(key) { return table }
        return try PipelineTableReader(.table([]), path: fullPath(key), context: context)
    }

    /// An array of tables (`[[model.layers]]`).
    func tables(_ key: String) throws(FolioError) -> [PipelineTableReader] {
        guard let value = value(key) else { return [] }
        guard case .array(let items) = value else { throw error("expected an array of tables, found \(value.kind)", key: key) }
        var readers: [PipelineTableReader] = []
        for (index, item) in items.enumerated() {
            readers.append(try PipelineTableReader(item, path: "\(fullPath(key))[\(index)]", context: context))
        }
        return readers
    }

    func array(_ key: String) throws(FolioError) -> [PipelineValue]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else { throw error("expected an array, found \(value.kind)", key: key) }
        return items
    }

    /// Rejects keys nobody read.
    func finish() throws(FolioError) {
        for (key, _) in entries where !known.contains(key) {
            throw error("unknown key '\(key)' (this table knows: \(Array(Set(known)).sorted().joined(separator: ", ")))", key: key)
        }
    }

    private static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return "\(range.lowerBound) or more" }
        return "\(range.lowerBound)...\(range.upperBound)"
    }
}
