import FolioCorpus
import FolioShards
import FolioTestSupport
import Foundation
import Testing
@testable import FolioPipeline

/// Which split a run is evaluated on, and what its result calls the figures.
@Suite struct TestSplitTests {
    /// The tiny corpus as one JSONL file whose lines carry `"split"`: train lines first,
    /// test lines last (so finding them means reading to the end).
    static func writeJSONL(into folder: String, withSplits: Bool = true) throws -> (train: Int, test: Int) {
        try TinyCorpus.write(into: folder + "/tree", trainPerLabel: 20, testPerLabel: 7)
        var lines: [String] = []
        var counts = (train: 0, test: 0)
        for split in ["train", "test"] {
            for label in TinyCorpus.labels {
                let files = try FileManager.default.contentsOfDirectory(atPath: "\(folder)/tree/corpus/\(split)/\(label)").sorted()
                for file in files {
                    let text = try String(contentsOfFile: "\(folder)/tree/corpus/\(split)/\(label)/\(file)", encoding: .utf8)
                    let object: [String: String] = withSplits ? ["text": text, "label": label, "split": split] : ["text": text, "label": label]
                    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                    lines.append(String(decoding: data, as: UTF8.self))
                    if split == "train" { counts.train += 1 } else { counts.test += 1 }
                }
            }
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: folder + "/corpus.jsonl", atomically: true, encoding: .utf8)
        return counts
    }

    static func config(folder: String) throws -> PipelineConfig {
        let text = TinyCorpus.pipeline(model: TinyCorpus.bagModel, training: "epochs = 2\nlearning_rate = 0.05")
            .replacingOccurrences(of: "path = \"corpus\"", with: "path = \"corpus.jsonl\"")
        return try PipelineConfig.parse(text, file: "tiny.toml", baseFolder: folder)
    }

    /// A JSONL corpus whose lines say `"split": "test"` is evaluated on those lines, without
    /// `corpus.test_split` being set.
    @Test func aJSONLCorpusWithTestLinesIsEvaluatedOnThem() throws {
        let folder = TemporaryFolder()
        let counts = try Self.writeJSONL(into: folder.path)
        #expect(corpusHasSplit(path: folder.path + "/corpus.jsonl", split: "test"))
        #expect(!corpusHasSplit(path: folder.path + "/corpus.jsonl", split: "holdout"))
        let result = try PipelineRunner(config: Self.config(folder: folder.path), runDir: folder.path + "/run").run()
        #expect(result.evaluatedOn == "test")
        #expect(result.testExamples == counts.test)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(result)) as? [String: Any]
        #expect(json?["test_examples"] as? Int == counts.test && json?["validation_examples"] == nil)
        // What users read names layers as Keras does, never a Swift type.
        let report = try String(contentsOfFile: folder.path + "/run/report.md", encoding: .utf8)
        #expect(report.contains("Model: Embedding(output_dim=8) -> GlobalAveragePooling1D -> Dense(units=3)"), "\(report.prefix(600))")
        #expect(!report.contains("FolioNN"))
    }

    /// A classifier sized by the labels is reported at its size, not at the reader's
    /// placeholder (the report said `Dense(units=1)` for a 3-label corpus).
    @Test func theReportShowsTheClassifierSizedByTheLabels() throws {
        let folder = TemporaryFolder()
        _ = try Self.writeJSONL(into: folder.path)
        var config = try Self.config(folder: folder.path)
        config.model.layers[config.model.layers.count - 1] = .dense(units: 1)
        config.model.outputSizedByLabels = true
        _ = try PipelineRunner(config: config, runDir: folder.path + "/run").run()
        let report = try String(contentsOfFile: folder.path + "/run/report.md", encoding: .utf8)
        #expect(report.contains("-> Dense(units=3)"), "\(report.prefix(600))")
    }

