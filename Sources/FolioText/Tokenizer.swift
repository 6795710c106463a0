import CICUShim
import FolioCore

/// Turns UTF-8 text into normalized word tokens: ICU normalization, then UAX #29 word
/// segmentation keeping letter, number, kana and ideographic segments.
///
/// Runs of ASCII and precomposed Latin-1 letters take ``LatinWordSegmenter`` (with case
/// folding for NFKC_Casefold, the only change any of the normalization forms makes to
/// them); everything else goes through ICU. The two meet only at ``SafeCut``s, so the
/// tokens are exactly ICU's.
///
/// Not thread-safe (ICU break iterators are not): use one per thread.
public final class Tokenizer {
    public let options: TokenizerOptions
    /// Tokens cut to ``TokenizerOptions/maxTokenLength`` so far.
    @exclusivity(unchecked) public private(set) var truncatedTokens = 0
    private let icu: OpaquePointer
    @exclusivity(unchecked) private var lowercased: [UInt8] = []
    private static let numberToken = Array(TokenizerOptions.numberToken.utf8)

    public init(options: TokenizerOptions = TokenizerOptions()) throws(FolioError) {
        self.options = options
        let form: Int32
        switch options.normalization {
        case .none: form = Int32(FOLIO_NORMALIZATION_NONE)
        case .nfc: form = Int32(FOLIO_NORMALIZATION_NFC)
        case .nfkc: form = Int32(FOLIO_NORMALIZATION_NFKC)
        case .nfkcCasefold: form = Int32(FOLIO_NORMALIZATION_NFKC_CASEFOLD)
        }
        var error = [CChar](repeating: 0, count: 200)
        guard let handle = folio_icu_tokenizer_create(form, &error, Int32(error.count)) else {
            throw FolioError("cannot start ICU: \(string(fromCBuffer: error))")
        }
        icu = handle
    }

    deinit { folio_icu_tokenizer_destroy(icu) }

    /// The ICU version linked (`72.1`).
    public static var icuVersion: String { String(cString: folio_icu_version()) }

    /// Calls `body` with each token of `text` (valid UTF-8), in order. The bytes passed
    /// are valid only during the call.
    public func forEachToken(
        in text: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void
    ) throws(FolioError) {
        let count = text.count
        var position = 0
        while position < count {
            let slow = Tokenizer.firstSlowCharacter(text, from: position)
            if slow == count {
                fastTokens(text, position..<count, body)
                return
            }
            // The fast path up to the last safe cut before the slow character, ICU from
            // there to the next safe cut after it.
            if let cut = SafeCut.last(in: text, within: position..<slow) {
                fastTokens(text, position..<cut, body)
                position = cut
            }
            let end = SafeCut.first(in: text, after: slow, before: count) ?? count
            try icuTokens(text, position..<end, body)
            position = end
        }
    }

    /// The reference path: the whole text through ICU, no ASCII fast path.
    public func forEachTokenICUOnly(
        in text: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void
    ) throws(FolioError) {
        try icuTokens(text, 0..<text.count, body)
    }

    /// The tokens of `text` as strings (for tests, prediction, small inputs).
    public func tokens(_ text: String, referenceOnly: Bool = false) throws(FolioError) -> [String] {
        var result: [String] = []
        try Array(text.utf8).withBytes { bytes throws(FolioError) in
            let collect = { (token: UnsafeRawBufferPointer) in result.append(String(decoding: token, as: UTF8.self)) }
            if referenceOnly {
                try forEachTokenICUOnly(in: bytes, collect)
            } else {
                try forEachToken(in: bytes, collect)
            }
        }
        return result
    }

    /// The index of the first character the fast path cannot take, or `text.count`.
    @inline(__always)
    static func firstSlowCharacter(_ text: UnsafeRawBufferPointer, from start: Int) -> Int {
        var index = start
        let count = text.count
        while true {
            while index + 8 <= count
                && text.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
            {
                index += 8
            }
            guard index < count else { return count }
            let length = LatinWordSegmenter.fastLength(text, at: index)
            if length == 0 { return index }
            index += length
        }
    }

    private func fastTokens(
        _ text: UnsafeRawBufferPointer, _ range: Range<Int>, _ body: (UnsafeRawBufferPointer) -> Void
    ) {
        guard options.normalization == .nfkcCasefold else {
            LatinWordSegmenter.segments(text, in: range) { start, end, kind in
                emit(UnsafeRawBufferPointer(rebasing: text[start..<end]), kind, body)
            }
            return
        }
        // Fold each segment into a scratch buffer: the segmenter's classes do not depend
        // on case, so segmenting first and folding after gives the same tokens. Folding
        // is +0x20 on A-Z and on the second byte of À-Þ (C3 80-9E).
        LatinWordSegmenter.segments(text, in: range) { start, end, kind in
            let length = end - start
            if lowercased.count < length { lowercased = [UInt8](repeating: 0, count: max(length, 256)) }
            lowercased.withUnsafeMutableBytes { scratch in
                var previous: UInt8 = 0
                for offset in 0..<length {
                    let byte = text[start + offset]
                    let isUpper = byte &- 0x41 < 26 || (previous == 0xC3 && byte &- 0x80 < 0x1F)
                    scratch[offset] = isUpper ? byte &+ 0x20 : byte
                    previous = byte
                }
                emit(UnsafeRawBufferPointer(rebasing: scratch[0..<length]), kind, body)
            }
        }
    }

    private func icuTokens(
        _ text: UnsafeRawBufferPointer, _ range: Range<Int>, _ body: (UnsafeRawBufferPointer) -> Void
    ) throws(FolioError) {
        guard !range.isEmpty else { return }
        let found = folio_icu_tokenize(
            icu, text.baseAddress!.assumingMemoryBound(to: UInt8.self) + range.lowerBound, Int32(range.count))
        if found < 0 {
            throw FolioError("ICU tokenization failed: \(String(cString: folio_icu_last_error(icu)))")
        }
        guard found > 0 else { return }
        let bytes = folio_icu_token_bytes(icu)!
        let ends = folio_icu_token_ends(icu)!
        let kinds = folio_icu_token_kinds(icu)!
        var start = 0
        for index in 0..<Int(found) {
            let end = Int(ends[index])
            let kind = SegmentKind(rawValue: kinds[index]) ?? .letter
            emit(UnsafeRawBufferPointer(start: bytes + start, count: end - start), kind, body)
            start = end
        }
    }

    /// Applies the number policy and the length limit, then hands the token on.
    @inline(__always)
    private func emit(_ token: UnsafeRawBufferPointer, _ kind: SegmentKind, _ body: (UnsafeRawBufferPointer) -> Void) {
        if kind == .number && options.numbers == .map && !token.contains(where: Tokenizer.isLetterByte) {
            Tokenizer.numberToken.withUnsafeBytes(body)
            return
        }
        let limit = options.maxTokenLength
        // A token of at most `limit` bytes has at most `limit` scalars: the common case.
        if limit == 0 || token.count <= limit {
            body(token)
            return
        }
        var scalars = 0
        for index in 0..<token.count where token[index] & 0xC0 != 0x80 {
            if scalars == limit {
                truncatedTokens += 1
                body(UnsafeRawBufferPointer(rebasing: token[0..<index]))
                return
            }
            scalars += 1
        }
        body(token)
    }

    /// ASCII letters, `@`, and every non-ASCII byte: a number segment without any is
    /// made only of ASCII digits and separators.
    @inline(__always)
    static func isLetterByte(_ byte: UInt8) -> Bool {
        (byte | 0x20) &- 0x61 < 26 || byte == UInt8(ascii: "@") || byte >= 0x80
    }
}
