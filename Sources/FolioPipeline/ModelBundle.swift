import FolioCore
import FolioNN
import FolioText
import Foundation

/// A trained model with all it needs to classify raw text: a folder holding
/// `model.safetensors` (weights, layer specs in the metadata), `vocabulary.tsv` and
/// `model.json` (labels, tokenizer settings, n-grams, weighting, sequence length, seed, the
/// vocabulary's fingerprint), and with TF-IDF weighting its idf table
/// (``TFIDFWeighting/file``). `folio predict` and `folio eval` read it.
public struct ModelBundle: Codable, Sendable {
    public static let descriptionFile = "model.json"
    public static let weightsFile = "model.safetensors"
    public static let vocabularyFile = "vocabulary.tsv"

    public var format = 1
    public var layers: [LayerSpec]
    public var labels: [String]
    public var tokenizer: TokenizerOptions
    public var vocabularySize: Int
    public var vocabularyFingerprint: String
    public var ngrams: NgramHashing?
    /// Character n-grams and their buckets (absent: none, as in bundles from before them).
    public var subwords: SubwordHashing?
    public var subwordBuckets: Int?
    /// Absent in bundles from before weighting existed, as for unweighted models.
    public var weighting: InputWeighting?
    public var maxLength: Int
    public var seed: UInt64
    /// The pipeline that trained it (absent in bundles from before it was recorded).
    public var pipeline: String?

    public init(layers: [LayerSpec], labels: [String], tokenizer: TokenizerOptions, vocabularySize: Int, vocabularyFingerprint: String,
                ngrams: NgramHashing?, weighting: InputWeighting? = nil, maxLength: Int, seed: UInt64) {
        self.layers = layers
        self.labels = labels
        self.tokenizer = tokenizer
        self.vocabularySize = vocabularySize
        self.vocabularyFingerprint = vocabularyFingerprint
        self.ngrams = ngrams
        self.weighting = weighting
        self.maxLength = maxLength
        self.seed = seed
    }

    /// The bundle of `model`, trained by `config` on shards with `labels`.
    public init(config: PipelineConfig, labels: [String], vocabulary: Vocabulary, model: Model) {
        self.init(layers: config.model.layers, labels: labels, tokenizer: config.tokenizer, vocabularySize: vocabulary.count,
                  vocabularyFingerprint: vocabulary.fingerprint, ngrams: model.features.ngrams, weighting: config.model.weighting,
                  maxLength: config.loader.maxLength, seed: config.seed)
        subwords = model.features.subwords?.table.hashing
        subwordBuckets = model.features.subwords?.buckets
        pipeline = config.name
    }

    /// Writes the bundle: weights, vocabulary and idf table first, `model.json` last (each
    /// atomic), so a folder with a `model.json` is complete.
    public func write(model: Model, vocabularyPath: String, to folder: String) throws(FolioError) {
        guard (weighting == .tfidf) == (model.features.weighting != nil) else {
            throw FolioError("internal: the bundle's weighting is not the model's", file: folder)
        }
        try makeFolder(folder)
        try model.network.save(to: folder + "/" + Self.weightsFile)
        try model.features.weighting?.write(to: folder + "/" + TFIDFWeighting.file)
        let vocabulary = try AtomicFile(path: folder + "/" + Self.vocabularyFile)
        try vocabulary.write(try readWholeFile(vocabularyPath))
        try vocabulary.commit()
        try writeJSON(self, to: folder + "/" + Self.descriptionFile)
    }

    /// Reads a bundle and builds its model with the saved weights.
    /// - Parameter trainable: false when the model will only predict (no room for gradients).
    public static func load(from folder: String, trainable: Bool = true) throws(FolioError) -> (bundle: ModelBundle, model: Model, vocabulary: Vocabulary) {
        let path = folder + "/" + descriptionFile
        guard FileManager.default.fileExists(atPath: path) else {
            throw FolioError("not a model folder (no \(descriptionFile); `folio run` writes one to runs/<name>/model)", file: folder)
        }
        let bundle = try readJSON(ModelBundle.self, from: path, what: "model description")
        let vocabulary = try Vocabulary(contentsOf: folder + "/" + vocabularyFile)
        guard vocabulary.fingerprint == bundle.vocabularyFingerprint, vocabulary.count == bundle.vocabularySize else {
            throw FolioError("the vocabulary does not match \(descriptionFile) (fingerprint \(vocabulary.fingerprint))",
                             file: folder + "/" + vocabularyFile)
        }
        // The layers come from outside: a model that cannot be built is this file's error,
        // and one larger than its weights file is refused before anything is allocated.
        let model: Model
        do throws(FolioError) {
            var subwords: SubwordFeatures?
            if let hashing = bundle.subwords {
                guard let buckets = bundle.subwordBuckets, (1...PipelineConfig.Limits.buckets.upperBound).contains(buckets),
                      hashing.hasValidLengths
                else { throw FolioError("subwords need 1 <= minLength <= maxLength <= \(SubwordHashing.longest) and subwordBuckets", place: "key subwords") }
                subwords = SubwordFeatures(table: SubwordTable(hashing: hashing, tokens: vocabulary.tokens), buckets: buckets)
            }
            let inputDim = bundle.ngrams?.inputDim ?? subwords?.inputDim ?? bundle.vocabularySize
            let parameters = try Sequential.layout(bundle.layers, vocabulary: inputDim).parameters
                .reduce(0) { $0 + $1.shape.reduce(1, *) }
            let weightsBytes = fileSize(folder + "/" + weightsFile) ?? 0
            guard parameters <= weightsBytes / 4 else {
                throw FolioError("the layers hold \(parameters) parameters, more than \(weightsFile) (\(weightsBytes) bytes) can")
            }
            model = try Model(bundle.layers, vocabulary: bundle.vocabularySize, seed: bundle.seed, ngrams: bundle.ngrams,
                              subwords: subwords, trainable: trainable, initializes: false)
        } catch {
            throw FolioError(error.message, file: error.file ?? path, place: error.place ?? "key layers")
        }
        try model.network.load(from: folder + "/" + weightsFile)
        if bundle.weighting == .tfidf {
            try model.useWeighting(try TFIDFWeighting.read(from: folder + "/" + TFIDFWeighting.file, inputDim: model.inputDim))
        }
        return (bundle, model, vocabulary)
    }
}

/// Creates `folder` and its parents for writing; an existing folder is fine, and what a
/// killed run left in it (temporary files) is removed.
func makeFolder(_ folder: String) throws(FolioError) {
    do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
        throw FolioError("cannot create the folder: \(error.localizedDescription)", file: folder)
    }
    StaleTemporaries.removeStaleTemporaries(in: folder)
}
