import Foundation

/// Any JSON value, decoded with `JSONDecoder`, whose number parsing is exact.
/// (Foundation's `JSONSerialization` on Linux parses some doubles 1-2 ulp off, which
/// broke 1e-12 comparisons: fixtures must not be read with it.)
public enum JSONValue: Decodable {
    case number(Double), string(String), bool(Bool), array([JSONValue]), object([String: JSONValue]), null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    /// As plain Swift values: Double, String, Bool, arrays, dictionaries.
    public var plain: Any? {
        switch self {
        case .number(let value): return value
        case .string(let value): return value
        case .bool(let value): return value
        case .array(let values):
            let items = values.map(\.plain)
            if let numbers = items as? [Double] { return numbers }
            if let rows = items as? [[Double]] { return rows }
            if let strings = items as? [String] { return strings }
            if let rows = items as? [[String]] { return rows }
            return items
        case .object(let values): return values.mapValues(\.plain)
        case .null: return nil
        }
    }
}


extension JSONValue {
    /// Reads a JSON file exactly: its plain value.
    public static func read(_ url: URL) throws -> Any? {
        try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: url)).plain
    }
}
