import FolioCore
import FolioNN
import FolioShards
import FolioText
import Foundation

/// Settings of a ``Tuner``.
public struct TuneOptions: Sendable, Hashable {
    public enum Metric: String, Sendable, Codable, CaseIterable {
        case accuracy
        case macroF1 = "macro_f1"
    }

    /// The validation figure trials are ranked by.
    public var metric = Metric.accuracy
    /// Wall-clock seconds for the search (the trial running when it ends finishes); nil:
    /// no limit, then `trials` bounds the search.
    public var budgetSeconds: Double?
    /// The most configurations to try.
    public var trials: Int?
    public var seed: UInt64 = 1
    /// Trials that ``MemoryModel`` predicts to need more bytes are skipped.
    public var memoryLimit: Int?
    /// Successive halving keeps one trial in this many at each rung, which trains this
    /// many times longer.
    public var reductionFactor = 3
    /// Train the chosen settings again and evaluate them on the test split.
    public var runsFinal = true
    /// How the final model trains: see ``FinalModel``.
    public var finalModel = FinalModel.refit
    /// How far a refit's last epoch's training accuracy may fall below the chosen trial's at
    /// the same epoch before the refit is set aside, unevaluated, and the trial replayed.
    /// A refit has no held-out documents to warn that it went wrong: on the changelog eras a
    /// two-epoch refit ended at 0.457 where its trial had validated at 0.634, and tested 14
    /// points below the same search's earlier choice.
    public var refitTolerance = 0.05
    /// The share of each bracket's configurations after the first drawn near the best trial
    /// so far (``TuneSpace/neighbour(of:_:)``) rather than from the whole space: random
    /// search finds the region, the draws near its best refine it, as fastText's autotune
    /// does around its best configuration. 0: random search alone.
    public var nearBestShare = 0.5
    /// After the search, the chosen settings (as refitted: its kept epochs, no early
    /// stopping) trained again with this many other parts of the training split held out
    /// (`validation_seed` 1...N, the search's fraction and grouping) and scored on them:
    /// documents the search did not choose on, to compare families by (docs/tuning.md). 0: none.
    public var holdouts = 0
    /// Crash tests: `tune-trial` (before each trial runs) and `tune-final`.
    public var failpoints = Failpoints.fromEnvironment()

    public init() {}
}

/// How `folio tune` trains its final model, `tuned.toml`.
public enum FinalModel: String, Sendable, Codable, CaseIterable {
    /// On the whole training split, the validation documents too, for the epochs the chosen
    /// trial kept (scikit-learn's `refit`): nothing is held out, so nothing stops it early.
    /// A pipeline that lowers its learning rate on a validation plateau cannot train without
    /// validation the way its trial did, and is replayed instead.
    case refit
    /// As the chosen trial trained: the same validation split, epochs and early stopping,
    /// keeping the best validation epoch's weights, so the final model is the one the search
    /// measured (on less data).
    case replay
}

/// One trial at one rung: its settings, epochs and validation figures.
public struct TrialRecord: Sendable, Codable, Equatable {
    public var trial: Int
    public var rung: Int
    public var epochs: Int
    public var settings: TrialSettings
    public var valAccuracy: Double?
    public var valMacroF1: Double?
    /// The epoch whose weights the trial kept and was ranked by (1-based): the best by its
    /// early stopping's monitor; a refitted final model trains this many epochs.
    public var bestEpoch: Int?
    /// The running training accuracy of that epoch (what a refit's same epoch is checked
    /// against, ``TuneOptions/refitTolerance``).
    public var trainAccuracy: Double?
    /// The trial this one's settings were drawn near (``TuneSpace/neighbour(of:_:)``); nil:
    /// drawn from the whole space.
    public var drawnNear: Int?
    /// Epochs trained before early stopping ended the trial (``Tuner/trialConfig(_:epochs:)``).
    public var epochsRun: Int?
    public var seconds: Double
    /// Why the trial did not train (the memory limit, a setting the model refused).
    public var skipped: String?

