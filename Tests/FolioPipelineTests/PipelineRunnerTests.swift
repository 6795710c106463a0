import FolioNN
import FolioShards
import FolioTestSupport
import Foundation
import Testing
@testable import FolioPipeline

/// The tiny corpus with an LSTM pipeline that uses dropout, accumulation and checkpoints.
final class TinyRun {
    let folder = TemporaryFolder()

    init() { try! TinyCorpus.write(into: folder.path, trainPerLabel: 40, testPerLabel: 12) }

    func pipeline(name: String = "tiny", extra: String = "") -> PipelineConfig {
        let text = TinyCorpus.pipeline(name: name, model: TinyCorpus.lstmModel(dropout: 0.1), training: """
            epochs = 3
            learning_rate = 0.02
            accumulation_steps = 2
            checkpoint_every = 2
            validation_split = 0.2
            \(extra)
            """)
        return try! PipelineConfig.parse(text, file: "tiny.toml", baseFolder: folder.path)
    }
}

@Suite struct PipelineRunnerTests {
    let tiny = TinyRun()

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// `decay_epochs` becomes optimizer steps from the loader's batches per epoch and the
    /// accumulation: the cosine is at 3/4 of its height after one epoch of three and at 0
    /// after the last, whatever the corpus size.
    @Test func aScheduleLengthInEpochsEndsWithTraining() throws {
        let runDir = tiny.folder.path + "/decay"
        _ = try PipelineRunner(config: tiny.pipeline(extra: "schedule = \"cosine\"\ndecay_epochs = 3"), runDir: runDir).run()
        let metrics = try String(contentsOfFile: runDir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let history = try metrics.map { try JSONDecoder().decode(EpochLogs.self, from: Data($0.utf8)) }
        #expect(history.count == 3)
        #expect(abs(history[0].learningRate - 0.02 * 0.75) < 1e-3, "\(history[0].learningRate)")
        #expect(history[2].learningRate == 0)
        let both = TinyCorpus.pipeline(name: "t", model: "[[model.layers]]\ntype = \"embedding\"\noutput_dim = 4", training: """
            schedule = "cosine"
            decay_steps = 10
            decay_epochs = 3
            """)
        do {
            _ = try PipelineConfig.parse(both, file: "t.toml", baseFolder: tiny.folder.path)
            Issue.record("decay_steps and decay_epochs together were accepted")
        } catch {
            #expect("\(error)".contains("decay_steps or decay_epochs"), "\(error)")
        }
    }

    @Test func aTinyPipelineTrainsReportsAndSkipsUnchangedStages() throws {
        let runDir = tiny.folder.path + "/run"
        let result = try PipelineRunner(config: tiny.pipeline(), runDir: runDir).run()
        #expect(result.stagesRun == ["vocabulary", "shards", "train", "evaluate"])
        #expect(result.testExamples == 36 && result.evaluatedOn == "test")
        #expect(result.accuracy > 0.6, "3 classes with telling words: far above chance")
        let metrics = try String(contentsOfFile: runDir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(metrics.count == 3)
        let history = try metrics.map { try JSONDecoder().decode(EpochLogs.self, from: Data($0.utf8)) }
        #expect(history.last!.loss < history.first!.loss, "the loss falls")
        #expect(history.allSatisfy { $0.valLoss != nil && $0.valAccuracy != nil })
        for file in ["report.md", "loss.svg", "accuracy.svg", "confusion.svg", "metrics.csv", "model/model.json", "evaluation.json"] {
            #expect(FileManager.default.fileExists(atPath: runDir + "/" + file), "\(file)")
        }
        let weights = try bytes(runDir + "/model/model.safetensors")

        let again = try PipelineRunner(config: tiny.pipeline(), runDir: runDir).run()
        #expect(again.stagesRun.isEmpty && again.stagesSkipped == ["vocabulary", "shards", "train", "evaluate"])
        #expect(again.accuracy == result.accuracy)

        var changed = tiny.pipeline(extra: "")
        changed.training.epochs = 4
        let longer = try PipelineRunner(config: changed, runDir: runDir).run()
        #expect(longer.stagesSkipped == ["vocabulary", "shards"] && longer.stagesRun == ["train", "evaluate"])
        #expect(try bytes(runDir + "/model/model.safetensors") != weights)
    }

    /// `checkpoint_seconds` longer than the run: one checkpoint, the last, and a line saying
    /// how many were skipped; a run killed before it starts training again and ends with
    /// the weights of a run that checkpointed all along.
    @Test func checkpointSecondsLeavesOnlyTheLastCheckpointAndAKilledRunStartsOver() throws {
        let reference = tiny.folder.path + "/every"
        _ = try PipelineRunner(config: tiny.pipeline(), runDir: reference).run()
        let sparse = tiny.pipeline(extra: "checkpoint_seconds = 1000000")
        let killed = tiny.folder.path + "/sparse"
        let first = PipelineRunner(config: sparse, runDir: killed)
        first.stopTrainingAfter = 9
        #expect(throws: FolioError.self) { try first.run() }
        #expect(try Checkpoint.read(folder: killed + "/checkpoints") == nil)
        let again = PipelineRunner(config: sparse, runDir: killed)
        var notes: [String] = []
        again.events.note = { notes.append($0) }
        _ = try again.run()
        #expect(notes.contains { $0.hasPrefix("checkpoints: 1 written, ") && $0.hasSuffix(" skipped as sooner than checkpoint_seconds = 1e+06 after the last") },
                "\(notes)")
        #expect(try Checkpoint.read(folder: killed + "/checkpoints")?.finished == true)
        #expect(try bytes(killed + "/model/model.safetensors") == bytes(reference + "/model/model.safetensors"))
    }

    @Test(arguments: [1, 5, 9]) func aKilledRunResumesToTheSameWeights(killAfter: Int) throws {
        let reference = tiny.folder.path + "/reference"
        _ = try PipelineRunner(config: tiny.pipeline(), runDir: reference).run()
        let killed = tiny.folder.path + "/killed-\(killAfter)"
        let first = PipelineRunner(config: tiny.pipeline(), runDir: killed)
        first.stopTrainingAfter = killAfter
        #expect(throws: FolioError.self) { try first.run() }
        let resumed = try PipelineRunner(config: tiny.pipeline(), runDir: killed).run()
        #expect(resumed.stagesSkipped == ["vocabulary", "shards"])
        #expect(try bytes(killed + "/model/model.safetensors") == bytes(reference + "/model/model.safetensors"))
        let logs = { (dir: String) throws -> [EpochLogs] in
            try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
                var logs = try JSONDecoder().decode(EpochLogs.self, from: Data($0.utf8))
                (logs.seconds, logs.tokensPerSecond) = (0, 0)
                return logs
            }
        }
        #expect(try logs(killed) == logs(reference), "the history is the same but for timings")
    }

