import FolioCore
import FolioNN
import FolioText

/// Raw texts to labels with probabilities: the bundle's tokenizer and vocabulary (unknown
/// words become `<oov>`), its sequence length, its model.
///
/// Not `Sendable`: the layers keep forward caches and the tokenizer holds ICU state, so a
/// program predicting on several threads gives each its own (``BulkPrediction`` does;
/// `folio-serve` runs one per worker).
public final class Predictor {
    public struct Prediction: Codable, Sendable, Equatable {
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

    public struct Candidate: Codable, Sendable, Equatable {
        public var label: String
        public var probability: Double
    }

    /// One text as the model reads it: its first `maxLength` ids (and, for a model with
    /// subwords, the text of the unknown ones among them), and what was counted.
    public struct EncodedText: Sendable {
        public var ids: [UInt32]
        public var tokens: Int
        public var unknownTokens: Int
        public var unknownText: [String] = []
    }

    public let bundle: ModelBundle
    public let model: Model
    private let tokenizer: Tokenizer
    private let index: TokenIndex

    public init(folder: String) throws(FolioError) {
        let (bundle, model, vocabulary) = try ModelBundle.load(from: folder, trainable: false)
        self.bundle = bundle
        self.model = model
        tokenizer = try Tokenizer(options: bundle.tokenizer)
        index = TokenIndex(vocabulary)
    }

    private init(bundle: ModelBundle, model: Model, index: TokenIndex) throws(FolioError) {
        self.bundle = bundle
        self.model = model
        self.index = index
        tokenizer = try Tokenizer(options: bundle.tokenizer)
    }

    /// Carries a predictor to the one thread that uses it from then on (a worker's queue):
    /// unchecked because `Predictor` is not `Sendable`; safe as long as the sender lets go of it.
    public final class Handover: @unchecked Sendable {
        public let predictor: Predictor
        public init(_ predictor: Predictor) { self.predictor = predictor }
    }

    /// A predictor for another thread: its own layers and tokenizer, this one's weights and
    /// vocabulary (read-only, held once).
    public func forAnotherThread() throws(FolioError) -> Predictor {
        try Predictor(bundle: bundle, model: model.sharingWeights(), index: index)
    }

    public var labels: [String] { bundle.labels }

    /// Tokens of `text` looked up in the vocabulary; all are counted, the first
    /// `maxLength` kept.
    public func encode(_ text: UnsafeRawBufferPointer) throws(FolioError) -> EncodedText {
        var encoded = EncodedText(ids: [], tokens: 0, unknownTokens: 0)
        let maxLength = bundle.maxLength
        let readsLetters = bundle.subwords != nil
        try tokenizer.forEachToken(in: text) { token in
            let id = index.id(of: token)
            if id == Vocabulary.oovID { encoded.unknownTokens += 1 }
            encoded.tokens += 1
            guard encoded.ids.count < maxLength else { return }
            encoded.ids.append(id)
            if readsLetters && id == Vocabulary.oovID { encoded.unknownText.append(String(decoding: token, as: UTF8.self)) }
        }
        return encoded
    }

    /// ``encode(_:)-(UnsafeRawBufferPointer)`` of a string's UTF-8.
    public func encode(_ text: String) throws(FolioError) -> EncodedText {
        try Array(text.utf8).withBytes { raw throws(FolioError) in try encode(raw) }
    }

    /// Class probabilities of `texts` as one batch: `[texts.count, labels.count]`, row-major.
    public func probabilities(_ texts: [EncodedText]) throws(FolioError) -> [Float] {
        guard !texts.isEmpty else { return [] }
        let length = max(1, texts.map(\.ids.count).max() ?? 1)
        var ids = [UInt32](repeating: 0, count: texts.count * length)
        for (row, text) in texts.enumerated() { ids.replaceSubrange(row * length..<row * length + text.ids.count, with: text.ids) }
        let batch = TokenBatch(rows: texts.count, length: length, ids: ids, lengths: texts.map { Int32($0.ids.count) })
        return try model.predict(batch, unknownText: texts.map(\.unknownText)).values
    }

    /// Label indices of one row of probabilities, most probable first (ties: lower index),
    /// at most `k`.
    public static func topIndices(_ scores: ArraySlice<Float>, k: Int) -> [Int] {
        let base = scores.startIndex
        return scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
            .prefix(max(1, k)).map { $0 - base }
    }

    /// Predictions for `texts`, in their order, `batchSize` at a time.
    public func predict(_ texts: [String], topK: Int = 3, batchSize: Int = 64) throws(FolioError) -> [Prediction] {
        var predictions: [Prediction] = []
        var start = 0
        while start < texts.count {
            let chunk = texts[start..<min(texts.count, start + batchSize)]
            start += chunk.count
            var encoded: [EncodedText] = []
            for text in chunk { encoded.append(try encode(text)) }
            predictions += try predict(encoded, topK: topK)
        }
        return predictions
    }

    /// Predictions for texts already encoded, as one batch.
    public func predict(_ encoded: [EncodedText], topK: Int) throws(FolioError) -> [Prediction] {
        let probabilities = try probabilities(encoded)
        let classes = labels.count
        return encoded.indices.map { row in
            let scores = probabilities[row * classes..<(row + 1) * classes]
            let top = Self.topIndices(scores, k: topK).map {
                Candidate(label: labels[$0], probability: Double(scores[scores.startIndex + $0]))
            }
            return Prediction(label: top[0].label, probability: top[0].probability, top: top,
                              tokens: encoded[row].tokens, unknownTokens: encoded[row].unknownTokens)
        }
    }
}
