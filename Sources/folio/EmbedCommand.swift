import ArgumentParser
import FolioCore
import FolioNN
import FolioPipeline
import Foundation

extension Word2VecOptions.Architecture: ExpressibleByArgument {}

/// Word vectors from shard sets (word2vec), or a look at some: `--neighbors WORD VECTORS`.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Train word vectors on shard sets (word2vec: skip-gram or CBOW with negative sampling), or show a word's nearest neighbours.",
        discussion: """
            Writes OUT.safetensors and OUT.vec (word2vec's text format). The shards may be unlabeled (folio shard reads \
            folders of .txt files and JSONL without labels). Deterministic for a seed and thread count; --hogwild is faster \
            and is not. Start an embedding layer from the vectors with weights = "OUT.safetensors" in a pipeline.
            Inspect: folio embed --neighbors WORD OUT.safetensors
            """
    )

    @Argument(help: "Shard sets (folio shard), all made with one vocabulary; with --neighbors, a vectors file.")
    var inputs: [String]

    @Option(help: "The vocabulary the shards were made with (default: a vocabulary.tsv beside the first shard folder or its parent).")
    var vocabulary: String?
    @Option(help: "Output stem: writes STEM.safetensors and STEM.vec.") var out = "vectors"
    @Option(help: "skipgram or cbow.") var model = Word2VecOptions.Architecture.skipgram
    @Option(help: "Vector size.") var dim = 100
    @Option(help: "Largest distance to a context word.") var window = 5
    @Option(help: "Noise words per true word.") var negative = 5
    @Option(help: "Passes over the text.") var epochs = 5
    @Option(help: "Words seen fewer times get no vector.") var minCount = 5
    @Option(help: "Frequent-word subsampling threshold (0: none).") var subsample = 1e-4
    @Option(help: "Starting learning rate (default 0.025 skip-gram, 0.05 CBOW), decayed linearly.") var learningRate: Double?
    @Option(help: "Threads (default: the number of cores).") var threads: Int?
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Flag(help: "Lock-free updates (as word2vec and fastText): faster, but not reproducible.") var hogwild = false
    @Option(help: .hidden) var roundWords = Word2VecOptions().roundWords
    @Option(help: "Show the nearest words to WORD (cosine) in the vectors file given.") var neighbors: String?
    @Option(help: "How many neighbours.") var top = 10
    @OptionGroup var output: OutputOptionGroup

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one shard set (or, with --neighbors, a vectors file)") }
        if neighbors != nil && inputs.count != 1 { throw ValidationError("--neighbors takes one vectors file") }
        for (name, value) in [("--dim", dim), ("--window", window), ("--negative", negative), ("--epochs", epochs), ("--min-count", minCount), ("--top", top)]
        where value < 1 {
            throw ValidationError("\(name) must be at least 1")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if subsample < 0 || subsample >= 1 { throw ValidationError("--subsample must be in [0, 1)") }
        if let learningRate, !(learningRate > 0 && learningRate < 10) { throw ValidationError("--learning-rate must be in (0, 10)") }
    }

    struct Neighbor: Encodable {
        var token: String
        var similarity: Float
    }

    func run() throws {
        if let word = neighbors { return try showNeighbors(of: word) }
        var options = Word2VecOptions()
        options.model = model
        options.dim = dim
        options.window = window
        options.negative = negative
        options.epochs = epochs
        options.minCount = minCount
        options.subsample = subsample
        options.learningRate = learningRate
        options.threads = threads ?? ProcessInfoLite.activeProcessorCount
        options.seed = seed
        options.hogwild = hogwild
        options.roundWords = roundWords
        let display = ProgressDisplay(title: "embed")
        let report = try runReportingErrors(display) { () throws(FolioError) in
            let vocabularyPath = try requiredVocabulary(named: vocabulary, besideShards: inputs[0])
            return try EmbedJob.run(shardFolders: inputs, vocabularyPath: vocabularyPath, out: out, options: options,
                                    onProgress: { display.update($0) })
        }
        if output.json {
            try printJSON(report)
        } else {
            let mode = report.mode == "hogwild" ? "hogwild: not reproducible" : "deterministic for seed \(seed) and \(report.threads) threads"
            print("""
                \(report.words) word vectors of \(report.dim) (\(model.rawValue)) from \(report.wordsRead) tokens in \
                \(String(format: "%.1f", report.seconds)) s (\(Int(report.wordsPerSecond)) words/s, \(report.threads) threads, \
                \(report.kernels) kernels; \(mode)), written to \(report.files.joined(separator: " and "))
                """)
        }
    }

    func showNeighbors(of word: String) throws {
        let found = try runReportingErrors { () throws(FolioError) in
            let vectors = try WordVectors.read(inputs[0])
            guard let found = vectors.neighbors(of: word, count: top) else {
                throw FolioError("'\(word)' has no vector", file: inputs[0])
            }
            return found
        }
        if output.json {
            try printJSON(found.map { Neighbor(token: $0.token, similarity: $0.similarity) })
        } else {
            for (token, similarity) in found { print("\(token)\t\(String(format: "%.4f", similarity))") }
        }
    }
}
