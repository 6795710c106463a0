import FolioNN
import FolioShards
import FolioText

/// How a bag's ids are weighted before pooling (pipelines: `[model] weighting`); nil: each
/// token weighs 1.
public enum InputWeighting: String, Sendable, Hashable, Codable, CaseIterable {
    /// ``TFIDFWeighting``.
    case tfidf
}

/// What turns a loader batch into the network's input, computed as each batch is built
/// (DESIGN.md §3) so that one shard set serves every model: hashed word n-grams appended
/// (fastText's `-wordNgrams`), then each token's hashed character n-grams (fastText's
/// subwords), then, with a ``TFIDFWeighting``, each row as the weighted bag of its distinct ids.
public struct InputFeatures: Sendable {
    public var ngrams: NgramHashing?
    public var subwords: SubwordFeatures?
    public var weighting: TFIDFWeighting?

    public init(ngrams: NgramHashing? = nil, subwords: SubwordFeatures? = nil, weighting: TFIDFWeighting? = nil) {
        self.ngrams = ngrams
        self.subwords = subwords
        self.weighting = weighting
    }

    /// `unknownText`: per row, the text of its `<oov>` tokens in order (rows left out, or
    /// shorter, give those tokens no subwords).
    public func callAsFunction(_ batch: TokenBatch, unknownText: [[String]] = []) -> TokenBatch {
        var expanded = withNgrams(batch, ngrams)
        if let subwords {
            let perRow = (0..<batch.rows).map { row in
                let tokens = batch.ids[row * batch.length..<row * batch.length + min(batch.length, Int(batch.lengths[row]))]
                return subwords.ids(of: tokens, unknownText: row < unknownText.count ? unknownText[row] : [])
            }
            expanded = subwords.perPosition ? withExtraIDs(expanded, perRow) : appending(expanded, perRow.map(\.ids))
        }
        return weighting?.weigh(expanded) ?? expanded
    }

    func callAsFunction(_ batch: LoaderBatch) -> TokenBatch {
        self(TokenBatch(rows: batch.rows, length: batch.length, ids: batch.ids, lengths: batch.lengths), unknownText: batch.unknownText)
    }
}

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
    public func serving(_ layers: [LayerSpec]) -> SubwordFeatures {
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

/// `batch` with `extra[r]` appended to row r's valid ids, zero-padded to the new common length.
func appending(_ batch: TokenBatch, _ extra: [[UInt32]]) -> TokenBatch {
    let newLength = batch.length + (extra.map(\.count).max() ?? 0)
    guard newLength > batch.length else { return batch }
    var ids = [UInt32](repeating: 0, count: batch.rows * newLength)
    var lengths = [Int32](repeating: 0, count: batch.rows)
    for row in 0..<batch.rows {
        let valid = min(batch.length, Int(batch.lengths[row]))
        let start = row * newLength
        ids.replaceSubrange(start..<start + valid, with: batch.ids[row * batch.length..<row * batch.length + valid])
        ids.replaceSubrange(start + valid..<start + valid + extra[row].count, with: extra[row])
        lengths[row] = Int32(valid + extra[row].count)
    }
    return TokenBatch(rows: batch.rows, length: newLength, ids: ids, lengths: lengths)
}

/// `batch` with its hashed n-grams appended to each row (unchanged without `ngrams`).
func withNgrams(_ batch: TokenBatch, _ ngrams: NgramHashing?) -> TokenBatch {
    guard let ngrams else { return batch }
    let expanded = ngrams.expand(ids: batch.ids, rows: batch.rows, length: batch.length, lengths: batch.lengths)
    return TokenBatch(rows: batch.rows, length: expanded.length, ids: expanded.ids, lengths: expanded.lengths)
}
