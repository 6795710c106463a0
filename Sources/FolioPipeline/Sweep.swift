import FolioCore
import Foundation

/// How long each run of a sweep trains.
public enum SweepBudget: Sendable, Hashable {
    /// The pipeline's own epochs.
    case epochs
    /// This many training examples (`training.max_samples`).
    case samples(Int)
    /// This many seconds of training (`training.max_seconds`).
    case seconds(Double)
}

extension PipelineConfig {
    /// One run of a batch-size sweep, as typed edits of this configuration (then validated):
    /// the micro-batch, accumulation steps, seed and learning rate; early stopping switched
    /// off where the pipeline has it (so every setting trains its whole budget); the budget.
    /// - Parameter trainingRecords: the training split's size, to turn a sample budget into
    ///   enough epochs.
    public func sweepRun(
        microBatch: Int, accumulationSteps: Int, seed: UInt64, learningRate: Double, budget: SweepBudget, trainingRecords: Int
    ) throws(FolioError) -> PipelineConfig {
        var config = self
        config.loader.batchSize = microBatch
        config.training.accumulationSteps = accumulationSteps
        config.seed = seed
        config.loader.seed = seed  // as a file's `seed` sets both
        config.training.optimizer.schedule = training.optimizer.schedule.withInitialRate(Float(learningRate))
        config.training.earlyStopping?.patience = 100_000
        config.training.earlyStopping?.restoreBestWeights = false
        switch budget {
        case .epochs: break
        case .samples(let samples):
            config.training.maxSamples = samples
            config.training.epochs = samples / max(1, trainingRecords) + 2
        case .seconds(let seconds):
            config.training.maxSeconds = seconds
            config.training.epochs = 100_000
        }
        try config.validate()
        return config
    }
}

/// One setting of a batch-size sweep and what its run measured.
public struct SweepRecord: Codable, Sendable {
    public var microBatch: Int
    public var accumulationSteps: Int
    public var seed: UInt64
    public var learningRate: Double
    /// The run's outcome; nil figures when it failed (a diverged run, say).
    public var failure: String?
    public var valAccuracy: Double?
    public var valLoss: Double?
    public var bestValAccuracy: Double?
    public var testAccuracy: Double?
    public var testMacroF1: Double?
    public var seconds: Double?
    public var tokensPerSecond: Double?
    public var peakRSSMegabytes: Double?
    public var epochs: Int?
    /// Validation accuracy after each epoch.
    public var curve: [Double]
    public var runDir: String

    public var virtualBatch: Int { microBatch * accumulationSteps }

    public init(microBatch: Int, accumulationSteps: Int, seed: UInt64, learningRate: Double, runDir: String) {
        self.microBatch = microBatch
        self.accumulationSteps = accumulationSteps
        self.seed = seed
        self.learningRate = learningRate
        self.runDir = runDir
        curve = []
    }

    enum CodingKeys: String, CodingKey {
        case seed, failure, seconds, epochs, curve
        case microBatch = "micro_batch", accumulationSteps = "accumulation_steps", learningRate = "learning_rate"
        case valAccuracy = "val_accuracy", valLoss = "val_loss", bestValAccuracy = "best_val_accuracy", testAccuracy = "test_accuracy"
        case testMacroF1 = "test_macro_f1", tokensPerSecond = "tokens_per_s", peakRSSMegabytes = "peak_rss_mb", runDir = "run_dir"
    }