    public func value(of metric: TuneOptions.Metric) -> Double? { metric == .accuracy ? valAccuracy : valMacroF1 }

    /// What trials are ranked by: the metric, then the other validation figure, higher first
    /// (-1 where missing). A validation split of a few hundred documents gives many trials
    /// the same accuracy (three tied at the top rung of the manual pages' bag search, 320 of
    /// 328 pages); macro-F1 then prefers the one better on the rarer classes, where the
    /// earlier trial alone would be an arbitrary pick.
    func ranking(by metric: TuneOptions.Metric) -> (Double, Double) {
        (value(of: metric) ?? -1, value(of: metric == .accuracy ? .macroF1 : .accuracy) ?? -1)
    }

    enum CodingKeys: String, CodingKey {
        case trial, rung, epochs, settings, seconds, skipped
        case valAccuracy = "val_accuracy"
        case valMacroF1 = "val_macro_f1"
        case bestEpoch = "best_epoch"
        case trainAccuracy = "train_accuracy"
        case drawnNear = "drawn_near"
        case epochsRun = "epochs_run"
    }
}

/// The chosen settings' figures on one more holdout (``TuneOptions/holdouts``).
public struct HoldoutScore: Sendable, Codable, Equatable {
    public var seed: Int
    public var valAccuracy: Double
    public var valMacroF1: Double?
    /// The documents held out.
    public var examples: Int

    enum CodingKeys: String, CodingKey {
        case seed, examples
        case valAccuracy = "val_accuracy"
        case valMacroF1 = "val_macro_f1"
    }

    /// One line: the holdouts' mean validation accuracy and each one's; nil for none.
    public static func summary(_ scores: [HoldoutScore]) -> String? {
        guard !scores.isEmpty else { return nil }
        let mean = scores.map(\.valAccuracy).reduce(0, +) / Double(scores.count)
        return String(format: "on %d more holdouts (validation_seed 1-%d): mean validation accuracy %.4f (", scores.count, scores.count, mean)
            + scores.map { String(format: "%.4f", $0.valAccuracy) }.joined(separator: ", ") + ")"
    }
}

/// What a tune chose, and the final model's test figures.
public struct TuneResult: Sendable, Codable {
    public var best: TrialRecord
    public var trials: Int
    public var trialRuns: Int
    public var searchSeconds: Double
    public var tunedPipeline: String
    /// How `tuned.toml` trains (``FinalModel/refit`` may fall back to ``FinalModel/replay``).
    public var finalModel: FinalModel
    /// Why a refit was set aside for the replay (``TuneOptions/refitTolerance``); nil when
    /// none was.
    public var refitSetAside: String?
    /// The chosen settings trained again, evaluated once on the test split.
    public var final: PipelineResult?
    /// The chosen settings on ``TuneOptions/holdouts`` more holdouts; nil when none were asked for.
    public var holdouts: [HoldoutScore]?

    enum CodingKeys: String, CodingKey {
        case best, trials, final, holdouts
        case finalModel = "final_model"
        case refitSetAside = "refit_set_aside"
        case trialRuns = "trial_runs"
        case searchSeconds = "search_seconds"
        case tunedPipeline = "tuned_pipeline"
    }
}

