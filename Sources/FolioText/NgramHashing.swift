import FolioCore

/// Word n-grams hashed into extra ids after the vocabulary, as fastText's `-wordNgrams` and
/// `-bucket`: computed from consecutive token ids when a batch is built (DESIGN.md §3), so
/// one shard set serves unigram and n-gram models alike.
///
/// The hash is fastText's, `h = h * 116049371 + id` over the n-gram's ids in 64-bit
/// wrapping arithmetic: fixed, whatever the platform.
public struct NgramHashing: Sendable, Hashable, Codable {
    /// Highest order: 2 adds bigrams, 3 bigrams and trigrams.
    public var order: Int
    public var buckets: Int
    public var vocabularySize: Int

    public init(order: Int = 2, buckets: Int = 100_000, vocabularySize: Int) {
        self.order = order
        self.buckets = buckets
        self.vocabularySize = vocabularySize
    }

    /// Ids an embedding needs: the vocabulary and the buckets.
    public var inputDim: Int { vocabularySize + buckets }

    @inline(__always)
    static func hash(_ ids: ArraySlice<UInt32>) -> UInt64 {
        ids.reduce(UInt64(0)) { $0 &* 116_049_371 &+ UInt64($1) }
    }

    /// Rows of `length` ids (each `lengths[r]` valid, zero-padded) to rows of the ids
    /// followed by their hashed n-grams, zero-padded to the new common length. `keeping`: only
    /// the ids of the rank's own table rows stay (a rank of a distributed run that deals the
    /// table's rows), tested as each is made rather than in a pass of its own afterwards.
    public func expand(ids: [UInt32], rows: Int, length: Int, lengths: [Int32],
                       keeping deal: RowDeal = .whole) -> (ids: [UInt32], length: Int, lengths: [Int32]) {
        let extra = (2...max(2, order)).reduce(0) { $0 + max(0, length - $1 + 1) }
        let newLength = length + (order >= 2 ? extra : 0)
        var output = [UInt32](repeating: 0, count: rows * newLength)
        var newLengths = [Int32](repeating: 0, count: rows)
        let bucket = Remainder(UInt64(buckets))
        for row in 0..<rows {
            let valid = min(length, Int(lengths[row]))
            let tokens = ids[row * length..<row * length + valid]
            var position = row * newLength
            // Every id is written and the position advances past a kept one only: no branch
            // on the owner (``RowDeal/keeps(_:)``).
            for id in tokens {
                output[position] = id
                position += deal.keeps(id)
            }
            if order >= 2 {
                for n in 2...order where valid >= n {
                    for start in 0...(valid - n) {
                        let from = tokens.startIndex + start
                        let id = UInt32(vocabularySize + Int(bucket.of(NgramHashing.hash(tokens[from..<from + n]))))
                        output[position] = id
                        position += deal.keeps(id)
                    }
                }
            }
            // A dropped id's last write may lie past the kept ones: padding is zero.
            if position < (row + 1) * newLength { output[position] = 0 }
            newLengths[row] = Int32(position - row * newLength)
        }
        return (output, newLength, newLengths)
    }
}