    @Test func oneAndTwoThreadsGiveIdenticalWeights() throws {
        var one = tiny.pipeline()
        one.threads = 1
        var two = tiny.pipeline()
        two.threads = 2
        _ = try PipelineRunner(config: one, runDir: tiny.folder.path + "/one").run()
        _ = try PipelineRunner(config: two, runDir: tiny.folder.path + "/two").run()
        #expect(try bytes(tiny.folder.path + "/one/model/model.safetensors") == bytes(tiny.folder.path + "/two/model/model.safetensors"))
    }

    @Test func aRunDirectoryOfAnotherPipelineIsRefused() throws {
        let runDir = tiny.folder.path + "/shared"
        _ = try PipelineRunner(config: tiny.pipeline(), runDir: runDir).run()
        let error = try #require(throws: FolioError.self) { try PipelineRunner(config: tiny.pipeline(name: "other"), runDir: runDir).run() }
        #expect(error.message.contains("belongs to pipeline 'tiny'"))
        tiny.folder.write("stranger/notes.txt", "mine")
        #expect(throws: FolioError.self) { try PipelineRunner(config: tiny.pipeline(), runDir: tiny.folder.path + "/stranger").run() }
    }

    @Test func predictHandlesUnknownWordsAndEmptyTexts() throws {
        let runDir = tiny.folder.path + "/predict"
        _ = try PipelineRunner(config: tiny.pipeline(), runDir: runDir).run()
        let predictor = try Predictor(folder: runDir + "/model")
        let predictions = try predictor.predict(["the comet and the galaxy", "zyzzyva quux", "", "tomato basil oven"], topK: 2)
        #expect(predictions.map(\.label) == ["astro", predictions[1].label, predictions[2].label, "cook"])
        #expect(predictions[1].unknownTokens == 2 && predictions[1].tokens == 2)
        #expect(predictions[2].tokens == 0)
        for prediction in predictions {
            #expect(prediction.top.count == 2 && prediction.probability.isFinite)
            #expect(prediction.top[0].probability >= prediction.top[1].probability)
        }
    }