/// `folio tune`: searches a pipeline's hyperparameters on validation data carved from the
/// training split, within a budget, and writes the best as a pipeline file.
///
/// Successive halving over epochs (the synchronous form of ASHA, Li et al. 2018): a bracket
/// draws `factor^R` configurations, trains each a few epochs, keeps the best `1/factor` and
/// trains those `factor` times longer, up to the pipeline's epochs; brackets follow one
/// another until the budget or the trial count is spent. After the first bracket, half of
/// each bracket's configurations are drawn near the best trial so far, half from the whole
/// space (``TuneOptions/nearBestShare``). The data stages run once for all
/// trials (`FOLDER/data`, the test split not even sharded); trials run one at a time, each
/// a ``TrainingSession`` with the pipeline's validation split. Every finished trial is
/// appended to `trials.jsonl` at once, so a killed tune run again with the same settings
/// replays the finished trials and goes on (the draws come from the seed, so the same
/// trials come in the same order). Then `tuned.toml` (the pipeline with the chosen
/// settings, refitted on all training data or trained as the trial was), `tune.md` and
/// `search.svg`; last, unless told not to, `folio run tuned.toml` into `FOLDER/final`: the
/// only time the test split is read.
public final class Tuner {
    public let config: PipelineConfig
    public let space: TuneSpace
    public let options: TuneOptions
    public let folder: String
    public var events = PipelineRunner.Events()
    /// Each trial as it finishes (replayed ones too).
    public var onTrial: (TrialRecord) -> Void = { _ in }

    public init(config: PipelineConfig, space: TuneSpace, options: TuneOptions, folder: String) {
        self.config = config
        self.space = space
        self.options = options
        self.folder = folder
    }

    var trialsPath: String { folder + "/trials.jsonl" }
    /// The search's wall-clock seconds when it ended (its trials' seconds leave out the data
    /// stages and the work between trials): a rerun of a finished tune with the same budget
    /// trains no more trials, one with a larger budget goes on. Absent while a search runs.
    var searchEndedPath: String { folder + "/search-ended" }
    var tunedPath: String { folder + "/tuned.toml" }

    /// Epochs of each rung: the last the space's most, each before it `factor` times fewer.
    static func rungEpochs(maxEpochs: Int, factor: Int) -> [Int] {
        var epochs = [maxEpochs]
        while epochs[0] / factor >= 1 && epochs.count < 4 { epochs.insert(epochs[0] / factor, at: 0) }
        return epochs
    }

