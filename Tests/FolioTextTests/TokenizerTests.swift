import FolioTestSupport
import Testing
@testable import FolioText

@Suite struct TokenizerTests {
    let tokenizer: Tokenizer

    init() throws { tokenizer = try Tokenizer() }

    @Test func englishFollowsUAX29() throws {
        #expect(try tokenizer.tokens("Don't stop: 3.5 and 3,5 in the U.S. today!") ==
            ["don't", "stop", "3.5", "and", "3,5", "in", "the", "u.s", "today"])
        #expect(try tokenizer.tokens("mail a@b.com, snake_case __init__ x_1.2") ==
            ["mail", "a@b.com", "snake_case", "__init__", "x_1.2"])
    }

    @Test func compatibilityFormsAndCaseFolding() throws {
        // Ligature, full-width digits, sharp s, Cyrillic with diaeresis.
        #expect(try tokenizer.tokens("ﬁnal １２３ Straße Ёлка ÀÉÎÕÜ×ÿ") == ["final", "123", "strasse", "ёлка", "àéîõü", "ÿ"])
        #expect(try Tokenizer(options: .init(normalization: .nfkc)).tokens("ﬁnal Straße Ёлка") ==
            ["final", "Straße", "Ёлка"])
        #expect(try Tokenizer(options: .init(normalization: .nfc)).tokens("ﬁnal １２３") == ["ﬁnal", "１２３"])
        #expect(try Tokenizer(options: .init(normalization: .none)).tokens("Ёлка") == ["Ёлка"])
    }

    @Test func russianText() throws {
        #expect(try tokenizer.tokens("Ёлка, зелёная; 3,14 — это «число» пи.") ==
            ["ёлка", "зелёная", "3,14", "это", "число", "пи"])
    }

    @Test func numberMappingKeepsWordsWithDigits() throws {
        let mapper = try Tokenizer(options: .init(numbers: .map))
        #expect(try mapper.tokens("mp3 costs 3.50 or 1,000 in 2024 a1 ü1 １２") ==
            ["mp3", "costs", "<num>", "or", "<num>", "in", "<num>", "a1", "ü1", "<num>"])
    }

    @Test func longTokensAreTruncatedByScalarsAndCounted() throws {
        let short = try Tokenizer(options: .init(maxTokenLength: 4))
        #expect(try short.tokens("abcdefg ёлочка ab") == ["abcd", "ёлоч", "ab"])
        #expect(short.truncatedTokens == 2)
    }

    /// The ASCII fast path and the safe cuts against ICU alone, on random text drawn from
    /// every ASCII word-break class plus non-ASCII letters, marks and CJK.
    @Test(arguments: TokenizerOptions.Normalization.allCases)
    func fastPathEqualsICU(normalization: TokenizerOptions.Normalization) throws {
        let tokenizer = try Tokenizer(options: .init(normalization: normalization, maxTokenLength: 0))
        let pieces = ["a", "Z", "q", "1", "7", "_", ".", "'", ",", ";", ":", "@", "-", " ", "  ", "\n", "\t",
                      "\"", "!", "é", "É", "Þ", "ÿ", "ü", "ß", "×", "÷", "ª", "µ", "ﬁ", "Ё", "１", "\u{0301}", "\u{0308}", "日本",
                      "\u{00A0}", "ab", "Word", "42"]
        var generator = SplitMix64(seed: 7)
        for _ in 0..<3000 {
            let length = Int(generator.next() % 24)
            let text = (0..<length).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined()
            let fast = try tokenizer.tokens(text)
            let reference = try tokenizer.tokens(text, referenceOnly: true)
            #expect(fast == reference, "text: \(text.debugDescription)")
        }
    }

    /// Tokens of a long text cut at safe points equal those of the whole text.
    @Test func chunkedTokenizationEqualsWholeText() throws {
        var generator = SplitMix64(seed: 11)
        let words = ["Ёлка", "tree", "U.S.", "3,5", "don't", "ﬁne", "日本語", "café", "x_1", "a@b.com", "Straße"]
        let separators = [" ", "  ", "\n", ", ", ". ", "\t", " — "]
        var text = ""
        for _ in 0..<20000 {
            text += words[Int(generator.next() % UInt64(words.count))]
            text += separators[Int(generator.next() % UInt64(separators.count))]
        }
        let whole = try tokenizer.tokens(text, referenceOnly: true)
        let bytes = Array(text.utf8)
        var chunked: [String] = []
        var start = 0
        try bytes.withBytes { raw throws(FolioError) in
            while start < raw.count {
                let target = min(raw.count, start + 1 + Int(generator.next() % 4000))
                let end = target == raw.count ? target : (SafeCut.last(in: raw, within: start..<target) ?? target)
                // Only cut where it is safe; a piece with no safe cut runs on to the next one.
                let cut = end > start && (end == raw.count || SafeCut.isSafe(raw, at: end))
                    ? end : (SafeCut.first(in: raw, after: target, before: raw.count) ?? raw.count)
                try tokenizer.forEachToken(in: UnsafeRawBufferPointer(rebasing: raw[start..<cut])) {
                    chunked.append(String(decoding: $0, as: UTF8.self))
                }
                start = cut
            }
        }
        #expect(chunked.count == whole.count)
        #expect(chunked == whole)
    }
}

import FolioCore

