import FolioCore
import FolioShards
import FolioTestSupport
import Foundation
import Testing
@testable import FolioPipeline

/// The search's draws after its first bracket: near the best trial so far, and the same when
/// a tune is run again over its own records.
@Suite struct TunerSearchTests {
    let folder = TemporaryFolder()

    init() throws {
        try TinyCorpus.writeRun(into: folder.path, model: TinyCorpus.bagModel.replacingOccurrences(of: "units = 3", with: ""),
                                training: "epochs = 3\nlearning_rate = 0.05")
    }

    /// Six configurations in two brackets of three (rungs of 1 and 3 epochs), every one after
    /// the first bracket drawn near its best.
    func tuner(_ out: String, holdouts: Int = 0, budget: Double? = nil) throws -> Tuner {
        let config = try PipelineConfig.read(path: folder.path + "/tiny.toml")
        let spaceFile = folder.write("small.toml", "[dim]\nvalues = [8, 16, 32]\n[buckets]\nvalues = [1000]\n[batch_size]\nvalues = [8, 16]\n")
        var options = TuneOptions()
        (options.trials, options.seed, options.nearBestShare, options.runsFinal, options.holdouts) = (6, 3, 1, false, holdouts)
        if let budget { (options.trials, options.budgetSeconds) = (nil, budget) }
        return Tuner(config: config, space: try TuneSpace.defaults(for: config).reading(spaceFile), options: options, folder: folder.path + "/" + out)
    }