    public func run() throws(FolioError) -> TuneResult {
        guard options.trials != nil || options.budgetSeconds != nil else { throw FolioError("give the tune a budget or a number of trials") }
        try makeFolder(folder)
        let previous = try resumableRecords()
        var searched = config
        if searched.training.validationSplit == 0 { searched.training.validationSplit = 0.1 }
        let runner = PipelineRunner(config: searched, runDir: folder + "/data")
        runner.keepsUnknownText = searched.model.subwords != nil || space.ranges.contains { $0.key.needsUnknownText($0.value) }
        runner.events = events
        let (vocabulary, train, validation, trainingConfig) = try runner.prepareTraining()

        let clock = ContinuousClock()
        let started = clock.now
        let ended = previous.isEmpty ? nil : (try? readWholeFile(searchEndedPath)).flatMap { Double(String(decoding: $0, as: UTF8.self)) }
        let spentBefore = max(previous.values.reduce(0) { $0 + $1.seconds }, ended ?? 0)
        let factor = max(2, options.reductionFactor)
        let rungs = Self.rungEpochs(maxEpochs: space.maxEpochs, factor: factor)
        let bracketSize = Int(pow(Double(factor), Double(rungs.count - 1)))
        var random = SplitMix64(seed: options.seed ^ 0x7475_6E65)
        var records: [TrialRecord] = previous.values.sorted { ($0.trial, $0.rung) < ($1.trial, $1.rung) }
        var failpoints = options.failpoints
        var nextTrial = 0
        var runs = 0
        func budgetLeft() -> Bool {
            guard let budget = options.budgetSeconds else { return true }
            return spentBefore + (clock.now - started).seconds < budget
        }
        search: while options.trials.map({ nextTrial < $0 }) ?? true {
            let count = min(bracketSize, (options.trials ?? Int.max) - nextTrial)
            // After the first bracket, half the configurations are drawn near the best trial of
            // the brackets before (only theirs: a resumed tune holds later trials' records too,
            // and must draw as the first run did), half from the whole space.
            let around = Self.best(records.filter { $0.trial < nextTrial }, metric: options.metric)
            var alive = (0..<count).map { offset in
                let near = around.map { random.nextUnit() < options.nearBestShare ? $0 : nil } ?? nil
                return (trial: nextTrial + offset, settings: near.map { space.neighbour(of: $0.settings, &random) } ?? space.sample(&random),
                        near: near?.trial)
            }
            nextTrial += count
            for (rung, epochs) in rungs.enumerated() {
                var scored: [(trial: Int, settings: TrialSettings, near: Int?, record: TrialRecord)] = []
                for candidate in alive {
                    let record: TrialRecord
                    if let done = previous[Key(trial: candidate.trial, rung: rung)] {
                        // The same tune draws the same settings; a record that holds others was
                        // not written by this tune's draws (edited, or a sampler's bug): refused.
                        guard done.settings == candidate.settings else {
                            throw FolioError("other settings than this tune draws for that trial: not this tune's record; "
                                             + "remove the file to search again", file: trialsPath, place: "trial \(candidate.trial), rung \(rung)")
                        }
                        record = done
                    } else {
                        guard budgetLeft() else { break search }
                        failpoints.pass("tune-trial")
                        var trained = runTrial(candidate.trial, rung: rung, epochs: epochs, settings: candidate.settings,
                                               base: trainingConfig, train: train, validation: validation, vocabulary: vocabulary)
                        trained.drawnNear = candidate.near
                        record = trained
                        records.append(record)
                        runs += 1
                        try appendRecord(record)
                    }
                    onTrial(record)
                    scored.append((candidate.trial, candidate.settings, candidate.near, record))
                }
                // The best 1/factor go on (failed trials last).
                scored.sort { Self.ranks($0.record, above: $1.record, by: options.metric) }
                alive = scored.prefix(max(1, scored.count / factor)).filter { $0.record.value(of: options.metric) != nil }.map { ($0.trial, $0.settings, $0.near) }
                if alive.isEmpty { break }
            }
            if !budgetLeft() { break }
        }
        guard let best = Self.best(records, metric: options.metric) else {
            throw FolioError("no trial finished within the budget: give the tune more time", file: trialsPath)
        }
        let searchSeconds = spentBefore + (clock.now - started).seconds
        try writeText(String(searchSeconds), to: searchEndedPath)
        var (tuned, finalModel) = tunedConfig(best, searched: searched)
        try writeText(try tuned.toml(), to: tunedPath)
        var result = TuneResult(best: best, trials: Set(records.map(\.trial)).count, trialRuns: records.count,
                                searchSeconds: searchSeconds, tunedPipeline: tunedPath, finalModel: finalModel)
        if options.holdouts > 0 {
            result.holdouts = try scoreOnHoldouts(tunedConfig(best, searched: searched, finalModel: .refit).0, searched: searched,
                                                  keepsUnknownText: runner.keepsUnknownText)
        }
        try writeReport(records, result: result)
        failpoints.pass("tune-final")
        if options.runsFinal {
            // The final model's peak, not the trials' (on the changelogs the tune's process had
            // peaked at 875 MB; the final model alone needs 224). The trials' freed buffers go
            // back first: the heap keeps them for reuse, and a peak restarts at what is resident.
            FreedMemoryReuse.release()
            restartPeakResident()
            var final = finalRunner(tuned)
            var trained = try final.runTraining()
            if finalModel == .refit, let shortfall = Self.refitShortfall(trained.history, trial: best, tolerance: options.refitTolerance) {
                events.note(shortfall)
                result.refitSetAside = shortfall
                (tuned, finalModel) = tunedConfig(best, searched: searched, finalModel: .replay)
                result.finalModel = finalModel
                try writeText(try tuned.toml(), to: tunedPath)
                final = finalRunner(tuned)
                trained = try final.runTraining()
            }
            result.final = try final.runEvaluation(trained)
            try writeReport(records, result: result)
        }
        return result
    }

