import FolioCore
import Foundation

extension Tuner {
    /// `tune.md` (every trial, the choice, the final test figures) and `search.svg` (each
    /// rung's validation figure by trial).
    func writeReport(_ records: [TrialRecord], result: TuneResult) throws(FolioError) {
        let metricName = options.metric == .accuracy ? "accuracy" : "macro-F1"
        func figure(_ value: Double?) -> String { value.map { String(format: "%.4f", $0) } ?? "" }
        func settings(_ trial: TrialSettings) -> String {
            trial.values.sorted { $0.key < $1.key }.map { key, value in
                // A parameter with names (schedule, weighting) shows the name, not its number.
                let parameter = TuneSpace.Parameter(rawValue: key)
                let name = parameter?.names.first { $0.value == value }?.key
                return "\(key) \(name ?? parameter?.shown(value) ?? String(format: "%g", value))"
            }
                .joined(separator: ", ")
        }
        let best = result.best
        var lines = [
            "# Tune of `\(config.name)`", "",
            "Ranked by validation \(metricName) (\(Int(config.training.validationSplit > 0 ? config.training.validationSplit * 100 : 10)) % of the training split, "
                + "whole documents held out before the vocabulary); \(result.trials) configurations, \(result.trialRuns) trial runs, "
                + "\(String(format: "%.0f", result.searchSeconds)) s of search"
                + (options.budgetSeconds.map { " (budget \(String(format: "%.0f", $0)) s)" } ?? "") + ", seed \(options.seed).", "",
            "**Chosen:** trial \(best.trial) at rung \(best.rung) (\(best.epochs) epochs, best at epoch \(best.bestEpoch.map(String.init) ?? "?")): "
                + "validation accuracy \(figure(best.valAccuracy)), macro-F1 \(figure(best.valMacroF1)); \(settings(best.settings)). "
                + "Written to `tuned.toml`: " + (result.finalModel == .refit
                    ? "\(best.bestEpoch ?? best.epochs) epochs on the whole training split, validation documents included."
                    : "\(best.epochs) epochs on the trial's training documents, keeping the best validation epoch's weights"
                        + (options.finalModel == .refit
                            ? " (\(result.refitSetAside ?? "not refitted: its learning rate follows a validation plateau"))." : ".")), "",
        ]
        if let edges = space.edgeNote(for: best.settings) { lines += ["**Chosen " + edges + ".**", ""] }
        if let holdouts = result.holdouts, let line = HoldoutScore.summary(holdouts) {
            lines += ["**The chosen settings " + line + "**: documents the search did not choose on; compare families by this.", ""]
        }
        if let final = result.final {
            lines += ["**Final model** (`tuned.toml` trained again, `final/`): \(final.evaluatedOn) accuracy "
                + "\(String(format: "%.4f", final.accuracy)), macro-F1 \(String(format: "%.4f", final.macroF1)) on \(final.testExamples) documents: "
                + "the test split's only reading, after the search.", ""]
        }
        lines += ["![search](search.svg)", "", "| trial | rung | epochs | settings | val accuracy | val macro-F1 | seconds |", "|---:|---:|---:|---|---:|---:|---:|"]
        for record in records.sorted(by: { ($0.trial, $0.rung) < ($1.trial, $1.rung) }) {
            lines.append("| \(record.trial) | \(record.rung) | \(record.epochs) | \(record.skipped.map { "skipped: \($0)" } ?? settings(record.settings))\(record.drawnNear.map { " (drawn near trial \($0))" } ?? "") | "
                + "\(figure(record.valAccuracy)) | \(figure(record.valMacroF1)) | \(String(format: "%.1f", record.seconds)) |")
        }
        try writeText(lines.joined(separator: "\n") + "\n", to: folder + "/tune.md")

        var chart = LineChart(title: "Validation \(metricName) by trial", xLabel: "trial", yLabel: "validation \(metricName)")
        for rung in Set(records.map(\.rung)).sorted() {
            let points = records.filter { $0.rung == rung }.sorted { $0.trial < $1.trial }
                .compactMap { record in record.value(of: options.metric).map { (x: Double(record.trial), y: $0) } }
            if !points.isEmpty { chart.series.append(.init(name: "rung \(rung) (\(records.first { $0.rung == rung }?.epochs ?? 0) epochs)", points: points)) }
        }
        try writeText(chart.svg(), to: folder + "/search.svg")
    }
}