    func records(_ out: String) throws -> [TrialRecord] {
        try String(contentsOfFile: folder.path + "/\(out)/trials.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(TrialRecord.self, from: Data($0.utf8)) }
    }

    /// `holdouts`: the chosen settings as refitted, trained again with `validation_seed` 1
    /// and 2 holding out other documents: each score is what that pipeline's own run gives
    /// on its held-out part, and the test split is never read (no test shards anywhere).
    @Test func theChosenSettingsAreScoredOnMoreHoldoutsWithoutReadingTheTestSplit() throws {
        let result = try tuner("holdouts", holdouts: 2).run()
        let scores = try #require(result.holdouts)
        #expect(scores.map(\.seed) == [1, 2])
        let tuneFolder = folder.path + "/holdouts"
        #expect(!FileManager.default.fileExists(atPath: tuneFolder + "/data/shards/test"))
        #expect(!FileManager.default.fileExists(atPath: tuneFolder + "/holdout-1"), "removed once scored")
        let report = try String(contentsOfFile: tuneFolder + "/tune.md", encoding: .utf8)
        #expect(report.contains(try #require(HoldoutScore.summary(scores))))
        for score in scores {
            var config = try PipelineConfig.read(path: tuneFolder + "/tuned.toml")
            (config.training.validationSplit, config.training.validationSeed) = (0.1, score.seed)
            let runner = PipelineRunner(config: config, runDir: folder.path + "/check-\(score.seed)")
            let trained = try runner.runTraining()
            #expect(trained.history.last?.valAccuracy == score.valAccuracy, "holdout \(score.seed)")
            #expect(try ShardSet(folder: runner.validationShards).manifest.records == score.examples)
        }
    }

    /// A finished tune run again with the same time budget reads its trials back and trains
    /// no more: its trials' seconds leave out the work between them, and a rerun that went by
    /// those alone trained another trial (seen on the message catalogs' finished tune). A
    /// larger budget goes on searching.
    @Test func aFinishedTuneRunAgainWithItsBudgetTrainsNoMoreTrials() throws {
        let first = try tuner("timed", budget: 1.5).run()
        let trials = try String(contentsOfFile: folder.path + "/timed/trials.jsonl", encoding: .utf8)
        let again = try tuner("timed", budget: 1.5).run()
        #expect(try String(contentsOfFile: folder.path + "/timed/trials.jsonl", encoding: .utf8) == trials)
        #expect(again.best == first.best && again.trialRuns == first.trialRuns)
        let longer = try tuner("timed", budget: 3).run()
        #expect(longer.trialRuns > first.trialRuns)
    }

    /// A pipeline without early stopping of its own (the bag's) has its trials keep the epoch
    /// of the lowest validation loss, not the first highest accuracy (a blip on a few hundred
    /// documents); each trial is ranked by that epoch's accuracy. Replayed from its settings,
    /// every trial's kept epoch is its history's lowest loss. A tune of such trials does not
    /// read back records of trials that kept another epoch (a changed identity).
    @Test func trialsWithoutTheirOwnEarlyStoppingKeepTheEpochOfTheLowestValidationLoss() throws {
        let tuner = try tuner("monitor")
        #expect(Tuner.trialConfig(tuner.config, epochs: 10).training.earlyStopping?.monitor == "val_loss")
        #expect(try tuner.tuneIdentity().contains("\"trialsKeepLowestLoss\":true"))
        _ = try tuner.run()
        var searched = tuner.config
        searched.training.validationSplit = 0.1
        let replay = PipelineRunner(config: searched, runDir: folder.path + "/replay")
        replay.keepsUnknownText = true  // as the tune's own data: the space draws subwords
        let (vocabulary, train, validation, base) = try replay.prepareTraining()
        var moved = 0
        for record in try records("monitor") where (record.epochsRun ?? 0) > 1 {
            let config = Tuner.trialConfig(base.applying(record.settings, epochs: record.epochs), epochs: record.epochs)
            let (evaluation, trainer) = try Tuner.trainAndValidate(config, train: train, validation: validation, vocabulary: vocabulary)
            let losses = trainer.history.compactMap(\.valLoss)
            #expect(losses.count == trainer.history.count)
            let lowest = try #require(losses.indices.min { losses[$0] < losses[$1] }) + 1
            #expect(record.bestEpoch == lowest, "trial \(record.trial) rung \(record.rung)")
            #expect(record.valAccuracy == evaluation.accuracy)
            let accuracies = trainer.history.compactMap(\.valAccuracy)
            if let highest = accuracies.indices.max(by: { accuracies[$0] < accuracies[$1] }), highest + 1 != lowest { moved += 1 }
        }
        #expect(moved > 0, "some trial's lowest loss is not its highest accuracy's epoch, or this test could not tell the two apart")
        // A pipeline that stops early by its own setting keeps it, and its tunes' identity.
        var own = tuner.config
        own.training.earlyStopping = .init(monitor: "val_accuracy", patience: 3)
        #expect(Tuner.trialConfig(own, epochs: 10).training.earlyStopping?.monitor == "val_accuracy")
        #expect(try !Tuner(config: own, space: tuner.space, options: tuner.options, folder: folder.path + "/own").tuneIdentity().contains("trialsKeepLowestLoss"))
    }

    /// Trials tied on the metric rank by the other validation figure, then the earlier trial
    /// goes first; a higher rung outranks any figure of a lower one; a trial without figures
    /// (skipped) ranks last.
    @Test func tiesOnTheMetricGoToTheOtherFigureThenToTheEarlierTrial() {
        let settings = TrialSettings()
        let record = { (trial: Int, rung: Int, accuracy: Double?, f1: Double?) in
            TrialRecord(trial: trial, rung: rung, epochs: 1, settings: settings, valAccuracy: accuracy, valMacroF1: f1, seconds: 1)
        }
        let tied = [record(2, 1, 0.9, 0.7), record(5, 1, 0.9, 0.8), record(7, 1, 0.9, 0.8), record(1, 1, 0.85, 0.95), record(0, 1, nil, nil)]
        #expect(Tuner.best(tied, metric: .accuracy)?.trial == 5)
        #expect(Tuner.best(tied, metric: .macroF1)?.trial == 1)
        #expect(Tuner.best(tied + [record(9, 2, 0.5, 0.5)], metric: .accuracy)?.trial == 9)
        #expect(tied.sorted { Tuner.ranks($0, above: $1, by: .accuracy) }.map(\.trial) == [5, 7, 2, 1, 0])
        // Tied on macro-F1: accuracy decides.
        #expect(Tuner.best([record(3, 1, 0.8, 0.9), record(4, 1, 0.85, 0.9)], metric: .macroF1)?.trial == 4)
    }

    /// `tune.md` names the chosen settings that sit at an end of their ranges (dim drawn from
    /// 8, 16 and 32), and says nothing of the kind when none does.
    @Test func theReportNamesChosenSettingsAtTheEndsOfTheirRanges() throws {
        let tuner = try tuner("edges")
        try FileManager.default.createDirectory(atPath: tuner.folder, withIntermediateDirectories: true)
        for (dim, named) in [(32.0, true), (16.0, false)] {
            var settings = TrialSettings()
            settings.values = ["dim": dim, "buckets": 1000, "batch_size": 8]
            let record = TrialRecord(trial: 0, rung: 0, epochs: 3, settings: settings, valAccuracy: 0.5, seconds: 1)
            let result = TuneResult(best: record, trials: 1, trialRuns: 1, searchSeconds: 1, tunedPipeline: "tuned.toml", finalModel: .refit)
            try tuner.writeReport([record], result: result)
            let report = try String(contentsOfFile: tuner.folder + "/tune.md", encoding: .utf8)
            #expect(report.contains("at the edge of the space: dim 32 (the highest of 8, 16, 32)") == named, "dim \(dim)")
            #expect(report.contains("at the edge of the space") == named, "dim \(dim)")
        }
    }

    @Test func laterBracketsDrawNearTheBestTrialAndARerunDrawsTheSame() throws {
        let first = try tuner("tune")
        let result = try first.run()
        let records = try records("tune")
        #expect(Set(records.map(\.trial)) == Set(0..<6))
        let best = try #require(Tuner.best(records.filter { $0.trial < 3 }, metric: .accuracy))
        for trial in 3..<6 {
            let settings = try #require(records.first { $0.trial == trial }?.settings)
            #expect(records.filter { $0.trial == trial }.allSatisfy { $0.drawnNear == best.trial })
            #expect(settings != best.settings)
            for (parameter, range) in first.space.ranges {
                let (from, to) = (try #require(best.settings.values[parameter.rawValue]), try #require(settings.values[parameter.rawValue]))
                switch range {
                case .logUniform(let low, let high): #expect(abs(log(to) - log(from)) <= (log(high) - log(low)) / 4 + 1e-12)
                case .values(let values):
                    let (i, j) = (try #require(values.firstIndex(of: from)), try #require(values.firstIndex(of: to)))
                    #expect(abs(i - j) <= 1, "trial \(trial), \(parameter): \(from) -> \(to)")
                }
            }
        }
        #expect(records.filter { $0.trial < 3 }.allSatisfy { $0.drawnNear == nil })
        let report = try String(contentsOfFile: folder.path + "/tune/tune.md", encoding: .utf8)
        #expect(report.contains("(drawn near trial \(best.trial))"))
        // The chosen trial's settings at an end of their ranges are named (dim is drawn from three).
        if let edges = first.space.edgeNote(for: result.best.settings) {
            #expect(report.contains(edges))
        } else {
            #expect(!report.contains("at the edge of the space"))
        }
        // Run again over its own records (every trial's, the second bracket's too): the same
        // draws, nothing trained again, the same choice.
        let written = try String(contentsOfFile: folder.path + "/tune/trials.jsonl", encoding: .utf8)
        let again = try tuner("tune").run()
        #expect(try String(contentsOfFile: folder.path + "/tune/trials.jsonl", encoding: .utf8) == written)
        #expect(again.best == result.best)
        // A record whose settings are not what this tune draws for its trial is refused,
        // naming the file and the trial.
        let edited = written.split(separator: "\n").map { line in
            line.contains("\"trial\":4,") ? line.replacingOccurrences(of: "\"buckets\":1000", with: "\"buckets\":2000") : String(line)
        }
        try (edited.joined(separator: "\n") + "\n").write(toFile: folder.path + "/tune/trials.jsonl", atomically: true, encoding: .utf8)
        let error = try #require(throws: FolioError.self) { try tuner("tune").run() }
        #expect(error.place == "trial 4, rung 0" && error.file?.hasSuffix("trials.jsonl") == true, "\(error)")
    }
}
