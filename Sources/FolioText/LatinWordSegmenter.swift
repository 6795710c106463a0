/// UAX #29 word segmentation of ASCII text and precomposed Latin-1 letters, exactly as
/// ICU 72's word rules do it.
///
/// This is the fast path of ``Tokenizer``, for text where ``isFast(_:at:)`` holds
/// throughout; ICU is its reference twin, and tests compare the two on random text over
/// every class. The ASCII classes were read off ICU itself, not off the standard: ICU
/// counts `@` as a letter (so `a@b.com` is one word) and removes `:` from MidLetter.
///
/// Latin-1 letters (U+00C0-U+00FF but `×`, `÷`, `ß`) are ALetter and are two UTF-8 bytes,
/// C3 then 80-BF; in fast text those bytes occur only in such letters, so both bytes are
/// classed as letters and a letter stays one run of letter bytes.
///
/// A segment's kind follows the last class the rules joined: `a1` is a number, `1a` a word;
/// `_` (ExtendNumLet) keeps a number a number after a digit and is a word otherwise, and
/// alone it is not a word at all.
enum LatinWordSegmenter {
    enum Class: UInt8 {
        case other = 0, letter, digit, extendNumLet, midNumLet, midNum
    }

    static let classes: [Class] = (0..<256).map { (byte: Int) -> Class in
        switch UInt8(byte) {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "@"),
            0x80...0xBF, 0xC3:
            return .letter
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return .digit
        case UInt8(ascii: "_"): return .extendNumLet
        case UInt8(ascii: "."), UInt8(ascii: "'"): return .midNumLet
        case UInt8(ascii: ","), UInt8(ascii: ";"): return .midNum
        default: return .other
        }
    }

    /// Whether the character at `index` can take the fast path: ASCII, or a Latin-1 letter
    /// that no normalization form changes except for case. Returns its byte length, or 0.
    @inline(__always)
    static func fastLength(_ text: UnsafeRawBufferPointer, at index: Int) -> Int {
        let byte = text[index]
        if byte < 0x80 { return 1 }
        guard byte == 0xC3, index + 1 < text.count else { return 0 }
        let second = text[index + 1]
        // × (C3 97) and ÷ (C3 B7) are not letters; ß (C3 9F) case-folds to "ss".
        guard second >= 0x80 && second <= 0xBF && second != 0x97 && second != 0xB7 && second != 0x9F else { return 0 }
        return 2
    }

    /// Calls `body(start, end, kind)` for each word segment of `text[range]`, fast text only.
    @inline(__always)
    static func segments(
        _ text: UnsafeRawBufferPointer, in range: Range<Int>,
        _ body: (Int, Int, SegmentKind) -> Void
    ) {
        classes.withUnsafeBufferPointer { table in
            let end = range.upperBound
            var index = range.lowerBound
            while index < end {
                var last = table[Int(text[index])]
                guard last == .letter || last == .digit || last == .extendNumLet else {
                    index += 1
                    continue
                }
                let start = index
                var kind: SegmentKind? = last == .letter ? .letter : last == .digit ? .number : nil
                index += 1
                scan: while index < end {
                    let next = table[Int(text[index])]
                    switch next {
                    case .letter:
                        kind = .letter
                    case .digit:
                        kind = .number
                    case .extendNumLet:
                        kind = last == .digit ? .number : .letter
                    case .midNumLet, .midNum:
                        // WB6/7 (letters around MidNumLet) and WB11/12 (digits around both).
                        guard index + 1 < end else { break scan }
                        let after = table[Int(text[index + 1])]
                        if after == .digit && last == .digit {
                            kind = .number
                        } else if after == .letter && last == .letter && next == .midNumLet {
                            kind = .letter
                        } else {
                            break scan
                        }
                        index += 1
                        last = after
                        index += 1
                        continue scan
                    case .other:
                        break scan
                    }
                    last = next
                    index += 1
                }
                if let kind { body(start, index, kind) }
            }
        }
    }
}

/// What a word segment is made of (ICU's rule status ranges).
public enum SegmentKind: UInt8, Sendable {
    case number = 1, letter, kana, ideographic
}
