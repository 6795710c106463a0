import FolioCore
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
    /// shorter, give those tokens no subwords). `keeping`: only the ids of the rank's own
    /// table rows stay, before weighting (a table dealt between ranks); an id's duplicates go
    /// with it, so its term frequency, and its weight, are those of the whole row.
    public func callAsFunction(_ batch: TokenBatch, unknownText: [[String]] = [], keeping deal: RowDeal? = nil) -> TokenBatch {
        // Without subwords the n-gram expansion keeps the rank's ids as it makes them.
        let dealtInExpansion = ngrams != nil && subwords == nil ? deal : nil
        var expanded = withNgrams(batch, ngrams, keeping: dealtInExpansion ?? .whole)
        if let subwords {
            let perRow = (0..<batch.rows).map { row in
                let tokens = batch.ids[row * batch.length..<row * batch.length + min(batch.length, Int(batch.lengths[row]))]
                return subwords.ids(of: tokens, unknownText: row < unknownText.count ? unknownText[row] : [])
            }
            expanded = subwords.perPosition ? withExtraIDs(expanded, perRow) : appending(expanded, perRow.map(\.ids))
        }
        if let deal, dealtInExpansion == nil { expanded = keeping(expanded, deal) }
        return weighting?.weigh(expanded) ?? expanded
    }

    func callAsFunction(_ batch: LoaderBatch, keeping deal: RowDeal? = nil) -> TokenBatch {
        self(TokenBatch(rows: batch.rows, length: batch.length, ids: batch.ids, lengths: batch.lengths), unknownText: batch.unknownText,
             keeping: deal)
    }
}

/// `batch` with only the valid ids `keep` accepts, in order, each row zero-padded to the
/// longest. A batch with subword ids per position (``TokenBatch/extraIDs``) is returned
/// whole: no model pools it straight from the table, and one whose rows are dealt between
/// ranks refuses it with an error naming the rank.
func keeping(_ batch: TokenBatch, _ deal: RowDeal) -> TokenBatch {
    guard batch.extraIDs == nil else { return batch }
    precondition(batch.weights == nil, "keeping runs before weighting")
    var kept = [UInt32]()
    kept.reserveCapacity(batch.ids.count)
    var lengths = [Int32](repeating: 0, count: batch.rows)
    for row in 0..<batch.rows {
        let before = kept.count
        for id in batch.ids[row * batch.length..<row * batch.length + min(batch.length, Int(batch.lengths[row]))] where deal.owns(id) {
            kept.append(id)
        }
        lengths[row] = Int32(kept.count - before)
    }
    let (ids, length) = paddedRows(kept, lengths: lengths)
    return TokenBatch(rows: batch.rows, length: length, ids: ids, lengths: lengths)
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

/// `batch` with its hashed n-grams appended to each row (unchanged without `ngrams`), only
/// `deal`'s rows' ids kept.
func withNgrams(_ batch: TokenBatch, _ ngrams: NgramHashing?, keeping deal: RowDeal = .whole) -> TokenBatch {
    guard let ngrams else { return batch }
    let expanded = ngrams.expand(ids: batch.ids, rows: batch.rows, length: batch.length, lengths: batch.lengths, keeping: deal)
    return TokenBatch(rows: batch.rows, length: expanded.length, ids: expanded.ids, lengths: expanded.lengths)
}