    /// Fills the figures from a finished run's result and its `metrics.jsonl`.
    public mutating func complete(with result: PipelineResult) {
        valAccuracy = result.valAccuracy
        valLoss = result.valLoss
        // A corpus without a test split is evaluated on the validation part: not a test figure.
        testAccuracy = result.isTestEvaluation ? result.accuracy : nil
        testMacroF1 = result.isTestEvaluation ? result.macroF1 : nil
        peakRSSMegabytes = result.peakRSSMegabytes
        let history = (try? String(contentsOfFile: runDir + "/metrics.jsonl", encoding: .utf8))?.split(separator: "\n").compactMap {
            try? JSONDecoder().decode(EpochLogs.self, from: Data($0.utf8))
        } ?? []
        curve = history.compactMap(\.valAccuracy)
        bestValAccuracy = curve.max()
        epochs = history.count
        let trainingSeconds = history.reduce(0) { $0 + $1.seconds }
        seconds = trainingSeconds
        let tokens = history.reduce(0) { $0 + $1.tokensPerSecond * $1.seconds }
        tokensPerSecond = trainingSeconds > 0 ? tokens / trainingSeconds : nil
    }
}

/// `sweep.md`, `sweep.jsonl` and the plots of a sweep: final validation accuracy against the
/// micro-batch size (seed spread as error bars; with accumulation, a second line at the
/// fixed virtual batch), training time against it, and each setting's validation curve.
public struct SweepReport {
    public var name: String
    public var records: [SweepRecord]
    public var budget: String
    public var lrScaling: String
    public var baseBatch: Int
    public var baseLearningRate: Double

    public init(name: String, records: [SweepRecord], budget: String, lrScaling: String, baseBatch: Int, baseLearningRate: Double) {
        self.name = name
        self.records = records
        self.budget = budget
        self.lrScaling = lrScaling
        self.baseBatch = baseBatch
        self.baseLearningRate = baseLearningRate
    }

    /// A setting: micro-batch and accumulation, over seeds.
    struct Group {
        var microBatch: Int
        var accumulationSteps: Int
        var records: [SweepRecord]
        var accumulated: Bool { accumulationSteps > 1 }

        func spread(_ value: (SweepRecord) -> Double?) -> (mean: Double, low: Double, high: Double)? {
            let values = records.compactMap(value)
            guard !values.isEmpty else { return nil }
            return (values.reduce(0, +) / Double(values.count), values.min() ?? 0, values.max() ?? 0)
        }
    }

    var groups: [Group] {
        var groups: [Group] = []
        for record in records {
            if let index = groups.firstIndex(where: { $0.microBatch == record.microBatch && $0.accumulationSteps == record.accumulationSteps }) {
                groups[index].records.append(record)
            } else {
                groups.append(Group(microBatch: record.microBatch, accumulationSteps: record.accumulationSteps, records: [record]))
            }
        }
        return groups.sorted { ($0.accumulated ? 1 : 0, $0.microBatch) < ($1.accumulated ? 1 : 0, $1.microBatch) }
    }

    public func write(to folder: String) throws(FolioError) {
        try writeText(jsonLines(records), to: folder + "/sweep.jsonl")
        try writeText(accuracyChart().svg(), to: folder + "/accuracy-vs-batch.svg")
        try writeText(timeChart().svg(), to: folder + "/time-vs-batch.svg")
        try writeText(curvesChart().svg(), to: folder + "/curves.svg")
        try writeText(markdown(), to: folder + "/sweep.md")
    }

    /// The runs without accumulation, or those at the accumulated virtual batch (the plain
    /// run at that batch included, where the accumulated line ends).
    private func series(_ accumulated: Bool, name: String, _ value: (SweepRecord) -> Double?) -> LineChart.Series? {
        let virtual = groups.first { $0.accumulated }.map { $0.microBatch * $0.accumulationSteps }
        let members = groups.filter { accumulated ? ($0.accumulated || $0.microBatch == virtual) : !$0.accumulated }
            .sorted { $0.microBatch < $1.microBatch }
        let chosen = members.compactMap { group in group.spread(value).map { (group, $0) } }
        guard !chosen.isEmpty else { return nil }
        return LineChart.Series(name: name, points: chosen.map { (Double($0.0.microBatch), $0.1.mean) },
                                spread: chosen.map { ($0.1.low, $0.1.high) }, dashed: accumulated)
    }

