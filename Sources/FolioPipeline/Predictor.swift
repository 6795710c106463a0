import FolioCore
import FolioNN
import FolioText

/// Raw texts to labels with probabilities: the bundle's tokenizer and vocabulary (unknown
/// words become `<oov>`), its sequence length, its model.
public final class Predictor {
    public struct Prediction: Codable, Sendable {
        public var label: String
        public var probability: Double
        /// The k most probable labels, best first.
        public var top: [Candidate]
        /// Tokens read (before truncation to the model's length) and how many were unknown.
        public var tokens: Int
        public var unknownTokens: Int

        enum CodingKeys: String, CodingKey {
            case label, probability, top, tokens
            case unknownTokens = "unknown_tokens"
        }
    }

    public struct Candidate: Codable, Sendable {
        public var label: String
        public var probability: Double
    }

    public let bundle: ModelBundle
    public let model: Model
    private let tokenizer: Tokenizer
    private let index: TokenIndex

    public init(folder: String) throws(FolioError) {
        let (bundle, model, vocabulary) = try ModelBundle.load(from: folder)
        self.bundle = bundle
        self.model = model
        tokenizer = try Tokenizer(options: bundle.tokenizer)
        index = TokenIndex(vocabulary)
    }

    /// Predictions for `texts`, in their order, `batchSize` at a time.
    public func predict(_ texts: [String], topK: Int = 3, batchSize: Int = 64) throws(FolioError) -> [Prediction] {
        var predictions: [Prediction] = []
        var start = 0
        while start < texts.count {
            let chunk = texts[start..<min(texts.count, start + batchSize)]
            start += chunk.count
            var rows: [[UInt32]] = []
            var counts: [(Int, Int)] = []
            for text in chunk {
                var ids: [UInt32] = []
                var unknown = 0
                try Array(text.utf8).withBytes { raw throws(FolioError) in
                    try tokenizer.forEachToken(in: raw) { token in
                        let id = index.id(of: token)
                        if id == Vocabulary.oovID { unknown += 1 }
                        ids.append(id)
                    }
                }
                counts.append((ids.count, unknown))
                rows.append(Array(ids.prefix(bundle.maxLength)))
            }
            let length = max(1, rows.map(\.count).max() ?? 1)
            var ids = [UInt32](repeating: 0, count: rows.count * length)
            for (row, tokens) in rows.enumerated() { ids.replaceSubrange(row * length..<row * length + tokens.count, with: tokens) }
            let batch = TokenBatch(rows: rows.count, length: length, ids: ids, lengths: rows.map { Int32($0.count) })
            let probabilities = try model.predict(batch)
            let classes = bundle.labels.count
            for row in 0..<rows.count {
                let scores = (0..<classes).map { Double(probabilities.values[row * classes + $0]) }
                let order = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
                let top = order.prefix(max(1, topK)).map { Candidate(label: bundle.labels[$0], probability: scores[$0]) }
                predictions.append(Prediction(label: top[0].label, probability: top[0].probability, top: top,
                                              tokens: counts[row].0, unknownTokens: counts[row].1))
            }
        }
        return predictions
    }
}