    /// ``TuneOptions/holdouts``: `tuned` trained on the training split with each other part
    /// held out and scored on it, in `FOLDER/holdout-N` (removed after: a set of shards
    /// each). Like the search, it never reads the test split.
    func scoreOnHoldouts(_ tuned: PipelineConfig, searched: PipelineConfig, keepsUnknownText: Bool) throws(FolioError) -> [HoldoutScore] {
        var scores: [HoldoutScore] = []
        for seed in 1...options.holdouts {
            var config = tuned
            config.training.validationSplit = searched.training.validationSplit
            config.training.validationByGroup = searched.training.validationByGroup
            config.training.validationSeed = seed
            let runDir = folder + "/holdout-\(seed)"
            let runner = PipelineRunner(config: config, runDir: runDir)
            runner.keepsUnknownText = keepsUnknownText
            runner.events = events
            let (vocabulary, train, validation, trainingConfig) = try runner.prepareTraining()
            let (evaluation, _) = try Self.trainAndValidate(trainingConfig, train: train, validation: validation, vocabulary: vocabulary)
            let score = HoldoutScore(seed: seed, valAccuracy: evaluation.accuracy, valMacroF1: evaluation.report?.macroF1,
                                     examples: validation?.manifest.records ?? 0)
            events.note(String(format: "validation_seed %d (%d documents held out): validation accuracy %.4f", seed, score.examples, score.valAccuracy))
            scores.append(score)
            try? FileManager.default.removeItem(atPath: runDir)
        }
        return scores
    }

    /// Trains `config` from scratch on `train` and evaluates the result on `validation`.
    static func trainAndValidate(_ config: PipelineConfig, train: ShardSet, validation: ShardSet?, vocabulary: Vocabulary)
        throws(FolioError) -> (EvaluationResult, Trainer)
    {
        let session = try TrainingSession(config: config, train: train, validation: validation, vocabularySize: vocabulary.count,
                                          checkpoints: nil, metrics: nil, tokens: vocabulary.tokens)
        try session.trainer.fit(resume: false)
        guard let validation = session.validation else { throw FolioError("no validation documents to evaluate on") }
        return (try session.model.evaluate(validation, classes: train.manifest.labels.count), session.trainer)
    }

    /// `tuned.toml`'s run, in `FOLDER/final`.
    func finalRunner(_ tuned: PipelineConfig) -> PipelineRunner {
        let final = PipelineRunner(config: tuned, runDir: folder + "/final")
        final.events = events
        final.pipelineFile = tunedPath
        return final
    }

    /// Why a refit's training must not stand for the chosen trial: its last epoch's training
    /// accuracy more than `tolerance` below the trial's at that epoch (the refit trains as
    /// many epochs as the trial kept, on more documents, so it should reach at least as
    /// high). Nil when it does, or when the trial's record predates the figure.
    static func refitShortfall(_ history: [EpochLogs], trial: TrialRecord, tolerance: Double) -> String? {
        guard let expected = trial.trainAccuracy, let last = history.last, last.accuracy < expected - tolerance else { return nil }
        return String(format: "refit set aside: its epoch %d ended at training accuracy %.4f, more than %.2f below trial %d's %.4f at that epoch; "
                      + "the trial is replayed instead", last.epoch, last.accuracy, tolerance, trial.trial, expected)
    }

    struct Key: Hashable {
        var trial: Int
        var rung: Int
    }

    /// The best trial: the highest rung any trial reached, then ``ranks(_:above:by:)``.
    static func best(_ records: [TrialRecord], metric: TuneOptions.Metric) -> TrialRecord? {
        records.filter { $0.value(of: metric) != nil }.max { $0.rung != $1.rung ? $0.rung < $1.rung : ranks($1, above: $0, by: metric) }
    }