    func accumulationLabel() -> String {
        let virtual = groups.first { $0.accumulated }.map { $0.microBatch * $0.accumulationSteps }
        return virtual.map { "accumulated to \($0)" } ?? ""
    }

    func accuracyChart() -> LineChart {
        var chart = LineChart(title: "\(name): final validation accuracy (mean, min-max over seeds)", xLabel: "micro-batch size",
                              yLabel: "validation accuracy", logScaleX: true)
        chart.series = [series(false, name: "virtual = micro-batch", \.valAccuracy),
                        series(true, name: accumulationLabel(), \.valAccuracy)].compactMap { $0 }
        return chart
    }

    func timeChart() -> LineChart {
        var chart = LineChart(title: "\(name): training time", xLabel: "micro-batch size", yLabel: "seconds", logScaleX: true)
        chart.series = [series(false, name: "virtual = micro-batch", \.seconds), series(true, name: accumulationLabel(), \.seconds)].compactMap { $0 }
        return chart
    }

    func curvesChart() -> LineChart {
        var chart = LineChart(title: "\(name): validation accuracy per epoch (first seed)", xLabel: "epoch", yLabel: "validation accuracy")
        for group in groups {
            guard let record = group.records.first, !record.curve.isEmpty else { continue }
            chart.series.append(.init(name: group.accumulated ? "\(group.microBatch) x \(group.accumulationSteps)" : "batch \(group.microBatch)",
                                      points: record.curve.enumerated().map { (Double($0.offset + 1), $0.element) },
                                      dashed: group.accumulated))
        }
        return chart
    }

    public func markdown() -> String {
        let format = { (value: (mean: Double, low: Double, high: Double)?, scale: Double, digits: Int) -> String in
            guard let value else { return "failed" }
            let number = { String(format: "%.\(digits)f", $0 * scale) }
            return value.low == value.high ? number(value.mean) : "\(number(value.mean)) (\(number(value.low))-\(number(value.high)))"
        }
        var text = "# Batch-size sweep: \(name)\n\n"
        text += "Budget: \(budget). Learning rate: \(String(format: "%.4g", baseLearningRate)) at virtual batch \(baseBatch), scaled \(lrScaling). "
        text += "Seeds per setting: \(groups.map { $0.records.count }.max() ?? 0). Figures are means with (min-max) over seeds.\n\n"
        text += "| micro-batch | accumulation | virtual batch | learning rate | val accuracy % | best val accuracy % | test accuracy % | val loss | seconds | tokens/s | peak RSS MB |\n"
        text += "|---|---|---|---|---|---|---|---|---|---|---|\n"
        for group in groups {
            let first = group.records[0]
            text += "| \(group.microBatch) | \(group.accumulationSteps) | \(group.microBatch * group.accumulationSteps) | \(String(format: "%.4g", first.learningRate)) | "
            text += "\(format(group.spread(\.valAccuracy), 100, 2)) | \(format(group.spread(\.bestValAccuracy), 100, 2)) | "
            text += "\(format(group.spread(\.testAccuracy), 100, 2)) | \(format(group.spread(\.valLoss), 1, 3)) | "
            text += "\(format(group.spread(\.seconds), 1, 1)) | \(format(group.spread(\.tokensPerSecond), 1, 0)) | \(format(group.spread(\.peakRSSMegabytes), 1, 0)) |\n"
        }
        let failures = records.filter { $0.failure != nil }
        if !failures.isEmpty {
            text += "\nFailed runs: " + failures.map { "batch \($0.microBatch) x \($0.accumulationSteps), seed \($0.seed): \($0.failure ?? "")" }.joined(separator: "; ") + "\n"
        }
        text += "\n![accuracy](accuracy-vs-batch.svg)\n![time](time-vs-batch.svg)\n![curves](curves.svg)\n"
        return text
    }
}
