/// UAX #29 word segmentation of pure ASCII text, exactly as ICU 72's word rules do it.
///
/// This is the fast path of ``Tokenizer``; ICU is its reference twin, and tests compare the
/// two on random text over every ASCII class. The character classes were read off ICU
/// itself, not off the standard: ICU counts `@` as a letter (so `a@b.com` is one word)
/// and removes `:` from MidLetter.
///
/// A segment's kind follows the last class the rules joined: `a1` is a number, `1a` a word;
/// `_` (ExtendNumLet) keeps a number a number after a digit and is a word otherwise, and
/// alone it is not a word at all.
enum ASCIIWordSegmenter {
    enum Class: UInt8 {
        case other = 0, letter, digit, extendNumLet, midNumLet, midNum
    }

    static let classes: [Class] = (0..<128).map { (byte: Int) -> Class in
        switch UInt8(byte) {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "@"):
            return .letter
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return .digit
        case UInt8(ascii: "_"): return .extendNumLet
        case UInt8(ascii: "."), UInt8(ascii: "'"): return .midNumLet
        case UInt8(ascii: ","), UInt8(ascii: ";"): return .midNum
        default: return .other
        }
    }

    /// Calls `body(start, end, kind)` for each word segment of `text[range]`, all ASCII.
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
