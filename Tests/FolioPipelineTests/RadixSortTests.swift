import FolioCore
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