    /// Whether `record` ranks above `other`: by ``TrialRecord/ranking(by:)``, then the earlier trial.
    static func ranks(_ record: TrialRecord, above other: TrialRecord, by metric: TuneOptions.Metric) -> Bool {
        let (left, right) = (record.ranking(by: metric), other.ranking(by: metric))
        return (left.0, left.1, -record.trial) > (right.0, right.1, -other.trial)
    }

    /// One trial: trains `epochs` epochs from scratch and evaluates on the validation split.
    func runTrial(
        _ trial: Int, rung: Int, epochs: Int, settings: TrialSettings, base: PipelineConfig, train: ShardSet, validation: ShardSet?,
        vocabulary: Vocabulary
    ) -> TrialRecord {
        let clock = ContinuousClock()
        let started = clock.now
        var record = TrialRecord(trial: trial, rung: rung, epochs: epochs, settings: settings, seconds: 0)
        let config = Self.trialConfig(base.applying(settings, epochs: epochs), epochs: epochs)
        if let limit = options.memoryLimit {
            let needed = MemoryModel.estimate(config: config, vocabularySize: vocabulary.count, microBatch: config.loader.batchSize,
                                              trainShards: train.manifest, keepsBestWeightsInMemory: true).total
            if needed > limit {
                record.skipped = "needs about \(needed >> 20) MB, more than the \(limit >> 20) MB allowed"
                return record
            }
        }
        do throws(FolioError) {
            let (evaluation, trainer) = try Self.trainAndValidate(config, train: train, validation: validation, vocabulary: vocabulary)
            record.valAccuracy = evaluation.accuracy
            record.valMacroF1 = evaluation.report?.macroF1
            // The epoch whose weights early stopping restored, as it recorded it.
            record.bestEpoch = trainer.callbacks.lazy.compactMap { $0 as? EarlyStopping }.first?.state["best_epoch"].map { Int($0) }
            let history = trainer.history
            record.epochsRun = history.count
            record.trainAccuracy = record.bestEpoch.flatMap { history.indices.contains($0 - 1) ? history[$0 - 1] : nil }?.accuracy
                ?? history.last?.accuracy
        } catch {
            record.skipped = error.description
        }
        record.seconds = (clock.now - started).seconds
        return record
    }

    /// A trial's training: early stopping on the validation loss (Keras's default monitor)
    /// that restores the best epoch's weights, so a trial past its best stops instead of
    /// spending the budget on the rest of its rung; it is ranked by the accuracy of the
    /// weights it keeps, and a refit trains that epoch's count. The loss, not the accuracy,
    /// picks the epoch: on a few hundred validation documents accuracy moves by whole
    /// documents, and its first peak is often a blip (trained 16 epochs on its tune's holdout,
    /// the manual pages' chosen bag peaked at epoch 4, two pages above every later epoch,
    /// while the loss fell to the last; with the loss picking each trial's epoch, the tune
    /// chose settings that validated 1.25 points higher on six other holdouts:
    /// bench/results/2026-12-06-trial-monitor-zen4.md). Patience: a fifth of the rung's
    /// epochs, at least 2. A pipeline's own early stopping is kept, made to restore its
    /// best weights.
    static func trialConfig(_ config: PipelineConfig, epochs: Int) -> PipelineConfig {
        var config = config
        var stopping = config.training.earlyStopping ?? .init(monitor: "val_loss", patience: max(2, epochs / 5))
        stopping.restoreBestWeights = true
        config.training.earlyStopping = stopping
        return config
    }

