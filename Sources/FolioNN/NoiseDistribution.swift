import Foundation

/// word2vec's noise distribution for negative sampling: word i is drawn with probability
/// `count_i^power / Σ_j count_j^power` (power 0.75, Mikolov et al. 2013).
///
/// Sampled in constant time by Walker's alias method (Vose's construction): one 64-bit
/// random number picks a column with its high half and, with its low half, either the
/// column's own word or its alias. The probabilities are exact up to the 2^-32 steps of
/// the thresholds, where word2vec's 10^8-entry table rounds every word to a multiple of
/// 10^-8 (and costs 400 MB).
public struct NoiseDistribution: Sendable {
    struct Column: Sendable {
        /// Keep the column's own word when the low 32 random bits are below this.
        var threshold: UInt64
        var word: UInt32
        var alias: UInt32
    }

    let columns: [Column]

    /// - Parameters: `weights[i]` is word i's count (any non-negative numbers; at least one
    ///   positive), raised to `power`.
    public init(counts: [Int], power: Double = 0.75) {
        let weights = counts.map { $0 > 0 ? Foundation.pow(Double($0), power) : 0 }
        let total = weights.reduce(0, +)
        let n = counts.count
        // Vose: scale to mean 1; pair each small column with a large one that fills it.
        var scaled = weights.map { total > 0 ? $0 * Double(n) / total : 1 }
        var small: [Int] = [], large: [Int] = []
        for (index, value) in scaled.enumerated() { if value < 1 { small.append(index) } else { large.append(index) } }
        var columns = (0..<n).map { Column(threshold: 1 << 32, word: UInt32($0), alias: UInt32($0)) }
        while let less = small.popLast() {
            guard let more = large.last else { break }
            columns[less].threshold = UInt64((scaled[less] * 4_294_967_296).rounded())
            columns[less].alias = UInt32(more)
            scaled[more] -= 1 - scaled[less]
            if scaled[more] < 1 {
                large.removeLast()
                small.append(more)
            }
        }
        // What is left is 1 up to rounding: those columns always keep their own word.
        self.columns = columns
    }

    public var count: Int { columns.count }

    /// A word drawn from the distribution with the random bits `r`.
    @inline(__always)
    public func sample(_ r: UInt64) -> UInt32 {
        let column = columns.withUnsafeBufferPointer { $0[Int(((r >> 32) &* UInt64($0.count)) >> 32)] }
        return (r & 0xFFFF_FFFF) < column.threshold ? column.word : column.alias
    }

    /// The probability of each word that the table draws with (for tests: it should be
    /// the formula's up to 2^-32 per column).
    public func probabilities() -> [Double] {
        var result = [Double](repeating: 0, count: columns.count)
        let share = 1 / Double(columns.count)
        for column in columns {
            let own = min(1, Double(column.threshold) / 4_294_967_296)
            result[Int(column.word)] += share * own
            result[Int(column.alias)] += share * (1 - own)
        }
        return result
    }
}
