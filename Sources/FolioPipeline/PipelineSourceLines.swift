import FolioCore

/// Where each key of a TOML file was written: `training.epochs` -> line 31,
/// `model.layers[1].units` -> line 18. A line scan that follows table headers
/// (`[a.b]`, `[[a.b]]` counting entries) and `key = value` lines, dotted and quoted keys
/// included; enough for the pipeline files Folio reads, whose syntax TOMLKit has already
/// checked by the time a line is looked up.
struct PipelineSourceLines: Sendable {
    private var lines: [String: Int] = [:]

    init(_ text: String) {
        var prefix = ""
        var arrayCounts: [String: Int] = [:]
        var insideMultilineString: String?
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmed(" ").trimmed("\t").trimmed("\r").trimmed(" ")
            if let delimiter = insideMultilineString {
                if line.contains(delimiter) { insideMultilineString = nil }
                continue
            }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[[") {
                let name = Self.joined(Self.keyParts(line.dropFirst(2).prefix { $0 != "]" }))
                let index = arrayCounts[name, default: 0]
                arrayCounts[name] = index + 1
                // Nested arrays of tables under an entry restart their count.
                for key in arrayCounts.keys where key.hasPrefix(name + "[") { arrayCounts[key] = nil }
                prefix = "\(name)[\(index)]"
                lines[prefix] = number + 1
            } else if line.hasPrefix("[") {
                prefix = Self.resolve(Self.joined(Self.keyParts(line.dropFirst().prefix { $0 != "]" })), arrayCounts)
                lines[prefix] = lines[prefix] ?? number + 1
            } else if let equals = Self.assignment(in: line) {
                let key = Self.joined(Self.keyParts(line[..<equals]))
                let full = prefix.isEmpty ? key : prefix + "." + key
                lines[full] = number + 1
                let value = line[line.index(after: equals)...].trimmed(" ")
                for delimiter in ["\"\"\"", "'''"] where value.hasPrefix(delimiter) && !value.dropFirst(3).contains(delimiter) {
                    insideMultilineString = delimiter
                }
            }
        }
    }

    /// The line of `path`, or of the nearest enclosing table written in the file.
    func line(of path: String) -> Int? {
        var path = path
        while true {
            if let line = lines[path] { return line }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            path = String(path[..<cut])
        }
    }

    /// `[a.b]` names the last entry of an array of tables when one of its parents is one.
    private static func resolve(_ name: String, _ arrayCounts: [String: Int]) -> String {
        var resolved = ""
        for part in name.split(separator: ".") {
            resolved += resolved.isEmpty ? String(part) : "." + part
            if let count = arrayCounts[resolved] { resolved += "[\(count - 1)]" }
        }
        return resolved
    }

    /// The `=` of a `key = value` line, outside quotes.
    private static func assignment(in line: String) -> String.Index? {
        var quote: Character?
        for index in line.indices {
            let character = line[index]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "=" {
                return index
            }
        }
        return nil
    }

    /// A dotted key's parts, quotes removed: `a."b.c" . d` -> [a, b.c, d].
    private static func keyParts(_ text: Substring) -> [String] {
        var parts: [String] = []
        var current = ""
        var quote: Character?
        for character in text {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "." {
                parts.append(current)
                current = ""
            } else if character != " " && character != "\t" {
                current.append(character)
            }
        }
        parts.append(current)
        return parts
    }

    private static func joined(_ parts: [String]) -> String { parts.joined(separator: ".") }
}