    /// Without test lines (no split key at all) the run is evaluated on the held-out
    /// validation part, and its JSON never names those figures as test figures.
    @Test func validationFiguresAreNotNamedTestFigures() throws {
        let folder = TemporaryFolder()
        _ = try Self.writeJSONL(into: folder.path, withSplits: false)
        #expect(!corpusHasSplit(path: folder.path + "/corpus.jsonl", split: "test"))
        let result = try PipelineRunner(config: Self.config(folder: folder.path), runDir: folder.path + "/run").run()
        #expect(result.evaluatedOn == "validation" && !result.isTestEvaluation)
        let data = try JSONEncoder().encode(result)
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["test_examples"] == nil && json["test_loss"] == nil, "\(json.keys.sorted())")
        #expect(json["validation_examples"] as? Int == result.testExamples && json["validation_loss"] != nil)
        let decoded = try JSONDecoder().decode(PipelineResult.self, from: data)
        #expect(decoded.testExamples == result.testExamples && decoded.evaluatedOn == "validation")
        var record = SweepRecord(microBatch: 8, accumulationSteps: 1, seed: 1, learningRate: 0.05, runDir: folder.path + "/run")
        record.complete(with: result)
        #expect(record.testAccuracy == nil && record.testMacroF1 == nil)
    }

    @Test func aFolderCorpusHasATestSplitWhenItHasATestFolder() throws {
        let folder = TemporaryFolder()
        try TinyCorpus.write(into: folder.path)
        #expect(corpusHasSplit(path: folder.path + "/corpus", split: "test"))
        #expect(!corpusHasSplit(path: folder.path + "/corpus", split: "validation"))
        #expect(!corpusHasSplit(path: folder.path + "/missing", split: "test"))
    }
}

/// Regression: an early stopping that restores the best weights wrote them into the
/// checkpoint folder before anything had created it (`folio train --patience` failed on
/// its first epoch), so `fit` now creates the folder first.
@Suite struct CheckpointFolderTests {
    @Test func fitCreatesTheCheckpointFolderBeforeCallbacksWriteIntoIt() throws {
        let folder = TemporaryFolder()
        let counts = try TestSplitTests.writeJSONL(into: folder.path)
        #expect(counts.train > 0)
        var config = try TestSplitTests.config(folder: folder.path)
        config.training.validationSplit = 0.2
        config.training.earlyStopping = .init(monitor: "val_loss", patience: 5, restoreBestWeights: true)
        try PipelineRunner(config: config, runDir: folder.path + "/data").prepareData()
        let shards = try ShardSet(folder: folder.path + "/data/shards/train")
        let checkpoints = folder.path + "/not/yet/there"
        let session = try TrainingSession(config: config, train: shards, vocabularySize: shards.manifest.vocabularySize,
                                          checkpoints: checkpoints, metrics: nil)
        try session.trainer.fit()
        #expect(FileManager.default.fileExists(atPath: checkpoints + "/early-stopping-best.safetensors"))
        #expect(session.trainer.history.count == 2)
    }
}

/// Regression: without a checkpoint folder (a tune's trials), `restore_best_weights` did
/// nothing, so a trial that stopped early was ranked by its last epoch's weights, not its
/// best epoch's. The best weights are now kept in memory, as Keras keeps them.
@Suite struct EarlyStoppingInMemoryTests {
    @Test func theBestEpochsWeightsComeBackWithoutACheckpointFolder() throws {
        let folder = TemporaryFolder()
        _ = try TestSplitTests.writeJSONL(into: folder.path)
        var config = try TestSplitTests.config(folder: folder.path)
        config.training.validationSplit = 0.3
        config.training.epochs = 12
        config.training.optimizer.schedule = config.training.optimizer.schedule.withInitialRate(2)
        config.training.earlyStopping = .init(monitor: "val_loss", patience: 12, restoreBestWeights: true)
        try PipelineRunner(config: config, runDir: folder.path + "/data").prepareData()
        let shards = try ShardSet(folder: folder.path + "/data/shards/train")
        let session = try TrainingSession(config: config, train: shards, vocabularySize: shards.manifest.vocabularySize,
                                          checkpoints: nil, metrics: nil)
        try session.trainer.fit()
        let losses = session.trainer.history.compactMap(\.valLoss)
        let best = try #require(losses.indices.min { losses[$0] < losses[$1] })
        try #require(best < losses.count - 1, "the last epoch is the best: the test cannot tell restored weights from the last ones")
        let evaluation = try session.model.evaluate(try #require(session.validation), classes: 3)
        #expect(abs(evaluation.loss - losses[best]) < 1e-9, "validation loss \(evaluation.loss), best epoch's \(losses[best]), last \(losses.last ?? 0)")
    }
}
