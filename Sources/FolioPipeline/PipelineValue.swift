import FolioCore
import TOMLKit

/// A pipeline file's contents as plain values, each remembering the line it came from (or
/// the `--set` that replaced it), so that every later complaint can name key and line.
///
/// TOMLKit parses and reports syntax errors with their line; it does not say where a
/// parsed key was written, so ``PipelineSourceLines`` finds that in the text.
public indirect enum PipelineValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case table([(key: String, value: PipelineValue)])
    case array([PipelineValue])

    public static func == (lhs: PipelineValue, rhs: PipelineValue) -> Bool {
        switch (lhs, rhs) {
        case let (.string(a), .string(b)): a == b
        case let (.integer(a), .integer(b)): a == b
        case let (.float(a), .float(b)): a == b
        case let (.boolean(a), .boolean(b)): a == b
        case let (.array(a), .array(b)): a == b
        case let (.table(a), .table(b)): a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// What a type error calls this value.
    var kind: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .boolean: "a boolean"
        case .table: "a table"
        case .array: "an array"
        }
    }

    /// Parses TOML text; a syntax error names the file and line.
    static func parse(toml text: String, file: String) throws(FolioError) -> PipelineValue {
        // TOML forbids NUL everywhere, and the TOML library stops on an internal assertion
        // (an abort, not an error) when one appears in a key: found by fuzzing.
        if let nul = text.utf8.firstIndex(of: 0) {
            let line = text.utf8[..<nul].reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
            throw FolioError("a NUL byte, which TOML does not allow (a binary file?)", file: file, place: "line \(line)")
        }
        if let line = firstNamelessHeader(text) {
            throw FolioError("TOML syntax: a table header needs a name after '['", file: file, place: "line \(line)")
        }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw FolioError("TOML syntax: \(error.description)", file: file,
                             place: "line \(error.source.begin.line), column \(error.source.begin.column)")
        } catch {
            throw FolioError("TOML syntax: \(error)", file: file)
        }
        return convert(table)
    }

    /// The line of the first table header whose name starts with neither a bare-key
    /// character nor a quote (`[#`, `[=`, a lone `[`), if any. The TOML library stops on an
    /// internal assertion (an abort) there instead of reporting it: found by fuzzing. Lines
    /// inside a multi-line array are values, not headers, so bracket depth is followed
    /// (outside strings and comments).
    static func firstNamelessHeader(_ text: String) -> Int? {
        var depth = 0
        for (number, line) in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            // Space and tab only: toml++ skips no other whitespace there (a carriage return
            // after `[` reached the same assertion: found by fuzzing).
            let blank: Set<UInt8> = [0x20, 0x09]
            let trimmed = line.drop { blank.contains($0) }
            if depth == 0, trimmed.first == UInt8(ascii: "[") {
                var name = trimmed.dropFirst()
                if name.first == UInt8(ascii: "[") { name = name.dropFirst() }
                guard let first = name.drop(while: { blank.contains($0) }).first, isKeyStart(first) else { return number + 1 }
                continue
            }
            var quote: UInt8?
            var escaped = false
            for byte in line {
                if let open = quote {
                    if escaped { escaped = false } else if byte == UInt8(ascii: "\\") && open == UInt8(ascii: "\"") { escaped = true } else if byte == open { quote = nil }
                    continue
                }
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "'"): quote = byte
                case UInt8(ascii: "#"): break
                case UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "]"): depth = max(0, depth - 1)
                default: continue
                }
                if byte == UInt8(ascii: "#") { break }
            }
        }
        return nil
    }

    private static func isKeyStart(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "]"):
            return true
        default:
            return false
        }
    }

    private static func convert(_ value: any TOMLValueConvertible) -> PipelineValue {
        switch value.type {
        case .table:
            guard let table = value.table else { return .table([]) }
            return .table(table.keys.compactMap { key in table[key].map { (key, convert($0)) } })
        case .array:
            guard let array = value.array else { return .array([]) }
            return .array(array.map { convert($0) })
        case .int: return .integer(value.int ?? 0)
        case .double: return .float(value.double ?? 0)
        case .bool: return .boolean(value.bool ?? false)
        case .string: return .string(value.string ?? "")
        default: return .string(String(describing: value))
        }
    }

    /// Applies `section.key=value` (a path may index arrays: `model.layers[1].units`). The
    /// value is read as TOML (`3`, `0.5`, `true`, `"x"`, `[1, 2]`); anything that is not
    /// TOML is taken as a bare string, so `--set corpus.path=/data/news` needs no quotes.
    mutating func set(_ assignment: String) throws(FolioError) {
        guard let equals = assignment.firstIndex(of: "=") else {
            throw FolioError("expected section.key=value", place: "--set \(assignment)")
        }
        let path = String(assignment[..<equals]).trimmed(" ")
        let text = String(assignment[assignment.index(after: equals)...]).trimmed(" ")
        let value: PipelineValue
        if let parsed = try? PipelineValue.parse(toml: "v = " + text, file: ""), case .table(let entries) = parsed, let first = entries.first {
            value = first.value
        } else {
            value = .string(text)
        }
        let components = try PipelineKeyPath(path, place: "--set \(assignment)").components
        try assign(value, at: components[...], assignment: assignment)
    }

    private mutating func assign(_ value: PipelineValue, at path: ArraySlice<PipelineKeyPath.Component>, assignment: String) throws(FolioError) {
        guard let first = path.first else {
            self = value
            return
        }
        switch (self, first) {
        case (.table(var entries), .key(let key)):
            if let index = entries.firstIndex(where: { $0.key == key }) {
                try entries[index].value.assign(value, at: path.dropFirst(), assignment: assignment)
            } else {
                var fresh = PipelineValue.table([])
                try fresh.assign(value, at: path.dropFirst(), assignment: assignment)
                entries.append((key, fresh))
            }
            self = .table(entries)
        case (.array(var items), .index(let index)):
            guard items.indices.contains(index) else {
                throw FolioError("index \(index) is outside the \(items.count) entries", place: "--set \(assignment)")
            }
            try items[index].assign(value, at: path.dropFirst(), assignment: assignment)
            self = .array(items)
        default:
            throw FolioError("the path does not fit the pipeline (\(first) into \(kind))", place: "--set \(assignment)")
        }
    }
}

/// `a.b[2].c` as components.
struct PipelineKeyPath {
    enum Component: CustomStringConvertible {
        case key(String)
        case index(Int)
        var description: String {
            switch self {
            case .key(let key): "key '\(key)'"
            case .index(let index): "index \(index)"
            }
        }
    }

    let components: [Component]

    init(_ text: String, place: String) throws(FolioError) {
        var components: [Component] = []
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            var rest = Substring(part)
            let name = rest.prefix { $0 != "[" }
            guard !name.isEmpty else { throw FolioError("empty key in '\(text)'", place: place) }
            components.append(.key(String(name)))
            rest = rest.dropFirst(name.count)
            while rest.first == "[" {
                guard let close = rest.firstIndex(of: "]"), let index = Int(rest[rest.index(after: rest.startIndex)..<close]) else {
                    throw FolioError("bad index in '\(text)'", place: place)
                }
                components.append(.index(index))
                rest = rest[rest.index(after: close)...]
            }
            guard rest.isEmpty else { throw FolioError("bad key path '\(text)'", place: place) }
        }
        self.components = components
    }
}
