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
            expanded = appending(expanded, (0..<batch.rows).map { row in
                let tokens = batch.ids[row * batch.length..<row * batch.length + min(batch.length, Int(batch.lengths[row]))]
                return subwords.ids(of: tokens, unknownText: row < unknownText.count ? unknownText[row] : [])
            })
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
public struct SubwordFeatures: Sendable {
    public let table: SubwordTable
    public let buckets: Int

    public init(table: SubwordTable, buckets: Int) {
        self.table = table
        self.buckets = buckets
    }

    public var vocabularySize: Int { table.tokenCount }
    public var inputDim: Int { vocabularySize + buckets }

    /// The subword ids of `tokens`, token by token: a known token's from the table, an
    /// unknown one's from the next of `unknownText`.
    func ids(of tokens: ArraySlice<UInt32>, unknownText: [String]) -> [UInt32] {
        var ids: [UInt32] = []
        var nextUnknown = 0
        let base = UInt32(vocabularySize)
        let buckets = UInt32(self.buckets)
        for token in tokens {
            if token == Vocabulary.oovID {
                guard nextUnknown < unknownText.count else { continue }
                table.hashing.forEachHash(of: unknownText[nextUnknown].utf8) { ids.append(base + $0 % buckets) }
                nextUnknown += 1
            } else {
                for hash in table.hashes(of: token) { ids.append(base + hash % buckets) }
            }
        }
        return ids
    }
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