    /// TF-IDF weighting end to end: the loss falls; the bundle keeps the idf table and
    /// `Predictor` on the raw test texts scores what the evaluation scored; a run killed
    /// mid-epoch resumes to the same weights; a damaged table is refused, naming the file.
    @Test func aTFIDFWeightedBagPredictsAsItEvaluatesAndResumesExactly() throws {
        let text = TinyCorpus.pipeline(name: "tfidf", model: """
            [model]
            ngrams = 2
            buckets = 64
            weighting = "tfidf"
            [[model.layers]]
            type = "embedding"
            output_dim = 8
            [[model.layers]]
            type = "global_average_pooling1d"
            combiner = "sqrtn"
            [[model.layers]]
            type = "dense"
            units = 3
            """, training: """
            epochs = 4
            optimizer = "sgd"
            learning_rate = 0.5
            checkpoint_every = 3
            validation_split = 0.2
            """)
        let config = try PipelineConfig.parse(text, file: "tfidf.toml", baseFolder: tiny.folder.path)
        let runDir = tiny.folder.path + "/tfidf"
        let result = try PipelineRunner(config: config, runDir: runDir).run()
        let history = try String(contentsOfFile: runDir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(EpochLogs.self, from: Data($0.utf8)) }
        #expect(history.last!.loss < history.first!.loss && result.accuracy > 0.6, "\(history.map(\.loss)), \(result.accuracy)")
        #expect(FileManager.default.fileExists(atPath: runDir + "/model/" + TFIDFWeighting.file))

        let predictor = try Predictor(folder: runDir + "/model")
        #expect(predictor.model.features.weighting != nil)
        var correct = 0
        var total = 0
        for label in TinyCorpus.labels {
            let folder = tiny.folder.path + "/corpus/test/" + label
            let texts = try FileManager.default.contentsOfDirectory(atPath: folder).map { try String(contentsOfFile: folder + "/" + $0, encoding: .utf8) }
            correct += try predictor.predict(texts).filter { $0.label == label }.count
            total += texts.count
        }
        #expect(total == result.testExamples && Double(correct) / Double(total) == result.accuracy)
        // An unknown word weighs nothing: one alone is an empty bag, as no text is (pooled to
        // zeros, the prediction is the bias's). Two make a bigram, whose bucket other bigrams share.
        let empty = try predictor.predict(["zyzzyva", "", "zyzzyva comet", "comet"])
        #expect(empty[0].unknownTokens == 1 && empty.allSatisfy { $0.probability.isFinite })
        #expect(empty[0].top.map(\.probability) == empty[1].top.map(\.probability))
        #expect(empty[2].label == empty[3].label && empty[2].probability != empty[3].probability, "the bigram's bucket counts")

        let killed = tiny.folder.path + "/tfidf-killed"
        let first = PipelineRunner(config: config, runDir: killed)
        first.stopTrainingAfter = 5
        #expect(throws: FolioError.self) { try first.run() }
        _ = try PipelineRunner(config: config, runDir: killed).run()
        #expect(try bytes(killed + "/model/model.safetensors") == bytes(runDir + "/model/model.safetensors"))

        let table = runDir + "/model/" + TFIDFWeighting.file
        let original = try bytes(table)
        try Data(original.prefix(original.count - 4)).write(to: URL(fileURLWithPath: table))
        let error = try #require(throws: FolioError.self) { try Predictor(folder: runDir + "/model") }
        #expect(error.file == table, "\(error)")
    }

