import FolioCore
import FolioNN
import FolioPreprocessing
import FolioShards
import FolioText
import Foundation

/// TF-IDF weights for bags of ids (pipelines: `[model] weighting = "tfidf"`). Each row of a
/// batch becomes its distinct ids, ascending, each weighted `(1 + ln tf) · idf`, as
/// scikit-learn's `TfidfVectorizer(sublinear_tf=True)` weighs its columns, with its smoothed
/// `idf = ln((1 + n) / (1 + df)) + 1` over the n training documents (``TFIDFTransformer``
/// computes both). Hashed n-grams are ids like any other. Pooled with sqrtn
/// (``GlobalPooling1D``), a row is then its L2-normalized TF-IDF vector times the embedding
/// table: the TF-IDF baseline's features, with the classifier learned end to end.
///
/// An id no training document holds (`<oov>`, an unused bucket) has idf 0 and is left out of
/// its bag, as scikit-learn leaves out a word outside its vocabulary: its embedding row never
/// trained, so it could only add noise.
///
/// Memory: one Float per input id (vocabulary + buckets), whatever the corpus size; fitting
/// adds one Int per id while it runs.
public struct TFIDFWeighting: Sendable, Equatable {
    /// The bundle's file: tensor `idf` `[inputDim]`, the document count in the metadata.
    public static let file = "tfidf.safetensors"

    /// Per input id; 0 for ids no training document holds.
    public let idf: [Float]
    /// Training documents the document frequencies were counted over.
    public let documents: Int

    public init(idf: [Float], documents: Int) {
        self.idf = idf
        self.documents = documents
    }

    /// Counts document frequencies over one epoch of `loader` (held-out records are not
    /// part of it), each batch with the n-grams and subwords of `features` appended as
    /// training will see it (its weighting, if any, is not applied).
    /// With several ranks, each counts its turns of the epoch (`loader` is its own) and the
    /// counts are summed: every rank gets the whole epoch's weighting.
    public static func fit(_ loader: ShardLoader, features: InputFeatures, inputDim: Int,
                           communicator: any Communicator = SingleProcess()) throws(FolioError) -> TFIDFWeighting {
        var frequencies = DocumentFrequencies(inputDim: inputDim)
        var features = features
        features.weighting = nil
        let batches = loader.epoch(0)
        while let batch = try batches.next() { try frequencies.count(features(batch)) }
        try frequencies.sum(across: communicator)
        return try frequencies.weighting()
    }

    /// Document frequencies summed batch by batch (integers: any batching gives the same).
    public struct DocumentFrequencies {
        private var transformer = TFIDFTransformer<Float>(norm: nil, sublinearTf: true)
        public let inputDim: Int

        public init(inputDim: Int) { self.inputDim = inputDim }

        /// Counts each row of `batch` (ids as the network takes them) as one document.
        public mutating func count(_ batch: TokenBatch) throws(FolioError) {
            let bags = Bags(batch)
            do {
                // A bag is its row in compressed form already: distinct ids, ascending.
                try transformer.partialFit(SparseMatrix(columns: inputDim, rowOffsets: bags.offsets, columnIndices: bags.entries.map { Int($0.id) },
                                                        values: bags.entries.map { Float($0.count) }))
            } catch {
                throw FolioError("TF-IDF document frequencies: \(error)")
            }
        }

        /// Every rank's counts summed, on every rank. Integers, as doubles (exact below
        /// 2^53): the sum of the parts is the whole corpus's count in any order.
        public mutating func sum(across communicator: any Communicator) throws(FolioError) {
            guard communicator.size > 1 else { return }
            var counts = [Double](repeating: 0, count: inputDim + 1)
            for (column, frequency) in transformer.documentFrequency.enumerated() { counts[column] = Double(frequency) }
            counts[inputDim] = Double(transformer.samplesSeen)
            try communicator.allReduceSum(&counts)
            let whole = counts.compactMap { Int(exactly: $0) }
            guard whole.count == counts.count else { throw FolioError("TF-IDF document frequencies summed across ranks are not whole numbers") }
            var summed = transformer
            summed.reset()
            do {
                try summed.merge(documentFrequency: Array(whole[..<inputDim]), samples: whole[inputDim])
            } catch {
                throw FolioError("TF-IDF document frequencies summed across ranks: \(error)")
            }
            transformer = summed
        }

        public func weighting() throws(FolioError) -> TFIDFWeighting {
            guard transformer.samplesSeen > 0 else { throw FolioError("TF-IDF weighting needs at least one training document") }
            let idf = zip(transformer.idf, transformer.documentFrequency).map { idf, frequency in frequency > 0 ? Float(idf) : 0 }
            return TFIDFWeighting(idf: idf, documents: transformer.samplesSeen)
        }
    }

