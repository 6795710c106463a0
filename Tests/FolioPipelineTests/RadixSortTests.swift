import FolioCore
import FolioNN
import Testing
@testable import FolioPipeline

@Suite struct RadixSortTests {
    /// The same order as the standard library's sort: empty and single rows, rows either side
    /// of the insertion-sort limit, repeats, ids in one byte and ids using all four.
    @Test func sortsAsTheStandardLibraryDoes() {
        var generator = SplitMix64(seed: 21)
        var scratch: [UInt32] = []
        for count in [0, 1, 2, RadixSort.insertionLimit - 1, RadixSort.insertionLimit, 500, 3000] {
            for range in [UInt64(1), 200, 450_000, UInt64(UInt32.max) + 1] {
                var values = (0..<count).map { _ in UInt32(generator.next() % range) }
                if count > 2 { values[count / 2] = UInt32.max }
                let expected = values.sorted()
                RadixSort.sort(&values, scratch: &scratch)
                #expect(values == expected, "\(count) ids below \(range)")
            }
        }
    }
}

@Suite struct BagsTests {
    /// Each row's distinct valid ids, ascending, with their counts, as counting them plainly
    /// gives: batches sorted whole (ids and row numbers sharing 32 bits) and row by row (ids
    /// too wide for that), with empty rows, one row, ids of 0 only and ids up to UInt32.max.
    @Test(arguments: [(1, UInt64(1)), (5, 1), (32, 200), (32, 250_000), (300, 450_000), (4, UInt64(UInt32.max) + 1), (70_000, 70_000)])
    func rowsAreTheirDistinctIdsAscendingWithCounts(rows: Int, range: UInt64) {
        var generator = SplitMix64(seed: UInt64(rows) &* 31 &+ range)
        let length = rows > 1_000 ? 3 : 60
        let lengths = (0..<rows).map { Int32($0 % 7 == 3 ? 0 : 1 + Int(generator.next() % UInt64(length))) }
        var ids = [UInt32](repeating: 0, count: rows * length)
        for row in 0..<rows {
            for step in 0..<Int(lengths[row]) { ids[row * length + step] = UInt32(generator.next() % range) }
        }
        let bags = Bags(TokenBatch(rows: rows, length: length, ids: ids, lengths: lengths))
        #expect(bags.offsets.count == rows + 1)
        for row in 0..<rows {
            let counts = Dictionary(ids[row * length..<row * length + Int(lengths[row])].map { ($0, 1) }, uniquingKeysWith: +)
            let expected = counts.keys.sorted().map { ($0, counts[$0]!) }
            let got = Array(bags.row(row))
            #expect(got.map(\.id) == expected.map(\.0) && got.map(\.count) == expected.map(\.1), "row \(row) of \(rows), ids below \(range)")
        }
    }
}
