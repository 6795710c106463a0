/// Pulls a few string fields out of one JSON object on one line, without building a tree.
///
/// JSONL corpora are read at hundreds of MB/s; a general JSON parser would build every
/// value. This one decodes only the wanted keys and skips the rest, checking syntax as
/// it goes. Numbers and booleans are returned as their text (a label may be `3`).
struct JSONLineParser {
    enum Failure: Error, Equatable {
        case syntax(offset: Int, expected: String)
    }

    /// For each of `keys`, the decoded UTF-8 of its value (nil when absent).
    /// Lone surrogates in `\u` escapes become U+FFFD and are counted in `replacements`.
    static func fields(
        _ keys: [String], in line: UnsafeRawBufferPointer, replacements: inout Int
    ) throws(Failure) -> [[UInt8]?] {
        var parser = Cursor(bytes: line)
        let wanted = keys.map { Array($0.utf8) }
        var found = [[UInt8]?](repeating: nil, count: keys.count)
        parser.skipSpace()
        try parser.expect(UInt8(ascii: "{"), "'{'")
        parser.skipSpace()
        if parser.peek == UInt8(ascii: "}") {
            parser.index += 1
        } else {
            while true {
                parser.skipSpace()
                let key = try parser.string(replacements: &replacements)
                parser.skipSpace()
                try parser.expect(UInt8(ascii: ":"), "':'")
                parser.skipSpace()
                if let slot = wanted.firstIndex(of: key) {
                    found[slot] = try parser.scalarValue(replacements: &replacements)
                } else {
                    try parser.skipValue(depth: 0)
                }
                parser.skipSpace()
                if parser.peek == UInt8(ascii: ",") { parser.index += 1; continue }
                try parser.expect(UInt8(ascii: "}"), "',' or '}'")
                break
            }
        }
        parser.skipSpace()
        if parser.index != line.count { throw .syntax(offset: parser.index, expected: "end of line") }
        return found
    }

    private struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(Failure) {
            guard peek == byte else { throw .syntax(offset: index, expected: what) }
            index += 1
        }

        /// A string, a number, true/false/null (null gives an empty value).
        mutating func scalarValue(replacements: inout Int) throws(Failure) -> [UInt8] {
            switch peek {
            case UInt8(ascii: "\""): return try string(replacements: &replacements)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                throw .syntax(offset: index, expected: "a string or number")
            default:
                let start = index
                try skipValue(depth: 0)
                let text = Array(bytes[start..<index])
                return text == Array("null".utf8) ? [] : text
            }
        }

        mutating func skipValue(depth: Int) throws(Failure) {
            guard depth < 512 else { throw .syntax(offset: index, expected: "nesting under 512 levels") }
            guard let byte = peek else { throw .syntax(offset: index, expected: "a value") }
            switch byte {
            case UInt8(ascii: "\""):
                var ignored = 0
                _ = try string(replacements: &ignored)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                index += 1
                skipSpace()
                if peek == close { index += 1; return }
                while true {
                    skipSpace()
                    if close == UInt8(ascii: "}") {
                        var ignored = 0
                        _ = try string(replacements: &ignored)
                        skipSpace()
                        try expect(UInt8(ascii: ":"), "':'")
                        skipSpace()
                    }
                    try skipValue(depth: depth + 1)
                    skipSpace()
                    if peek == UInt8(ascii: ",") { index += 1; continue }
                    try expect(close, close == UInt8(ascii: "}") ? "',' or '}'" : "',' or ']'")
                    return
                }
            default:
                let start = index
                while let next = peek, Cursor.isLiteralByte(next) { index += 1 }
                let literal = bytes[start..<index]
                guard Cursor.isValidLiteral(literal) else { throw .syntax(offset: start, expected: "a value") }
            }
        }

        static func isLiteralByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "E"):
                return true
            default: return false
            }
        }

        static func isValidLiteral(_ literal: Slice<UnsafeRawBufferPointer>) -> Bool {
            if literal.elementsEqual("true".utf8) || literal.elementsEqual("false".utf8)
                || literal.elementsEqual("null".utf8)
            {
                return true
            }
            // A JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
            var rest = literal[...]
            if rest.first == UInt8(ascii: "-") { rest = rest.dropFirst() }
            func digits(_ slice: inout Slice<UnsafeRawBufferPointer>) -> Int {
                var count = 0
                while let byte = slice.first, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                    slice = slice.dropFirst()
                    count += 1
                }
                return count
            }
            let leading = rest.first
            let integerDigits = digits(&rest)
            if integerDigits == 0 || (leading == UInt8(ascii: "0") && integerDigits > 1) { return false }
            if rest.first == UInt8(ascii: ".") {
                rest = rest.dropFirst()
                if digits(&rest) == 0 { return false }
            }
            if rest.first == UInt8(ascii: "e") || rest.first == UInt8(ascii: "E") {
                rest = rest.dropFirst()
                if rest.first == UInt8(ascii: "+") || rest.first == UInt8(ascii: "-") { rest = rest.dropFirst() }
                if digits(&rest) == 0 { return false }
            }
            return rest.isEmpty
        }

        /// A JSON string, decoded to UTF-8.
        mutating func string(replacements: inout Int) throws(Failure) -> [UInt8] {
            try expect(UInt8(ascii: "\""), "'\"'")
            var output: [UInt8] = []
            var runStart = index
            while index < bytes.count {
                // Eight bytes at a time past the plain ones (no quote, backslash or control
                // byte): a document's text is nearly all plain, and this loop is its cost.
                while index + 8 <= bytes.count && !Cursor.hasSpecialByte(bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
                    index += 8
                }
                guard index < bytes.count else { break }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    output.append(contentsOf: bytes[runStart..<index])
                    index += 1
                    return output
                }
                if byte < 0x20 { throw .syntax(offset: index, expected: "no control character in a string") }
                if byte != UInt8(ascii: "\\") { index += 1; continue }
                output.append(contentsOf: bytes[runStart..<index])
                index += 1
                guard let escape = peek else { break }
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escape)
                case UInt8(ascii: "b"): output.append(0x08)
                case UInt8(ascii: "f"): output.append(0x0C)
                case UInt8(ascii: "n"): output.append(0x0A)
                case UInt8(ascii: "r"): output.append(0x0D)
                case UInt8(ascii: "t"): output.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        // A high surrogate must be followed by an escaped low one.
                        let save = index
                        if peek == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") {
                            index += 2
                            let low = try hex4()
                            if (0xDC00..<0xE000).contains(low) {
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                index = save
                                scalar = 0xFFFD
                                replacements += 1
                            }
                        } else {
                            scalar = 0xFFFD
                            replacements += 1
                        }
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        scalar = 0xFFFD
                        replacements += 1
                    }
                    output.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
                default:
                    throw .syntax(offset: index - 1, expected: "a valid escape")
                }
                runStart = index
            }
            throw .syntax(offset: index, expected: "'\"' closing the string")
        }

        /// Whether any of eight bytes is `"`, `\` or below 0x20 (exact, by the "has a byte
        /// less than n" bit trick on the word and on it XORed with each special byte).
        @inline(__always)
        static func hasSpecialByte(_ word: UInt64) -> Bool {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            func hasZero(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }
            let control = (word &- 0x20 &* ones) & ~word & highs
            return control | hasZero(word ^ (0x22 &* ones)) | hasZero(word ^ (0x5C &* ones)) != 0
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            guard index + 4 <= bytes.count else { throw .syntax(offset: index, expected: "4 hex digits") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw .syntax(offset: index, expected: "a hex digit")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }
    }
}
