import ArgumentParser
import FolioCore
import FolioPipeline
import Foundation

extension TuneOptions.Metric: ExpressibleByArgument {}
extension FinalModel: ExpressibleByArgument {}

/// A wall-clock budget: `90s`, `10m`, `2h`, or seconds.
struct WallClockBudget: ExpressibleByArgument {
    var seconds: Double
    init?(argument: String) {
        let units: [(String, Double)] = [("h", 3600), ("m", 60), ("s", 1)]
        for (suffix, scale) in units where argument.hasSuffix(suffix) {
            guard let value = Double(argument.dropLast()), value > 0 else { return nil }
            seconds = value * scale
            return
        }
        guard let value = Double(argument), value > 0 else { return nil }
        seconds = value
    }
}

/// Searches a pipeline's hyperparameters on validation data and writes the best as a
/// pipeline file, as fastText's `-autotune-validation` does for its model.
struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Search a pipeline's hyperparameters on a validation split within a budget; write tuned.toml, trials.jsonl, tune.md and search.svg, then train tuned.toml and test it once.",
        discussion: """
            Trials are ranked on validation data carved from the training split (the pipeline's validation_split, 10 % when it \
            has none); the test split is read once, by the final model. Successive halving over epochs; the data stages run \
            once. Run the same command again after a kill to go on. --space FILE replaces ranges (docs/tuning.md).
            """
    )

    @OptionGroup var pipeline: PipelineOptionGroup
    @Option(help: "Wall-clock budget of the search, e.g. 10m, 90s, 1h.") var budget: WallClockBudget?
    @Option(help: "The most configurations to try (deterministic for a seed, unlike a time budget).") var trials: Int?
    @Option(help: "Rank trials by validation accuracy or macro_f1.") var metric = TuneOptions.Metric.accuracy
    @Option(help: "A TOML file of ranges that replace the defaults.") var space: String?
    @Option(help: "Seed of the search's draws.") var seed: UInt64 = 1
    @Option(help: "Skip trials predicted to need more memory than this (default: half the machine's).") var memory: ByteSize?
    @Option(help: "The tune's folder (default: runs/<pipeline name>-tune).") var out: String?
    @Option(help: "Train the final model on all training data for the chosen trial's kept epochs (refit), or as the trial trained (replay).")
    var final = FinalModel.refit
    @Flag(help: "Stop after writing tuned.toml (no final training, no test split).") var searchOnly = false
    @Option(help: "Score the chosen settings on this many more validation holdouts (validation_seed 1...N), to compare families by.")
    var holdouts = 0
    @OptionGroup var output: OutputOptionGroup

    func validate() throws {
        if budget == nil && trials == nil { throw ValidationError("give --budget (e.g. 10m) or --trials N") }
        if let trials, trials < 1 { throw ValidationError("--trials must be at least 1") }
        if !(0...100).contains(holdouts) { throw ValidationError("--holdouts must be in 0...100, not \(holdouts)") }
    }

    func run() throws {
        let display = ProgressDisplay(title: "tune")
        let (result, tuneSpace) = try runReportingErrors(display, resumeHint: "; run the same command again to go on") { () throws(FolioError) -> (TuneResult, TuneSpace) in
            let config = try pipeline.read()
            var tuneSpace = TuneSpace.defaults(for: config)
            if let space { tuneSpace = try tuneSpace.reading(space) }
            var options = TuneOptions()
            options.metric = metric
            options.budgetSeconds = budget?.seconds
            options.trials = trials
            options.seed = seed
            options.memoryLimit = memory?.bytes ?? Int(ProcessInfo.processInfo.physicalMemory / 2)
            options.runsFinal = !searchOnly
            options.finalModel = final
            options.holdouts = holdouts
            let tuner = Tuner(config: config, space: tuneSpace, options: options, folder: out ?? "runs/\(config.name)-tune")
            tuner.events = display.pipelineEvents()
            tuner.onTrial = { record in
                let figure = record.value(of: metric).map { String(format: "%.4f", $0) } ?? "skipped"
                display.note("trial \(record.trial), rung \(record.rung) (\(record.epochs) epochs): validation \(metric.rawValue) \(figure), "
                    + record.settings.values.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%g", $0.value))" }.joined(separator: ", "))
            }
            return (try tuner.run(), tuneSpace)
        }
        let best = result.best
        print("chose trial \(best.trial) (\(best.epochs) epochs): validation \(metric.rawValue) "
            + "\(best.value(of: metric).map { String(format: "%.4f", $0) } ?? "?") after \(result.trials) configurations in "
            + "\(String(format: "%.0f", result.searchSeconds)) s; written to \(result.tunedPipeline)")
        if let edges = tuneSpace.edgeNote(for: best.settings) { print("chosen " + edges) }
        if let holdouts = result.holdouts, let line = HoldoutScore.summary(holdouts) { print(line) }
        if let final = result.final {
            print("final model (\(result.finalModel.rawValue)): \(final.evaluatedOn) accuracy \(String(format: "%.4f", final.accuracy)), macro-F1 \(String(format: "%.4f", final.macroF1)) "
                + "on \(final.testExamples) documents; report: \(final.runDir)/report.md")
        }
        if output.json { try printJSON(result) }
    }
}
