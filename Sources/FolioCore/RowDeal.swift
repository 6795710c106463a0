/// A table's rows dealt between `count` ranks by remainder: row `i` is rank `i mod count`'s
/// (``FolioNN/RowShard``). A value, so that the code that makes a rank's input features can
/// test every id inline: that test runs for every hashed id of every micro-batch.
public struct RowDeal: Sendable, Hashable {
    public let rank: UInt32
    public let count: UInt32
    /// `count - 1` where the count is a power of two (then ``owns(_:)`` masks, as an
    /// integer division takes tens of cycles), else 0.
    @usableFromInline let mask: UInt32
    @usableFromInline let powerOfTwo: Bool

    /// - Precondition: `0 <= rank < count`.
    public init(rank: Int, count: Int) {
        precondition(count > 0 && (0..<count).contains(rank), "rank \(rank) of \(count)")
        (self.rank, self.count) = (UInt32(rank), UInt32(count))
        powerOfTwo = count & (count - 1) == 0
        mask = powerOfTwo ? UInt32(count - 1) : 0
    }

    /// One process holds every row.
    public static let whole = RowDeal(rank: 0, count: 1)

    @inlinable @inline(__always) public func owns(_ row: UInt32) -> Bool { keeps(row) != 0 }

    /// 1 where the rank owns `row`, else 0, computed without a comparison: code that keeps
    /// a rank's ids advances its write position by it, where a branch on ``owns(_:)``
    /// (true for half of the ids, at random) was mispredicted half the time.
    @inlinable @inline(__always) public func keeps(_ row: UInt32) -> Int {
        let remainder = powerOfTwo ? row & mask : row % count
        // remainder ^ rank is 0 exactly for an owned row, and only 0 - 1 sets bit 63.
        return Int(truncatingIfNeeded: (UInt64(remainder ^ rank) &- 1) >> 63)
    }
}
