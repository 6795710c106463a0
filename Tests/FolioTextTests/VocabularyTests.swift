import FolioTestSupport
import FolioCore
import Foundation
import Testing
@testable import FolioText

@Suite struct VocabularyTests {
    /// Zipf-ish random tokens: many repeats, a long tail, ties in counts.
    func randomTokens(_ count: Int, seed: UInt64) -> [[UInt8]] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            let rank = Int(Double(generator.next() % 1_000_000) / 1_000_000 * 30) // 0..<30
            let id = Int(generator.next() % UInt64(1 + rank * rank * 20))
            return Array("t\(id)ё".utf8)
        }
    }

    func build(_ tokens: [[UInt8]], budget: Int, parts: Int, options: VocabularyOptions) throws -> (String, Int) {
        let folder = NSTemporaryDirectory() + "folio-vocab-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let spill = try SpillFolder(inside: folder)
        var runs: [String] = []
        // `parts` counters over interleaved slices, as threads would see them.
        for part in 0..<parts {
            let counter = SpillingCounter(budget: budget / parts, spill: spill)
            for index in stride(from: part, to: tokens.count, by: parts) {
                try tokens[index].withBytes { bytes throws(FolioError) in try counter.add(bytes) }
            }
            runs += try counter.finish()
        }
        let path = folder + "/vocabulary.tsv"
        _ = try VocabularyWriter.write(
            runs: runs, totalTokens: tokens.count, options: options, budget: budget, spill: spill, to: path)
        return (try String(contentsOfFile: path, encoding: .utf8), runs.count)
    }

    /// The plain twin: a Dictionary count and one sort.
    func reference(_ tokens: [[UInt8]], options: VocabularyOptions) -> String {
        var counts: [[UInt8]: Int] = [:]
        for token in tokens { counts[token, default: 0] += 1 }
        var ranked = counts.filter { $0.value >= options.minCount }.sorted {
            $0.value != $1.value ? $0.value > $1.value : $0.key.lexicographicallyPrecedes($1.key)
        }
        if let maxTokens = options.maxTokens { ranked = Array(ranked.prefix(maxTokens - 2)) }
        return "<pad>\t0\n<oov>\t0\n" + ranked.map { String(decoding: $0.key, as: UTF8.self) + "\t\($0.value)\n" }.joined()
    }

    @Test(arguments: [VocabularyOptions(), VocabularyOptions(maxTokens: 50, minCount: 1), VocabularyOptions(minCount: 3)])
    func spillingGivesTheInMemoryResultByteForByte(options: VocabularyOptions) throws {
        let tokens = randomTokens(60_000, seed: 5)
        let (inMemory, memoryRuns) = try build(tokens, budget: 256 << 20, parts: 1, options: options)
        let (spilled, spillRuns) = try build(tokens, budget: 64 << 10, parts: 2, options: options)
        #expect(memoryRuns == 1)
        #expect(spillRuns > 4, "the tiny budget must force spills")
        #expect(spilled == inMemory)
        #expect(inMemory == reference(tokens, options: options))
    }

    @Test func manyRunsMergeInSeveralPasses() throws {
        // More runs than the merger opens at once (64): forces intermediate merges.
        let tokens = (0..<200_000).map { Array("w\($0 % 40_000)".utf8) }
        let (spilled, runs) = try build(tokens, budget: 64 << 10 * 2, parts: 2, options: VocabularyOptions())
        #expect(runs > CountRunMerger.fanIn)
        #expect(spilled == reference(tokens, options: VocabularyOptions()))
    }

    @Test func counterNeverExceedsItsBudget() throws {
        let counter = TokenCounter(budget: 100 << 10)
        var accepted = 0
        for index in 0..<100_000 {
            let added = Array("token\(index)".utf8).withUnsafeBytes { counter.add($0) }
            if !added { break }
            accepted += 1
            #expect(counter.bytesUsed <= 100 << 10)
        }
        #expect(accepted > 1000 && accepted < 100_000)
    }

    @Test(arguments: [0, 1, 2, 15, 16, 17, 100, 10_000])
    func inPlaceSortMatchesTheStandardSort(count: Int) {
        var generator = SplitMix64(seed: UInt64(count))
        for modulus in [3, 1000, Int.max] {
            var values = (0..<count).map { _ in Int(generator.next() % UInt64(modulus)) }
            let expected = values.sorted()
            values.withUnsafeMutableBufferPointer { InPlaceSort.sort($0, by: <) }
            #expect(values == expected)
        }
    }

    @Test func vocabularyFileLoadsWithIdsInOrder() throws {
        let folder = NSTemporaryDirectory() + "folio-vocab-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/v.tsv"
        try "<pad>\t0\n<oov>\t0\nthe\t9\nёлка\t2\n".write(toFile: path, atomically: true, encoding: .utf8)
        let vocabulary = try Vocabulary(contentsOf: path)
        #expect(vocabulary.id(for: "ёлка") == 3)
        #expect(vocabulary.id(for: "unseen") == Vocabulary.oovID)
        try "<pad>\t0\n<oov>\t0\nthe\tnine\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: FolioError("expected token<TAB>count", file: path, place: "line 3")) {
            try Vocabulary(contentsOf: path)
        }
    }
}

