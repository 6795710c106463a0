import FolioCore
import FolioNN
import FolioShards
import FolioText

/// How far ``EmbedJob`` is.
public struct EmbedProgress: Sendable {
    public var epoch: Int
    public var epochs: Int
    /// Tokens read so far (all epochs) and in all.
    public var wordsRead: Int
    public var totalWords: Int
    public var seconds: Double
    public var learningRate: Double
}

/// What ``EmbedJob`` did.
public struct EmbedReport: Sendable, Codable, Equatable {
    public var words = 0
    public var dim = 0
    public var wordsRead = 0
    public var wordsTrained = 0
    public var seconds = 0.0
    public var wordsPerSecond = 0.0
    public var threads = 0
    /// `deterministic` or `hogwild`.
    public var mode = ""
    public var kernels = ""
    public var files: [String] = []

    enum CodingKeys: String, CodingKey {
        case words, dim, seconds, threads, mode, kernels, files
        case wordsRead = "words_read"
        case wordsTrained = "words_trained"
        case wordsPerSecond = "words_per_second"
    }
}

/// Shard sets -> word2vec -> `STEM.safetensors` and `STEM.vec`.
///
/// Every epoch streams the shard sets' records in stored order, one block (about 1 MiB)
/// at a time, into ``Word2Vec``: memory is the model's two `[words, dim]` matrices, a
/// block, and a round of text per thread, whatever the corpus's size. The vocabulary gives
/// the words and their counts; every shard set must have been made with it. The shards
/// may be unlabeled.
public enum EmbedJob {
    /// Both files' paths for `--out STEM` (a `.vec` or `.safetensors` ending is dropped).
    public static func outputPaths(_ out: String) -> (safetensors: String, text: String) {
        var stem = out
        for ending in [".safetensors", ".vec"] where stem.hasSuffix(ending) { stem.removeLast(ending.count) }
        return (stem + ".safetensors", stem + ".vec")
    }

    public static func run(
        shardFolders: [String], vocabularyPath: String, out: String, options: Word2VecOptions,
        kernels: KernelSet = .selected, onProgress: ((EmbedProgress) -> Void)? = nil
    ) throws(FolioError) -> EmbedReport {
        let clock = ContinuousClock()
        let started = clock.now
        let vocabulary = try Vocabulary(contentsOf: vocabularyPath)
        var sets: [ShardSet] = []
        for folder in shardFolders {
            let set = try ShardSet(folder: folder)
            try set.checkVocabulary(fingerprint: vocabulary.fingerprint, path: vocabularyPath)
            sets.append(set)
        }
        let tokensPerEpoch = sets.reduce(0) { $0 + $1.manifest.tokens }
        let model = try Word2Vec(counts: vocabulary.counts, tokensPerEpoch: tokensPerEpoch, options: options, kernels: kernels)
        model.onRound = { progress in
            onProgress?(EmbedProgress(
                epoch: progress.epoch, epochs: options.epochs, wordsRead: progress.wordsRead, totalWords: tokensPerEpoch * options.epochs,
                seconds: (clock.now - started).seconds, learningRate: progress.learningRate))
        }
        for _ in 0..<options.epochs {
            for set in sets {
                for shard in set.manifest.shards.indices {
                    let reader = try set.reader(forShard: shard)
                    for block in reader.blocks.indices {
                        try reader.forEachRecord(inBlock: block) { _, _, ids throws(FolioError) in model.add(ids) }
                    }
                }
            }
            model.finishEpoch()
        }
        let seconds = (clock.now - started).seconds
        let vectors = WordVectors(tokens: model.words.map { vocabulary.tokens[Int($0)] }, dim: model.dim, values: model.vectors())
        let paths = outputPaths(out)
        let mode = options.threads > 1 && options.hogwild ? "hogwild" : "deterministic"
        try vectors.writeSafetensors(to: paths.safetensors, metadata: [
            "format": "folio word vectors", "model": options.model.rawValue, "vocabulary_fingerprint": vocabulary.fingerprint,
            "seed": String(options.seed), "threads": String(options.threads), "mode": mode,
        ])
        try vectors.writeText(to: paths.text)

        var report = EmbedReport()
        report.words = vectors.tokens.count
        report.dim = vectors.dim
        report.wordsRead = model.wordsRead
        report.wordsTrained = model.wordsTrained
        report.seconds = seconds
        report.wordsPerSecond = seconds > 0 ? Double(model.wordsRead) / seconds : 0
        report.threads = options.threads
        report.mode = mode
        report.kernels = kernels.description
        report.files = [paths.safetensors, paths.text]
        return report
    }
}
