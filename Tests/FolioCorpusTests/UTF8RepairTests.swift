import FolioTestSupport
import Testing
@testable import FolioCorpus

@Suite struct UTF8RepairTests {
    /// Swift's own decoder replaces maximal invalid subparts the same way; it is the
    /// independent reference. Random chunkings must not change the result.
    @Test func matchesStandardLibraryUnderAnyChunking() {
        var generator = SplitMix64(seed: 3)
        let alphabet: [[UInt8]] = [
            [0x61], [0x20], [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80],
            [0xFF], [0xC3], [0xE2, 0x82], [0xF0, 0x9F], [0x80], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80],
        ]
        for _ in 0..<2000 {
            var input: [UInt8] = []
            for _ in 0..<Int.random(in: 0...30, using: &generator) {
                input += alphabet.randomElement(using: &generator)!
            }
            let expected = Array(String(decoding: input, as: UTF8.self).utf8)
            var repair = UTF8Repair()
            var output: [UInt8] = []
            var start = 0
            while start < input.count {
                let end = min(input.count, start + Int.random(in: 1...7, using: &generator))
                input[start..<end].withUnsafeBytes { repair.repair($0, isFinal: false, into: &output) }
                start = end
            }
            [UInt8]().withUnsafeBytes { repair.repair($0, isFinal: true, into: &output) }
            #expect(output == expected, "input \(input)")
            let replaced = String(decoding: output, as: UTF8.self).unicodeScalars.filter { $0 == "\u{FFFD}" }.count
            #expect(repair.replacements == replaced)
        }
    }

    @Test func countsEachInvalidSequence() {
        var repair = UTF8Repair()
        var output: [UInt8] = []
        let input: [UInt8] = [0x61, 0xFF, 0xFE, 0x62, 0xE2, 0x82]
        input.withUnsafeBytes { repair.repair($0, isFinal: true, into: &output) }
        #expect(String(decoding: output, as: UTF8.self) == "a\u{FFFD}\u{FFFD}b\u{FFFD}")
        #expect(repair.replacements == 3)
    }
}