    /// The pipeline with the best trial's settings and how it trains (``FinalModel``). A
    /// refit trains the trial's kept epochs with its schedule as it ran (a cosine over the
    /// rung's epochs still ends where the trial's did at that epoch).
    func tunedConfig(_ best: TrialRecord, searched: PipelineConfig, finalModel requested: FinalModel? = nil) -> (PipelineConfig, FinalModel) {
        var tuned = Self.trialConfig(config.applying(best.settings, epochs: best.epochs), epochs: best.epochs)
        tuned.name = config.name + "-tuned"
        tuned.training.validationSplit = searched.training.validationSplit
        var finalModel = FinalModel.replay
        if (requested ?? options.finalModel) == .refit, !(tuned.training.reduceLROnPlateau?.monitor.hasPrefix("val_") ?? false) {
            finalModel = .refit
            tuned.training.epochs = best.bestEpoch ?? best.epochs
            tuned.training.validationSplit = 0
            tuned.training.validationByGroup = nil
            tuned.training.validationSeed = nil
            tuned.training.earlyStopping = nil
            if tuned.training.checkpointMonitor?.hasPrefix("val_") ?? false { tuned.training.checkpointMonitor = nil }
        }
        // The file lands in the tune's folder: its paths must not depend on where it is.
        return (tuned.withAbsolutePaths(), finalModel)
    }

    /// The finished trials of an earlier run of the same tune (the same pipeline, space,
    /// metric, seed and scheduling); another tune's are removed.
    func resumableRecords() throws(FolioError) -> [Key: TrialRecord] {
        let identity = try tuneIdentity()
        let identityPath = folder + "/tune.json"
        let recorded = (try? readWholeFile(identityPath)).map { String(decoding: $0, as: UTF8.self) }
        guard recorded == identity else {
            unlink(trialsPath)
            unlink(searchEndedPath)
            try writeText(identity, to: identityPath)
            return [:]
        }
        var records: [Key: TrialRecord] = [:]
        guard let text = try? readWholeFile(trialsPath) else { return [:] }
        for line in text.split(separator: 0x0A) {
            // A line cut short by a kill is the last one: the trial runs again.
            guard let record = try? JSONDecoder().decode(TrialRecord.self, from: Data(line)) else { continue }
            records[Key(trial: record.trial, rung: record.rung)] = record
        }
        return records
    }

    func tuneIdentity() throws(FolioError) -> String {
        struct Identity: Encodable {
            var pipeline: PipelineConfig
            var space: TuneSpace
            var metric: String
            var seed: UInt64
            var trials: Int?
            var factor: Int
            /// Trials stop early (``trialConfig(_:epochs:)``); records of tunes whose trials
            /// trained their whole rung are not mixed in.
            var trialsStopEarly = true
            /// Where the tune's own early stopping applies, its trials keep the epoch of the
            /// lowest validation loss; records of tunes that kept the highest accuracy's are
            /// not mixed in. Absent for a pipeline's own early stopping, whose trials are as
            /// they were.
            var trialsKeepLowestLoss: Bool?
            /// Later brackets draw near the best trial too; records of tunes that drew every
            /// configuration from the whole space hold other trials under the same numbers.
            var nearBestShare: Double
        }
        let identity = Identity(pipeline: config, space: space, metric: options.metric.rawValue, seed: options.seed, trials: options.trials,
                                factor: options.reductionFactor,
                                trialsKeepLowestLoss: config.training.earlyStopping == nil ? true : nil, nearBestShare: options.nearBestShare)
        return String(decoding: config.canonicalJSON(identity), as: UTF8.self)
    }

    /// Appends one record and syncs it: a kill loses at most the trial that was running.
    func appendRecord(_ record: TrialRecord) throws(FolioError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let line = try? encoder.encode(record) else { throw FolioError("cannot encode a trial record", file: trialsPath) }
        let descriptor = open(trialsPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FolioError("cannot open: \(FolioError.systemMessage(errno))", file: trialsPath) }
        defer { close(descriptor) }
        let bytes = [UInt8](line) + [0x0A]
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else {
            throw FolioError("cannot write: \(FolioError.systemMessage(errno))", file: trialsPath)
        }
    }
}