@Suite struct NgramHashingTests {
    @Test func bigramsFollowEachRowsTokensWithFastTextsHash() {
        let hashing = NgramHashing(order: 2, buckets: 1000, vocabularySize: 50)
        let (ids, length, lengths) = hashing.expand(ids: [5, 6, 7, 0, 9, 0, 0, 0], rows: 2, length: 4, lengths: [3, 1])
        #expect(length == 7)
        #expect(lengths == [5, 1])
        // fastText: h = 0 * 116049371 + 5, then h * 116049371 + 6.
        let first = UInt32(50 + (5 * 116_049_371 + 6) % 1000)
        let second = UInt32(50 + (6 * 116_049_371 + 7) % 1000)
        #expect(Array(ids[0..<7]) == [5, 6, 7, first, second, 0, 0])
        #expect(Array(ids[7..<14]) == [9, 0, 0, 0, 0, 0, 0])
        #expect(hashing.inputDim == 1050)
        let trigrams = NgramHashing(order: 3, buckets: 1000, vocabularySize: 50).expand(ids: [5, 6, 7, 8], rows: 1, length: 4, lengths: [4])
        #expect(trigrams.lengths == [4 + 3 + 2])
    }

    /// A rank's expansion keeps, of each row's ids and n-grams, exactly those of its own
    /// table rows, in order, zero-padded: the whole expansion filtered, for a rank count that
    /// masks (2, 4) and one that divides (3), whose ranks' parts together are the whole.
    @Test(arguments: [2, 3, 4])
    func aRanksExpansionKeepsItsOwnRowsIdsOfTheWholeExpansion(ranks: Int) {
        let hashing = NgramHashing(order: 3, buckets: 997, vocabularySize: 50)
        var generator = SplitMix64(seed: UInt64(ranks))
        let (rows, length) = (5, 40)
        let lengths = (0..<rows).map { Int32($0 == 3 ? 0 : 1 + Int(generator.next() % UInt64(length))) }
        var ids = [UInt32](repeating: 0, count: rows * length)
        for row in 0..<rows {
            for position in 0..<Int(lengths[row]) { ids[row * length + position] = UInt32(generator.next() % 50) }
        }
        let whole = hashing.expand(ids: ids, rows: rows, length: length, lengths: lengths)
        let wholeRows = (0..<rows).map { Array(whole.ids[$0 * whole.length..<$0 * whole.length + Int(whole.lengths[$0])]) }
        var kept = 0
        for rank in 0..<ranks {
            let part = hashing.expand(ids: ids, rows: rows, length: length, lengths: lengths, keeping: RowDeal(rank: rank, count: ranks))
            for row in 0..<rows {
                let valid = Int(part.lengths[row])
                #expect(Array(part.ids[row * part.length..<row * part.length + valid]) == wholeRows[row].filter { Int($0) % ranks == rank })
                #expect(part.ids[row * part.length + valid..<(row + 1) * part.length].allSatisfy { $0 == 0 }, "row \(row): padding")
                kept += valid
            }
        }
        #expect(kept == whole.lengths.reduce(0) { $0 + Int($1) })
    }
}

@Suite struct RowDealTests {
    /// `owns`, and `keeps` as 1 or 0, are the remainder's test, at the ends of the id range
    /// too, masked or divided.
    @Test func keepsIsOwnsAsAnInteger() {
        for count in [1, 2, 3, 4, 6, 8] {
            for rank in 0..<count {
                let deal = RowDeal(rank: rank, count: count)
                for row: UInt32 in [0, 1, 2, 5, 63, 64, 1_000_003, UInt32.max - 1, UInt32.max] {
                    let owned = row % UInt32(count) == UInt32(rank)
                    #expect(deal.owns(row) == owned, "\(row) of rank \(rank) of \(count)")
                    #expect(deal.keeps(row) == (owned ? 1 : 0), "\(row) of rank \(rank) of \(count)")
                }
            }
        }
    }
}

@Suite struct RemainderTests {
    /// The remainder by multiplications is `%`, for divisors from 1 to 2^64 - 1 (bucket
    /// counts among them) and numerators at the ends of the range, around the divisor and
    /// drawn at random over all 64 bits.
    @Test func isThePlainRemainder() {
        var random = SplitMix64(seed: 11)
        let fixed: [UInt64] = [1, 2, 3, 7, 10, 100_000, 200_000, 2_000_000, (1 << 31) - 1, (1 << 32) - 1, 1 << 32, (1 << 32) + 15,
                               (1 << 40) + 3, 1 << 63, UInt64.max - 1, UInt64.max]
        let drawn: [UInt64] = (0..<20).map { _ in (random.next() >> (random.next() % 64)) | 1 }
        for divisor in fixed + drawn {
            let remainder = Remainder(divisor)
            var numerators: [UInt64] = [0, 1, 2, UInt64.max, UInt64.max - 1, divisor - 1, divisor, divisor &+ 1, divisor &* 2, divisor &* 3 &- 1]
            for _ in 0..<2_000 { numerators.append(random.next() >> (random.next() % 64)) }
            for x in numerators {
                #expect(remainder.of(x) == x % divisor, "\(x) % \(divisor)")
            }
        }
    }
}
