import FolioCore
import FolioNN
import FolioShards
import Foundation

/// A run's `report.md` with its plots: `loss.svg` and `accuracy.svg` (training and
/// validation per epoch) and `confusion.svg` (the test split).
struct RunReport {
    let config: PipelineConfig
    let labels: [String]
    let history: [EpochLogs]
    let evaluation: EvaluationResult
    let evaluatedOn: String
    let train: ShardManifest

    func write(to folder: String) throws(FolioError) {
        let epochs = history.map { Double($0.epoch) }
        var loss = LineChart(title: "Loss per epoch", xLabel: "epoch", yLabel: "loss")
        loss.series.append(.init(name: "train", points: Array(zip(epochs, history.map(\.loss)))))
        if history.contains(where: { $0.valLoss != nil }) {
            loss.series.append(.init(name: "validation", points: Array(zip(epochs, history.map { $0.valLoss ?? .nan })), dashed: true))
        }
        var accuracy = LineChart(title: "Accuracy per epoch", xLabel: "epoch", yLabel: "accuracy")
        accuracy.series.append(.init(name: "train", points: Array(zip(epochs, history.map(\.accuracy)))))
        if history.contains(where: { $0.valAccuracy != nil }) {
            accuracy.series.append(.init(name: "validation", points: Array(zip(epochs, history.map { $0.valAccuracy ?? .nan })), dashed: true))
        }
        try writeText(loss.svg(), to: folder + "/loss.svg")
        try writeText(accuracy.svg(), to: folder + "/accuracy.svg")
        if let report = evaluation.report {
            try writeText(ConfusionMatrixChart(title: "Confusion matrix (\(evaluatedOn))", labels: labels, counts: report.confusion).svg(),
                          to: folder + "/confusion.svg")
        }
        try writeText(markdown(), to: folder + "/report.md")
    }

    func markdown() -> String {
        let percent = { (value: Double) in String(format: "%.2f%%", value * 100) }
        var text = "# Run report: \(config.name)\n\n"
        text += "Corpus `\(config.corpus.path)`: \(train.records) training documents, \(train.tokens) tokens, \(labels.count) labels; "
        text += "vocabulary \(train.vocabularySize) ids. Seed \(config.seed).\n\n"
        text += "Model: " + config.model.layers.map { "\($0)" }.joined(separator: " -> ")
        if config.model.ngrams > 1 { text += " (hashed word n-grams up to \(config.model.ngrams), \(config.model.buckets) buckets)" }
        if let subwords = config.model.subwords {
            text += " (character n-grams of \(subwords.minLength) to \(subwords.maxLength), \(config.model.buckets) buckets)"
        }
        text += "\n\nTraining: \(config.training.optimizer.kind.rawValue), micro-batch \(config.loader.batchSize) x "
        text += "\(config.training.accumulationSteps) accumulation steps = virtual batch \(config.loader.batchSize * config.training.accumulationSteps), "
        text += "max length \(config.loader.maxLength), \(history.count) of \(config.training.epochs) epochs.\n\n"
        text += "## Result on the \(evaluatedOn) split\n\n"
        text += "| examples | accuracy | macro-F1 | loss |" + (evaluation.topK == nil ? "" : " top-\(config.evaluation.topK) |") + "\n"
        text += "|---|---|---|---|" + (evaluation.topK == nil ? "" : "---|") + "\n"
        text += "| \(evaluation.examples) | \(percent(evaluation.accuracy)) | \(String(format: "%.4f", evaluation.report?.macroF1 ?? 0)) | "
        text += String(format: "%.4f", evaluation.loss) + " |" + (evaluation.topK.map { " \(percent($0)) |" } ?? "") + "\n\n"
        if let report = evaluation.report {
            text += "| label | precision | recall | F1 | support |\n|---|---|---|---|---|\n"
            for (index, label) in labels.enumerated() where index < report.support.count {
                text += "| \(label) | \(String(format: "%.3f", report.precision[index])) | \(String(format: "%.3f", report.recall[index])) | "
                text += "\(String(format: "%.3f", report.f1[index])) | \(report.support[index]) |\n"
            }
            text += "\n![confusion matrix](confusion.svg)\n\n"
        }
        text += "## Training\n\n![loss](loss.svg)\n![accuracy](accuracy.svg)\n\n"
        text += "| epoch | loss | accuracy | val loss | val accuracy | learning rate | seconds | tokens/s |\n|---|---|---|---|---|---|---|---|\n"
        for logs in history {
            let optional = { (value: Double?) in value.map { String(format: "%.4f", $0) } ?? "" }
            text += "| \(logs.epoch) | \(String(format: "%.4f", logs.loss)) | \(String(format: "%.4f", logs.accuracy)) | \(optional(logs.valLoss)) | "
            text += "\(optional(logs.valAccuracy)) | \(String(format: "%.6g", logs.learningRate)) | \(String(format: "%.1f", logs.seconds)) | "
            text += "\(Int(logs.tokensPerSecond)) |\n"
        }
        return text
    }
}
