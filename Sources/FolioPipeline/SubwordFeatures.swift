import FolioNN
import FolioText

/// Character n-gram ids for a model's input: a vocabulary's ``SubwordTable``, and the
/// buckets after the vocabulary that the n-grams share with hashed word n-grams (as
/// fastText's `-bucket` holds both).
///
/// A bag model (``perPosition`` false) gets them appended to the row, as fastText's
/// classifier adds a line's subwords to its bag; a sequence model gets them per position
/// (``TokenBatch/extraIDs``), so that each step's vector is the mean of its word's row and
/// its n-grams' rows, as fastText builds a word vector.
public struct SubwordFeatures: Sendable {
    public let table: SubwordTable
    public let buckets: Int
    public let perPosition: Bool

    public init(table: SubwordTable, buckets: Int, perPosition: Bool = false) {
        self.table = table
        self.buckets = buckets
        self.perPosition = perPosition
    }

    /// These features for a model of `layers`: appended for a bag, per position otherwise.
    public func forLayers(_ layers: [LayerSpec]) -> SubwordFeatures {
        SubwordFeatures(table: table, buckets: buckets, perPosition: Sequential.weightedPoolingIndex(layers) == nil)
    }

    public var vocabularySize: Int { table.tokenCount }
    public var inputDim: Int { vocabularySize + buckets }

    /// The subword ids of `tokens`, token after token, and how many each token has: a known
    /// token's from the table, an unknown one's from the next of `unknownText` (none when it
    /// has run out).
    func ids(of tokens: ArraySlice<UInt32>, unknownText: [String]) -> (ids: [UInt32], counts: [Int32]) {
        var ids: [UInt32] = []
        var counts: [Int32] = []
        counts.reserveCapacity(tokens.count)
        var nextUnknown = 0
        let base = UInt32(vocabularySize)
        let buckets = UInt32(self.buckets)
        for token in tokens {
            let before = ids.count
            if token == Vocabulary.oovID {
                if nextUnknown < unknownText.count {
                    table.hashing.forEachHash(of: unknownText[nextUnknown].utf8) { ids.append(base + $0 % buckets) }
                    nextUnknown += 1
                }
            } else {
                for hash in table.hashes(of: token) { ids.append(base + hash % buckets) }
            }
            counts.append(Int32(ids.count - before))
        }
        return (ids, counts)
    }
}

/// `batch` with row r's subword ids as the extra ids of its first positions, `counts[t]` for
/// position t (the row's other positions, n-grams and padding, get none).
func withExtraIDs(_ batch: TokenBatch, _ perRow: [(ids: [UInt32], counts: [Int32])]) -> TokenBatch {
    var offsets = [Int32](repeating: 0, count: batch.rows * batch.length + 1)
    var ids: [UInt32] = []
    ids.reserveCapacity(perRow.reduce(0) { $0 + $1.ids.count })
    for row in 0..<batch.rows {
        ids += perRow[row].ids
        let counts = perRow[row].counts
        for position in 0..<batch.length {
            let index = row * batch.length + position
            offsets[index + 1] = offsets[index] + (position < counts.count ? counts[position] : 0)
        }
    }
    var result = batch
    result.extraIDs = PositionIDs(offsets: offsets, ids: ids)
    return result
}
