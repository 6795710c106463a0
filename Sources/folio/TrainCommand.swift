import ArgumentParser
import FolioCore
import FolioNN
import FolioPipeline
import FolioShards
import FolioText
import Foundation

/// Trains a preset model on a shard set (the pipeline file that describes any model is the
/// next step); checkpoints make `--resume` continue a killed run exactly.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on a shard set and evaluate it on another; checkpoints allow an exact --resume."
    )

    enum Preset: String, ExpressibleByArgument, CaseIterable {
        case bag, lstm, conv
    }

    @Argument(help: "Training shard set (folio shard).") var shards: String
    @Option(help: "Test shard set, evaluated after training.") var test: String?
    @Option(help: "Model: bag (Embedding -> GlobalAveragePooling1D -> Dense), lstm (Embedding -> LSTM -> LSTM -> Dense), conv (Embedding -> Conv1D -> GlobalMaxPooling1D -> Dense).")
    var model = Preset.bag
    @Option(help: "Embedding size.") var embed = 64
    @Option(help: "LSTM units or Conv1D filters.") var units = 64
    @Option(help: "Hashed word n-grams up to this order appended to each batch (2: bigrams; 1: none), as fastText's -wordNgrams.")
    var ngrams = 1
    @Option(help: "Hash buckets for the n-grams.") var buckets = 100_000
    @Flag(help: "Weigh each document's distinct ids by TF-IDF fitted on the training shards (bag model only).")
    var tfidf = false
    @Option(help: "Epochs.") var epochs = 5
    @Option(help: "Micro-batch size.") var batch = 32
    @Option(help: "Micro-batches per optimizer step (virtual batch = batch x this).") var accumulate = 1
    @Option(help: "Sequence length (pad/truncate).") var maxLength = 200
    @Option(help: "Adam learning rate.") var learningRate: Float = 0.005
    @Option(help: "Seed for weights, order and dropout.") var seed: UInt64 = 1
    @Option(help: "Checkpoint folder.") var checkpoints = "checkpoints"
    @Option(help: "Checkpoint every N optimizer steps (0: at epoch ends).") var checkpointEvery = 0
    @Flag(help: "Continue from the checkpoint folder.") var resume = false
    @OptionGroup var output: OutputOptionGroup

    struct Result: Encodable {
        var epochs: Int
        var final_train_loss: Double?
        var test_loss: Double?
        var accuracy: Double?
        var macro_f1: Double?
        var test_examples: Int?
        var seconds: Double
    }

    func run() throws {
        let started = ContinuousClock.now
        let result = try runReportingErrors { () throws(FolioError) -> Result in
            let set = try ShardSet(folder: shards)
            let classes = set.manifest.labels.count
            let hashing = ngrams > 1 ? NgramHashing(order: ngrams, buckets: buckets, vocabularySize: set.manifest.vocabularySize) : nil
            let specs: [LayerSpec]
            switch model {
            case .bag: specs = [.embedding(outputDim: embed), .globalAveragePooling1D, .dense(units: classes)]
            case .lstm: specs = [.embedding(outputDim: embed), .lstm(units: units, returnSequences: true), .lstm(units: units), .dense(units: classes)]
            case .conv: specs = [.embedding(outputDim: embed), .conv1D(filters: units, kernelSize: 5, padding: .same, activation: .relu),
                                 .globalMaxPooling1D, .dense(units: classes)]
            }
            let model = try Model(specs, vocabulary: set.manifest.vocabularySize, seed: seed, ngrams: hashing)
            let network = model.network
            let loader = try ShardLoader(shards: set, options: LoaderOptions(batchSize: batch, maxLength: maxLength, seed: seed))
            if tfidf { try model.adaptTFIDF(loader) }
            var options = TrainingOptions(checkpointFolder: checkpoints)
            options.epochs = epochs
            options.accumulationSteps = accumulate
            options.checkpointEvery = checkpointEvery
            options.features = model.features
            let trainer = Trainer(model: network, optimizer: Adam(arena: network.arena, learningRate: learningRate), loader: loader, options: options)
            let losses = try trainer.fit(resume: resume)
            var result = Result(epochs: epochs, final_train_loss: losses.suffix(50).isEmpty ? nil : losses.suffix(50).reduce(0, +) / Double(losses.suffix(50).count),
                                seconds: 0)
            if let test {
                let testSet = try ShardSet(folder: test)
                guard testSet.manifest.labels == set.manifest.labels else {
                    throw FolioError("the test shards have other labels than the training shards (shard with --labels-from)", file: test)
                }
                try testSet.checkVocabulary(fingerprint: set.manifest.vocabularyFingerprint, path: shards)
                let testLoader = try ShardLoader(shards: testSet, options: LoaderOptions(batchSize: 256, maxLength: maxLength, shuffle: false))
                let evaluation = try Evaluation.evaluate(network, loader: testLoader, classes: classes, features: model.features)
                result.test_loss = evaluation.loss
                result.accuracy = evaluation.accuracy
                result.macro_f1 = evaluation.report?.macroF1
                result.test_examples = evaluation.examples
            }
            return result
        }
        var final = result
        final.seconds = (ContinuousClock.now - started).seconds
        if output.json {
            try printJSON(final)
        } else {
            print("trained \(epochs) epochs in \(String(format: "%.1f", final.seconds)) s" + (final.accuracy.map { ", test accuracy \(String(format: "%.4f", $0)), macro-F1 \(String(format: "%.4f", final.macro_f1 ?? 0))" } ?? ""))
        }
    }
}
