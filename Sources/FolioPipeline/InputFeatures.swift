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
/// (fastText's `-wordNgrams`), then, with a ``TFIDFWeighting``, each row as the weighted bag
/// of its distinct ids.
public struct InputFeatures: Sendable {
    public var ngrams: NgramHashing?
    public var weighting: TFIDFWeighting?

    public init(ngrams: NgramHashing? = nil, weighting: TFIDFWeighting? = nil) {
        self.ngrams = ngrams
        self.weighting = weighting
    }

    public func callAsFunction(_ batch: TokenBatch) -> TokenBatch {
        let expanded = withNgrams(batch, ngrams)
        return weighting?.weigh(expanded) ?? expanded
    }

    func callAsFunction(_ batch: LoaderBatch) -> TokenBatch {
        self(TokenBatch(rows: batch.rows, length: batch.length, ids: batch.ids, lengths: batch.lengths))
    }
}

/// `batch` with its hashed n-grams appended to each row (unchanged without `ngrams`).
func withNgrams(_ batch: TokenBatch, _ ngrams: NgramHashing?) -> TokenBatch {
    guard let ngrams else { return batch }
    let expanded = ngrams.expand(ids: batch.ids, rows: batch.rows, length: batch.length, lengths: batch.lengths)
    return TokenBatch(rows: batch.rows, length: expanded.length, ids: expanded.ids, lengths: expanded.lengths)
}