    /// `batch` as bags: each row its distinct known ids, ascending, with their weights in
    /// ``TokenBatch/weights``; rows zero-padded to the longest bag.
    public func weigh(_ batch: TokenBatch) -> TokenBatch {
        let bags = Bags(batch)
        // The kept entries one row after another, then laid out padded to the longest row:
        // one pass over the idf, and no array per row.
        var (keptIDs, keptWeights) = ([UInt32](), [Float]())
        keptIDs.reserveCapacity(bags.entries.count)
        keptWeights.reserveCapacity(bags.entries.count)
        var lengths = [Int32](repeating: 0, count: bags.rows)
        for row in 0..<bags.rows {
            let before = keptIDs.count
            for entry in bags.row(row) where Int(entry.id) < idf.count && idf[Int(entry.id)] > 0 {
                keptIDs.append(entry.id)
                let frequency = TFIDFTransformer<Float>.termFrequency(Double(entry.count), sublinear: true)
                keptWeights.append(Float(frequency) * idf[Int(entry.id)])
            }
            lengths[row] = Int32(keptIDs.count - before)
        }
        let (ids, length) = paddedRows(keptIDs, lengths: lengths)
        return TokenBatch(rows: bags.rows, length: length, ids: ids, lengths: lengths, weights: paddedRows(keptWeights, lengths: lengths).values)
    }

    public func write(to path: String) throws(FolioError) {
        try Safetensors.write([("idf", Safetensors.Entry(shape: [idf.count], values: idf))],
                              metadata: ["documents": String(documents), "weighting": "tfidf"], to: path)
    }

    /// Reads a weighting written by ``write(to:)`` for a model of `inputDim` ids.
    public static func read(from path: String, inputDim: Int) throws(FolioError) -> TFIDFWeighting {
        let (tensors, metadata) = try Safetensors.read(path)
        guard let entry = tensors["idf"] else { throw FolioError("missing tensor", file: path, place: "key idf") }
        guard entry.shape == [inputDim] else {
            throw FolioError("shape \(entry.shape), the model needs [\(inputDim)]", file: path, place: "key idf")
        }
        guard let documents = metadata["documents"].flatMap({ Int($0) }), documents > 0 else {
            throw FolioError("no document count in the metadata", file: path, place: "key documents")
        }
        // A smoothed idf is at least 1 (or 0: never seen); anything else is a damaged file.
        if let bad = entry.values.firstIndex(where: { !($0 == 0 || ($0 >= 1 && $0.isFinite)) }) {
            throw FolioError("idf \(entry.values[bad]) is not a smoothed idf", file: path, place: "key idf, id \(bad)")
        }
        return TFIDFWeighting(idf: entry.values, documents: documents)
    }
}

/// A batch's rows as bags: each row's valid ids sorted and run-length counted.
struct Bags {
    let rows: Int
    /// Every row's entries one after the other; row r's are `offsets[r]..<offsets[r + 1]`.
    let entries: [(id: UInt32, count: Int)]
    let offsets: [Int]

    init(_ batch: TokenBatch) {
        rows = batch.rows
        var entries: [(id: UInt32, count: Int)] = []
        var offsets = [0]
        let valid = { (row: Int) in batch.ids[row * batch.length..<row * batch.length + min(batch.length, Int(batch.lengths[row]))] }
        var (keys, scratch) = ([UInt32](), [UInt32]())
        // The whole batch in one sort, each id keyed by its row above its own bits, where the
        // two fit 32 bits: a row's radix sort spends 256 counters a pass whatever its length,
        // as much as a rank's half of a document's ids, while the row numbers mostly ride in
        // a byte the ids leave partly free (a 250,000-row table's ids take 18 bits, 32 rows 5).
        let idBits = UInt32(UInt32.bitWidth - (batch.ids.max() ?? 0).leadingZeroBitCount)
        let rowBits = UInt32(Int.bitWidth - max(0, batch.rows - 1).leadingZeroBitCount)
        if idBits + rowBits <= UInt32.bitWidth {
            keys.reserveCapacity(batch.lengths.reduce(0) { $0 + Int(max(0, $1)) })
            for row in 0..<batch.rows {
                for id in valid(row) { keys.append(UInt32(row) << idBits | id) }
            }
            RadixSort.sort(&keys, scratch: &scratch)
            var index = 0
            for row in 0..<batch.rows {
                Self.appendRuns(keys, from: &index, row: UInt32(row), idBits: idBits, to: &entries)
                offsets.append(entries.count)
            }
        } else {
            // Rare (thousands of rows over millions of ids): row by row.
            for row in 0..<batch.rows {
                keys.removeAll(keepingCapacity: true)
                keys.append(contentsOf: valid(row))
                RadixSort.sort(&keys, scratch: &scratch)
                var index = 0
                Self.appendRuns(keys, from: &index, row: 0, idBits: UInt32(UInt32.bitWidth), to: &entries)
                offsets.append(entries.count)
            }
        }
        self.entries = entries
        self.offsets = offsets
    }

    /// Appends, from `index` on, each run of equal sorted keys of row `row` (the bits above
    /// the low `idBits`) as its id and count, leaving `index` at the next row's first key.
    private static func appendRuns(_ keys: [UInt32], from index: inout Int, row: UInt32, idBits: UInt32,
                                   to entries: inout [(id: UInt32, count: Int)]) {
        let idMask = idBits >= UInt32.bitWidth ? UInt32.max : (1 << idBits) - 1
        while index < keys.count && keys[index] >> idBits == row {
            var end = index + 1
            while end < keys.count && keys[end] == keys[index] { end += 1 }
            entries.append((keys[index] & idMask, end - index))
            index = end
        }
    }

    func row(_ row: Int) -> ArraySlice<(id: UInt32, count: Int)> { entries[offsets[row]..<offsets[row + 1]] }
}
