import FolioCore
import FolioTestSupport
import Foundation
import Testing
@testable import FolioPipeline

/// A refit whose training falls short of its trial's is set aside before the test split is
/// read, and the trial is replayed instead.
@Suite struct TunerRefitTests {
    static func epoch(_ number: Int, accuracy: Double) -> EpochLogs {
        EpochLogs(epoch: number, loss: 1, accuracy: accuracy, valLoss: nil, valAccuracy: nil, learningRate: 0.1, optimizerSteps: 10 * number,
                  samples: 100, seconds: 1, tokensPerSecond: 1)
    }

    static func trial(trainAccuracy: Double?) -> TrialRecord {
        var record = TrialRecord(trial: 7, rung: 1, epochs: 4, settings: TrialSettings(), seconds: 1)
        (record.bestEpoch, record.trainAccuracy) = (2, trainAccuracy)
        return record
    }

    @Test func aRefitMoreThanTheToleranceBelowItsTrialIsSetAside() {
        let history = [Self.epoch(1, accuracy: 0.30), Self.epoch(2, accuracy: 0.457)]
        let reason = Tuner.refitShortfall(history, trial: Self.trial(trainAccuracy: 0.62), tolerance: 0.05)
        #expect(reason?.contains("0.4570") == true && reason?.contains("trial 7's 0.6200") == true, "\(reason ?? "nil")")
        // Within the tolerance, above the trial, or a record without the figure: kept.
        #expect(Tuner.refitShortfall(history, trial: Self.trial(trainAccuracy: 0.50), tolerance: 0.05) == nil)
        #expect(Tuner.refitShortfall(history, trial: Self.trial(trainAccuracy: 0.40), tolerance: 0.05) == nil)
        #expect(Tuner.refitShortfall(history, trial: Self.trial(trainAccuracy: nil), tolerance: 0.05) == nil)
        #expect(Tuner.refitShortfall([], trial: Self.trial(trainAccuracy: 0.9), tolerance: 0.05) == nil)
    }

    /// A tolerance no refit can meet (it would have to end a whole 1.0 above its trial) makes
    /// the tune take the fallback: `tuned.toml` is the replay, whose training is the trial's
    /// own (its kept epoch's training and validation accuracy to the bit), and the test split
    /// is evaluated once, for the replay.
    @Test func aSetAsideRefitIsReplacedByTheTrialsReplay() throws {
        let folder = TemporaryFolder()
        try TinyCorpus.writeRun(into: folder.path, model: TinyCorpus.bagModel.replacingOccurrences(of: "units = 3", with: ""),
                                training: "epochs = 3\nlearning_rate = 0.05")
        let config = try PipelineConfig.read(path: folder.path + "/tiny.toml")
        let spaceFile = folder.write("small.toml", "[dim]\nvalues = [8]\n[buckets]\nvalues = [1000]\n[batch_size]\nvalues = [8, 16]\n")
        var options = TuneOptions()
        (options.trials, options.seed, options.refitTolerance) = (3, 5, -1)
        let tuner = Tuner(config: config, space: try TuneSpace.defaults(for: config).reading(spaceFile), options: options,
                          folder: folder.path + "/tune")
        var notes: [String] = []
        tuner.events.note = { notes.append($0) }
        let result = try tuner.run()
        let best = result.best
        let expected = try #require(best.trainAccuracy)
        #expect(result.finalModel == .replay)
        #expect(result.refitSetAside?.contains(String(format: "%.4f", expected)) == true, "\(result.refitSetAside ?? "nil")")
        #expect(notes.contains { $0.hasPrefix("refit set aside") })
        let tuned = try String(contentsOfFile: folder.path + "/tune/tuned.toml", encoding: .utf8)
        #expect(tuned.contains("restore_best_weights = true") && tuned.contains("validation_split"), "\(tuned)")
        let epochs = try String(contentsOfFile: folder.path + "/tune/final/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(EpochLogs.self, from: Data($0.utf8)) }
        let bestEpoch = try #require(best.bestEpoch)
        #expect(epochs.count == best.epochsRun)
        #expect(epochs[bestEpoch - 1].accuracy == expected)
        #expect(epochs[bestEpoch - 1].valAccuracy == best.valAccuracy)
        let final = try #require(result.final)
        #expect(final.evaluatedOn == "test" && final.testExamples == 24)
        #expect(try String(contentsOfFile: folder.path + "/tune/tune.md", encoding: .utf8).contains("refit set aside"))
    }
}
