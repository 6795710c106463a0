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
    /// followed by their hashed n-grams, zero-padded to the new common length.
    public func expand(ids: [UInt32], rows: Int, length: Int, lengths: [Int32]) -> (ids: [UInt32], length: Int, lengths: [Int32]) {
        let extra = (2...max(2, order)).reduce(0) { $0 + max(0, length - $1 + 1) }
        let newLength = length + (order >= 2 ? extra : 0)
        var output = [UInt32](repeating: 0, count: rows * newLength)
        var newLengths = [Int32](repeating: 0, count: rows)
        for row in 0..<rows {
            let valid = min(length, Int(lengths[row]))
            let tokens = ids[row * length..<row * length + valid]
            var position = row * newLength
            for id in tokens { output[position] = id; position += 1 }
            if order >= 2 {
                for n in 2...order where valid >= n {
                    for start in 0...(valid - n) {
                        let from = tokens.startIndex + start
                        output[position] = UInt32(vocabularySize + Int(NgramHashing.hash(tokens[from..<from + n]) % UInt64(buckets)))
                        position += 1
                    }
                }
            }
            newLengths[row] = Int32(position - row * newLength)
        }
        return (output, newLength, newLengths)
    }
}
