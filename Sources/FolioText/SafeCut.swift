/// Places where text can be cut so that tokenizing the pieces gives exactly the tokens
/// of the whole.
///
/// A safe cut lies between an ASCII whitespace byte and an ASCII letter or digit. UAX #29
/// never joins whitespace to a following letter or digit (only WB3d joins spaces to
/// spaces, and WB4 attaches marks, which are not ASCII), and the word break iterator
/// restarts its rules at every break, so segments on either side do not see each other.
/// Both bytes are normalization boundaries in NFC, NFKC and NFKC_Casefold: neither
/// composes with a neighbour. Tests check the claim against ICU on random text.
public enum SafeCut {
    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    @inline(__always)
    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        let lower = byte | 0x20
        return (byte >= 0x30 && byte <= 0x39) || (lower >= 0x61 && lower <= 0x7A)
    }

    /// Whether `position` (0 < position < count) is a safe cut of `text`.
    @inline(__always)
    public static func isSafe(_ text: UnsafeRawBufferPointer, at position: Int) -> Bool {
        isWhitespace(text[position - 1]) && isAlphanumeric(text[position])
    }

    /// The last safe cut in `range` (positions `range.lowerBound + 1 ... range.upperBound - 1`).
    public static func last(in text: UnsafeRawBufferPointer, within range: Range<Int>) -> Int? {
        var position = range.upperBound - 1
        while position > range.lowerBound {
            if isSafe(text, at: position) { return position }
            position -= 1
        }
        return nil
    }

    /// The first safe cut after `start` and before `end`.
    public static func first(in text: UnsafeRawBufferPointer, after start: Int, before end: Int) -> Int? {
        var position = start + 1
        while position < end {
            if isSafe(text, at: position) { return position }
            position += 1
        }
        return nil
    }
}
