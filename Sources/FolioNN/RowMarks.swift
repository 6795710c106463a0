/// A set of a table's rows, one bit per row, read back in ascending order: linear in the
/// table's size / 64 and the rows marked, where sorting the tens of thousands of rows of a
/// bag model's step was a tenth of its reduction. What ``GradientReduction`` unites the
/// ranks' touched rows in, and what a table dealt by rows remembers its updated rows in.
public struct RowMarks: Sendable {
    private var words: [UInt64]
    /// Rows marked since the last ``removeAll()``.
    public private(set) var count = 0

    public init(rows: Int = 0) { words = [UInt64](repeating: 0, count: (rows + 63) / 64) }

    /// Room for rows `0..<rows` (grown as needed, never shrunk).
    public mutating func reserve(rows: Int) {
        let needed = (rows + 63) / 64
        if words.count < needed { words += [UInt64](repeating: 0, count: needed - words.count) }
    }

    /// - Precondition: `row` is within the room reserved.
    @inline(__always) public mutating func insert(_ row: Int) {
        precondition(row >= 0 && row >> 6 < words.count, "row \(row) beyond the room reserved")
        count += words.withUnsafeMutableBufferPointer { Self.mark(row, in: $0) }
    }

    /// Marks each of `rows`, as ``insert(_:)-(Int)`` one by one but with one access to the
    /// storage for them all: a bag model's step marks tens of thousands.
    /// - Precondition: every row is within the room reserved.
    public mutating func insert(_ rows: ArraySlice<UInt32>) {
        count += words.withUnsafeMutableBufferPointer { words in
            rows.reduce(0) { added, row in added + Self.mark(Int(row), in: words) }
        }
    }

    /// Sets `row`'s bit; 1 where it was not set yet, else 0.
    @inline(__always) private static func mark(_ row: Int, in words: UnsafeMutableBufferPointer<UInt64>) -> Int {
        let bit: UInt64 = 1 << UInt64(row & 63)
        let added = words[row >> 6] & bit == 0 ? 1 : 0
        words[row >> 6] |= bit
        return added
    }

    /// The marked rows, ascending; afterwards none is marked.
    public mutating func removeAll() -> [Int] {
        var rows: [Int] = []
        rows.reserveCapacity(count)
        for word in words.indices where words[word] != 0 {
            var bits = words[word]
            while bits != 0 {
                rows.append(word << 6 | bits.trailingZeroBitCount)
                bits &= bits - 1
            }
            words[word] = 0
        }
        count = 0
        return rows
    }
}
