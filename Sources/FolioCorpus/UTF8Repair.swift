/// Streaming UTF-8 validation that replaces every invalid sequence with U+FFFD.
///
/// Follows the WHATWG / Unicode "maximal subpart" practice: each maximal prefix of a
/// valid sequence that cannot be completed becomes one U+FFFD. A sequence cut by a
/// chunk boundary is carried to the next call, so the result does not depend on how
/// the input was chunked.
public struct UTF8Repair: Sendable {
    /// Invalid sequences replaced so far.
    public private(set) var replacements = 0
    private var carry: [UInt8] = []

    public init() {}

    static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// Appends the valid UTF-8 of `input` to `output`; an incomplete sequence at the
    /// end is kept for the next call unless `isFinal`.
    public mutating func repair(_ input: UnsafeRawBufferPointer, isFinal: Bool, into output: inout [UInt8]) {
        if carry.isEmpty {
            repairRun(input, isFinal: isFinal, into: &output)
            return
        }
        // Rare: a sequence was cut at the previous chunk's end. Joining copies the
        // chunk once, which is cheap next to tokenizing it.
        var joined = carry
        carry.removeAll()
        joined.append(contentsOf: input)
        joined.withUnsafeBytes { repairRun($0, isFinal: isFinal, into: &output) }
    }

    private mutating func repairRun(_ bytes: UnsafeRawBufferPointer, isFinal: Bool, into output: inout [UInt8]) {
        let count = bytes.count
        var index = 0
        var validStart = 0
        output.reserveCapacity(output.count + count)
        while index < count {
            // Fast path: 8 ASCII bytes at a time.
            while index + 8 <= count
                && bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
            {
                index += 8
            }
            if index >= count { break }
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let (length, low, high) = UTF8Repair.sequenceShape(lead)
            if length == 0 {
                output.append(contentsOf: bytes[validStart..<index])
                output.append(contentsOf: UTF8Repair.replacement)
                replacements += 1
                index += 1
                validStart = index
                continue
            }
            // Check continuation bytes; the second byte has a narrower range for some leads.
            var position = index + 1
            var valid = true
            while position < index + length {
                if position >= count { break }
                let byte = bytes[position]
                let lowerBound: UInt8 = position == index + 1 ? low : 0x80
                let upperBound: UInt8 = position == index + 1 ? high : 0xBF
                if byte < lowerBound || byte > upperBound { valid = false; break }
                position += 1
            }
            if valid && position == index + length {
                index = position
                continue
            }
            if valid && position >= count && !isFinal {
                // Incomplete at the end of this chunk: carry it over.
                output.append(contentsOf: bytes[validStart..<index])
                carry = Array(bytes[index..<count])
                return
            }
            // A maximal subpart [index, position) is replaced by one U+FFFD.
            output.append(contentsOf: bytes[validStart..<index])
            output.append(contentsOf: UTF8Repair.replacement)
            replacements += 1
            index = position
            validStart = index
        }
        output.append(contentsOf: bytes[validStart..<index])
    }

    /// Whether `bytes` is valid UTF-8 as it stands, so that repairing (copying) can be skipped.
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        var index = 0
        while index < count {
            while index + 8 <= count
                && bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
            {
                index += 8
            }
            guard index < count else { return true }
            let lead = bytes[index]
            if lead < 0x80 { index += 1; continue }
            let (length, low, high) = sequenceShape(lead)
            guard length != 0, index + length <= count else { return false }
            let second = bytes[index + 1]
            guard second >= low && second <= high else { return false }
            var position = index + 2
            while position < index + length {
                guard bytes[position] & 0xC0 == 0x80 else { return false }
                position += 1
            }
            index += length
        }
        return true
    }

    /// Sequence length for a lead byte and the allowed range of the second byte
    /// (Unicode Table 3-7); length 0 marks a byte that cannot start a sequence.
    @inline(__always)
    static func sequenceShape(_ lead: UInt8) -> (Int, UInt8, UInt8) {
        switch lead {
        case 0xC2...0xDF: return (2, 0x80, 0xBF)
        case 0xE0: return (3, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: return (3, 0x80, 0xBF)
        case 0xED: return (3, 0x80, 0x9F)
        case 0xF0: return (4, 0x90, 0xBF)
        case 0xF1...0xF3: return (4, 0x80, 0xBF)
        case 0xF4: return (4, 0x80, 0x8F)
        default: return (0, 0, 0)
        }
    }
}
