import Foundation
import Testing
@testable import FolioCorpus

@Suite struct JSONLineParserTests {
    func fields(_ line: String, _ keys: [String] = ["text", "label"]) throws -> [String?] {
        var replacements = 0
        let values = try Array(line.utf8).withUnsafeBytes { bytes in
            try JSONLineParser.fields(keys, in: bytes, replacements: &replacements)
        }
        return values.map { $0.map { String(decoding: $0, as: UTF8.self) } }
    }

    @Test func decodesEscapesAndSkipsOtherValues() throws {
        let line = #"{"id": 3, "meta": {"a": [1, {"b": "}"}], "c": null}, "text": "Tab\there \"q\" \u00e9 \ud83d\ude00 \/", "label": "sports", "x": -1.5e3}"#
        #expect(try fields(line) == ["Tab\there \"q\" é 😀 /", "sports"])
    }

    /// The eight-bytes-at-a-time scan stops at every special byte wherever it falls in a
    /// word: each escape, a closing quote, a control byte and non-ASCII text at offsets 0-23,
    /// decoded as Foundation's JSON decoder decodes them.
    @Test func everySpecialByteIsFoundAtEveryOffset() throws {
        for special in [#"\""#, #"\\"#, #"\n"#, #"\u00e9"#, "é€", ""] {
            for offset in 0..<24 {
                let text = String(repeating: "a", count: offset) + special + String(repeating: "b", count: 23 - offset)
                let line = #"{"text": ""# + text + #"", "label": "x"}"#
                let expected = try JSONDecoder().decode([String: String].self, from: Data(line.utf8))["text"]
                #expect(try fields(line) == [expected, "x"], "\(line)")
            }
        }
        for offset in 0..<24 {
            let line = #"{"text": ""# + String(repeating: "a", count: offset) + "\u{01}" + #"bbbbbbbbbb"}"#
            var replacements = 0
            #expect(throws: JSONLineParser.Failure.syntax(offset: 10 + offset, expected: "no control character in a string")) {
                try Array(line.utf8).withUnsafeBytes { try JSONLineParser.fields(["text"], in: $0, replacements: &replacements) }
            }
        }
    }

    @Test func numericLabelsAndMissingKeys() throws {
        #expect(try fields(#"{"label": 7, "text": ""}"#) == ["", "7"])
        #expect(try fields(#"{"other": true}"#) == [nil, nil])
    }

    @Test func loneSurrogatesBecomeReplacementCharacters() throws {
        var replacements = 0
        let line = #"{"text": "a\ud800b\udc00"}"#
        let values = try Array(line.utf8).withUnsafeBytes { bytes in
            try JSONLineParser.fields(["text"], in: bytes, replacements: &replacements)
        }
        #expect(String(decoding: values[0]!, as: UTF8.self) == "a\u{FFFD}b\u{FFFD}")
        #expect(replacements == 2)
    }

    @Test(arguments: [
        (#"{"text": "a""#, 13), (#"{"text" "a"}"#, 9), (#"["text"]"#, 1), (#"{"text": "a"} x"#, 15),
        (#"{"text": 01}"#, 10), (#"{"text": "\q"}"#, 12), (#"{"a": tru}"#, 7),
    ])
    func syntaxErrorsGiveTheOffset(line: String, offset: Int) {
        var replacements = 0
        #expect(throws: JSONLineParser.Failure.self) {
            try Array(line.utf8).withUnsafeBytes { bytes in
                try JSONLineParser.fields(["text"], in: bytes, replacements: &replacements)
            }
        }
        do {
            _ = try Array(line.utf8).withUnsafeBytes { bytes in
                try JSONLineParser.fields(["text"], in: bytes, replacements: &replacements)
            }
        } catch let error as JSONLineParser.Failure {
            guard case .syntax(let found, _) = error else { return }
            #expect(found + 1 == offset, "line \(line)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
