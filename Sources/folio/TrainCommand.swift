import ArgumentParser
import FolioCore
import FolioNN
import FolioPipeline
import FolioShards
import FolioText
import Foundation

/// Trains a preset model on a shard set: its options become a pipeline configuration (the
/// same value a pipeline file gives), trained through the same ``TrainingSession`` as
/// `folio run`, and written as a model bundle that `folio predict` and `folio eval` read,
/// with the configuration beside it (`pipeline.toml`). Checkpoints make `--resume`
/// continue a killed run exactly. For any other model, write a pipeline file (`folio run`).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a preset model on a shard set, write a model bundle (folio predict, folio eval), and evaluate it on a test set.",
        discussion: "Any other model: describe it in a pipeline file and use folio run (pipelines/ has examples)."
    )

    enum Preset: String, ExpressibleByArgument, CaseIterable {
        case bag, lstm, conv
    }

    @Argument(help: "Training shard set (folio shard).") var shards: String
    @Option(help: "Test shard set, evaluated after training.") var test: String?
    @Option(help: "The vocabulary the shards were made with (default: a vocabulary.tsv beside the shard folder or its parent); the bundle needs it to read raw text.")
    var vocabulary: String?
    @Option(help: "The model bundle's folder (default: `model` beside the checkpoint folder).") var out: String?
    @Option(help: "Model: bag (Embedding -> GlobalAveragePooling1D -> Dense), lstm (Embedding -> LSTM -> LSTM -> Dense), conv (Embedding -> Conv1D -> GlobalMaxPooling1D -> Dense).")
    var model = Preset.bag
    @Option(help: "Embedding size.") var embed = 64
    @Option(help: "Start the embedding from word vectors (folio embed's .safetensors, or .vec / GloVe text), matched to the vocabulary by token.")
    var vectors: String?
    @Flag(help: "Keep the --vectors as they are while the rest trains.") var freezeVectors = false
    @Option(help: "LSTM units or Conv1D filters.") var units = 64
    @Option(help: "Hashed word n-grams up to this order appended to each batch (2: bigrams; 1: none), as fastText's -wordNgrams.")
    var ngrams = 1
    @Option(help: "Hash buckets for the n-grams.") var buckets = 100_000
    @Option(help: "Character n-grams of each word from this length (fastText's -minn; default 3 with --maxn), in the same buckets (a bag appends them, a sequence model averages them into each step's vector); needs shards made with --keep-unknown-text.")
    var minn: Int?
    @Option(help: "Character n-grams up to this length (fastText's -maxn; default 6 with --minn).") var maxn: Int?
    @Flag(help: "Weigh each document's distinct ids by TF-IDF fitted on the training shards (bag model only).")
    var tfidf = false
    @Option(help: "Epochs.") var epochs = 5
    @Option(help: "Micro-batch size.") var batch = 32
    @Option(help: "Micro-batches per optimizer step (virtual batch = batch x this).") var accumulate = 1
    @Option(help: "Sequence length (pad/truncate).") var maxLength = 200
    @Option(help: "Optimizer: \(OptimizerSpec.Kind.allCases.map(\.rawValue).joined(separator: ", ")).") var optimizer = "adam"
    @Option(help: "Learning rate.") var learningRate: Float = 0.005
    @Option(help: "Share of the training shards held out for validation (0: train on all, as Keras's fit).") var validationSplit = 0.0
    @Option(help: "Stop when validation loss has not improved for this many epochs, keeping the best weights (needs --validation-split).")
    var patience: Int?
    @Option(help: "Threads.") var threads = 2
    @Option(help: "Seed for weights, order and dropout.") var seed: UInt64 = 1
    @Option(help: "Checkpoint folder.") var checkpoints = "checkpoints"
    @Option(help: "Checkpoint every N optimizer steps (0: at epoch ends).") var checkpointEvery = 0
    @Option(help: "At most one checkpoint in this many seconds, the last always (0: every one).") var checkpointSeconds = 0.0
    @Flag(help: "Continue from the checkpoint folder.") var resume = false
    @OptionGroup var output: OutputOptionGroup

    func validate() throws {
        if freezeVectors && vectors == nil { throw ValidationError("--freeze-vectors needs --vectors") }
    }

    struct Result: Encodable {
        var epochs: Int
        var final_train_loss: Double?
        var val_accuracy: Double?
        var test_loss: Double?
        var accuracy: Double?
        var macro_f1: Double?
        var test_examples: Int?
        var model: String?
        var seconds: Double
    }

    /// The options as a pipeline configuration (its corpus path names the shards: point it
    /// at the corpus to run the file with `folio run`).
    func pipeline(_ set: ShardSet) throws(FolioError) -> PipelineConfig {
        guard let kind = OptimizerSpec.Kind(rawValue: optimizer) else {
            throw FolioError("--optimizer \(optimizer): use one of \(OptimizerSpec.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var config = PipelineConfig(name: "train", corpus: .init(path: shards))
        config.seed = seed
        config.threads = threads
        let tokenizer = set.manifest.tokenizer
        config.tokenizer = TokenizerOptions(
            normalization: tokenizer["normalization"].flatMap(TokenizerOptions.Normalization.init(rawValue:)) ?? .nfkcCasefold,
            numbers: tokenizer["numbers"].flatMap(TokenizerOptions.Numbers.init(rawValue:)) ?? .keep,
            maxTokenLength: tokenizer["max_token_length"].flatMap { Int($0) } ?? 100)
        config.loader = LoaderOptions(batchSize: batch, maxLength: maxLength, seed: seed)
        let classes = set.manifest.labels.count
        switch model {
        case .bag: config.model.layers = [.embedding(outputDim: embed), .globalAveragePooling1D, .dense(units: classes)]
        case .lstm: config.model.layers = [.embedding(outputDim: embed), .lstm(units: units, returnSequences: true), .lstm(units: units), .dense(units: classes)]
        case .conv: config.model.layers = [.embedding(outputDim: embed), .conv1D(filters: units, kernelSize: 5, padding: .same, activation: .relu),
                                           .globalMaxPooling1D, .dense(units: classes)]
        }
        if let vectors { config.model.pretrained = .init(path: vectors, trainable: !freezeVectors) }
        config.model.ngrams = ngrams
        config.model.buckets = buckets
        config.model.weighting = tfidf ? .tfidf : nil
        if minn != nil || maxn != nil { config.model.subwords = SubwordHashing(minLength: minn ?? 3, maxLength: maxn ?? 6) }
        config.training.epochs = epochs
        config.training.accumulationSteps = accumulate
        config.training.optimizer = OptimizerSpec(kind: kind, schedule: .constant(learningRate))
        config.training.validationSplit = validationSplit
        config.training.checkpointEvery = checkpointEvery
        // 0 is the default, every checkpoint; a negative number is left for validate() to refuse.
        config.training.checkpointSeconds = checkpointSeconds == 0 ? nil : checkpointSeconds
        if let patience {
            config.training.earlyStopping = .init(monitor: "val_loss", patience: patience, restoreBestWeights: true)
        }
        try config.validate()
        return config
    }

    /// The vocabulary the shards were made with (and its file): the one named, or one found
    /// beside them.
    func vocabularyFile(for set: ShardSet) throws(FolioError) -> (vocabulary: Vocabulary, path: String)? {
        guard let path = vocabulary ?? vocabularyBeside(shards: shards) else { return nil }
        let found = try Vocabulary(contentsOf: path)
        try set.checkVocabulary(fingerprint: found.fingerprint, path: path)
        return (found, path)
    }

    func run() throws {
        let started = ContinuousClock.now
        let signals = InterruptSignals()
        let hint = resume ? "; run the same command again to resume" : "; run the same command with --resume to continue"
        let ranks = Ranks.communicator
        let result = try runReportingErrors(resumeHint: hint) { () throws(FolioError) -> Result in
            let set = try ShardSet(folder: shards)
            try set.requireLabels()
            let config = try pipeline(set)
            let vocabulary = try vocabularyFile(for: set)
            let session = try TrainingSession(config: config, train: set, vocabularySize: set.manifest.vocabularySize,
                                              checkpoints: checkpoints, metrics: nil, stopRequest: signals.stopRequest,
                                              tokens: vocabulary?.vocabulary.tokens, communicator: ranks)
            if let match = session.pretrainedMatch { ProcessInfoLite.printError(match.description) }
            let losses = try session.trainer.fit(resume: resume)
            let recent = losses.suffix(50)
            var result = Result(epochs: session.trainer.history.count, final_train_loss: recent.isEmpty ? nil : recent.reduce(0, +) / Double(recent.count),
                                val_accuracy: session.trainer.history.last?.valAccuracy, seconds: 0)
            if let (vocabulary, vocabularyPath) = vocabulary {
                let folder = out ?? (checkpoints as NSString).deletingLastPathComponent.appendingPathComponentOrName("model")
                if ranks.isWriter {
                    try ModelBundle(config: config, labels: set.manifest.labels, vocabulary: vocabulary, model: session.model)
                        .write(model: session.model, vocabularyPath: vocabularyPath, to: folder)
                    let file = try AtomicFile(path: folder + "/pipeline.toml")
                    try file.write(try config.toml())
                    try file.commit()
                }
                result.model = folder
            } else {
                ProcessInfoLite.printError("folio: note: no model bundle written: give --vocabulary (the one the shards were made with) for folio predict and folio eval to read the model")
            }
            if let test {
                let testSet = try ShardSet(folder: test)
                guard testSet.manifest.labels == set.manifest.labels else {
                    throw FolioError("the test shards have other labels than the training shards (shard with --labels-from)", file: test)
                }
                try testSet.checkVocabulary(fingerprint: set.manifest.vocabularyFingerprint, path: shards)
                let testLoader = try ShardLoader(shards: testSet, options: LoaderOptions(batchSize: 256, maxLength: maxLength, shuffle: false,
                                                                                         rank: ranks.rank, worldSize: ranks.size))
                let evaluation = try session.model.evaluate(testLoader, classes: set.manifest.labels.count, communicator: ranks)
                result.test_loss = evaluation.loss
                result.accuracy = evaluation.accuracy
                result.macro_f1 = evaluation.report?.macroF1
                result.test_examples = evaluation.examples
            }
            return result
        }
        var final = result
        final.seconds = (ContinuousClock.now - started).seconds
        guard Ranks.prints else { return }
        if output.json {
            try printJSON(final)
        } else {
            print("trained \(final.epochs) epochs in \(String(format: "%.1f", final.seconds)) s" + (final.accuracy.map { ", test accuracy \(String(format: "%.4f", $0)), macro-F1 \(String(format: "%.4f", final.macro_f1 ?? 0))" } ?? "")
                  + (final.model.map { "; model in \($0)" } ?? ""))
        }
    }
}

private extension String {
    /// `folder/name`, or `name` alone when the folder is empty (a relative path's parent).
    func appendingPathComponentOrName(_ name: String) -> String { isEmpty ? name : self + "/" + name }
}