    /// A test split with a label the training split never had is an error naming the
    /// label and the document, before any training.
    @Test func aTestLabelNeverSeenInTrainingIsAClearError() throws {
        tiny.folder.write("corpus/test/gardening/1.txt", "roses and tulips")
        let runDir = tiny.folder.path + "/unseen"
        let error = try #require(throws: FolioError.self) { try PipelineRunner(config: tiny.pipeline(), runDir: runDir).run() }
        #expect(error.message == "label 'gardening' is not one of the shard set's labels", "\(error)")
        #expect(error.file?.hasSuffix("corpus/test/gardening/1.txt") == true)
        #expect(!FileManager.default.fileExists(atPath: runDir + "/checkpoints"))
    }

    @Test func nanLossStopsNamingTheStepAndKeepsTheLastCheckpoint() throws {
        let runDir = tiny.folder.path + "/nan"
        let config = tiny.pipeline(extra: "optimizer = \"sgd\"\n").withLearningRate(1e38)
        let error = try #require(throws: FolioError.self) { try PipelineRunner(config: config, runDir: runDir).run() }
        #expect(error.message.contains("micro-batch") && error.message.contains("not finite") && error.message.contains("last checkpoint is kept"),
                "\(error)")
        if let checkpoint = try Checkpoint.read(folder: runDir + "/checkpoints") {
            #expect(!checkpoint.finished)
        }
    }
}

extension PipelineConfig {
    func withLearningRate(_ rate: Float) -> PipelineConfig {
        var copy = self
        copy.training.optimizer.schedule = .constant(rate)
        return copy
    }
}

/// Nothing a training run sets is shared by the process: two pipelines trained at the same
/// time on two threads end with the weights each gets alone, bit for bit.
@Suite struct ConcurrentTrainingTests {
    @Test func twoPipelinesTrainedConcurrentlyEqualTwoTrainedAlone() throws {
        let tiny = TinyRun()
        let configs = [tiny.pipeline(name: "first"), tiny.pipeline(name: "second", extra: "optimizer = \"sgd\"")]
        func weights(_ runDir: String) throws -> Data {
            try Data(contentsOf: URL(fileURLWithPath: runDir + "/model/" + ModelBundle.weightsFile))
        }
        for (index, config) in configs.enumerated() {
            _ = try PipelineRunner(config: config, runDir: tiny.folder.path + "/alone-\(index)").run()
        }
        let failures = Shared<[String]>([])
        let base = tiny.folder.path
        DispatchQueue.concurrentPerform(iterations: configs.count) { index in
            do {
                _ = try PipelineRunner(config: configs[index], runDir: base + "/together-\(index)").run()
            } catch {
                failures.append("\(index): \(error)")
            }
        }
        #expect(failures.value.isEmpty, "\(failures.value)")
        for index in configs.indices {
            #expect(try weights(tiny.folder.path + "/alone-\(index)") == weights(tiny.folder.path + "/together-\(index)"), "pipeline \(index)")
        }
        #expect(try weights(tiny.folder.path + "/alone-0") != weights(tiny.folder.path + "/alone-1"))
    }
}

/// A value the concurrent threads of a test append to under a lock.
final class Shared<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func append<Element>(_ element: Element) where Value == [Element] { lock.withLock { stored.append(element) } }
}
