import ArgumentParser
import FolioCore
import FolioPipeline
import FolioShards
import Foundation

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify texts with a trained model: label and probabilities, top-k.",
        discussion: "Each FILE is one text; without files, each line of standard input is one text. Words the vocabulary does not know count as <oov>."
    )

    @Argument(help: "A model folder (runs/<name>/model).") var model: String
    @Argument(help: "Text files, one text each (default: lines of standard input).") var files: [String] = []
    @Option(help: "How many labels to list per text, best first.") var topK = 3
    @OptionGroup var output: OutputOptionGroup

    struct Line: Encodable {
        var source: String
        var prediction: Predictor.Prediction
    }

    func validate() throws {
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
    }

    func run() throws {
        let lines = try runReportingErrors { () throws(FolioError) -> [Line] in
            let predictor = try Predictor(folder: model)
            var texts: [String] = []
            var sources: [String] = []
            if files.isEmpty {
                var number = 0
                while let line = readLine(strippingNewline: true) {
                    number += 1
                    texts.append(line)
                    sources.append("stdin:\(number)")
                }
            } else {
                for file in files {
                    let bytes = try readWholeFile(file)
                    guard let text = String(validating: bytes, as: UTF8.self) else {
                        throw FolioError("not valid UTF-8 text", file: file)
                    }
                    texts.append(text)
                    sources.append(file)
                }
            }
            return zip(sources, try predictor.predict(texts, topK: topK)).map { Line(source: $0, prediction: $1) }
        }
        for line in lines {
            if output.json {
                try printJSON(line)
            } else {
                let top = line.prediction.top.map { "\($0.label) \(String(format: "%.3f", $0.probability))" }.joined(separator: ", ")
                print("\(line.source)\t\(line.prediction.label)\t\(top)"
                      + (line.prediction.tokens == 0 ? "\t(no words: the prior of an empty text)" : ""))
            }
        }
    }
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a trained model on a shard set: accuracy, macro-F1, per-class precision and recall, confusion matrix."
    )

    @Argument(help: "A model folder (runs/<name>/model).") var model: String
    @Argument(help: "A shard set made with the model's vocabulary (folio shard --labels-from, or runs/<name>/shards/test).") var shards: String
    @Option(help: "Batch size.") var batch = 256
    @Option(help: "Also report top-k accuracy.") var topK = 3
    @OptionGroup var output: OutputOptionGroup

    struct Report: Encodable {
        var accuracy: Double
        var macro_f1: Double
        var loss: Double
        var top_k_accuracy: Double?
        var test_examples: Int
        var labels: [String]
        var precision: [Double]
        var recall: [Double]
        var f1: [Double]
        var support: [Int]
        var confusion: [[Int]]
    }

    func run() throws {
        let report = try runReportingErrors { () throws(FolioError) -> Report in
            let (bundle, model, vocabulary) = try ModelBundle.load(from: model)
            let set = try ShardSet(folder: shards)
            try set.checkVocabulary(fingerprint: vocabulary.fingerprint, path: self.model + "/" + ModelBundle.vocabularyFile)
            guard set.manifest.labels == bundle.labels else {
                throw FolioError("the shards' labels \(set.manifest.labels) are not the model's \(bundle.labels) (shard with --labels-from)",
                                 file: shards)
            }
            let loader = try ShardLoader(shards: set, options: LoaderOptions(batchSize: batch, maxLength: bundle.maxLength, shuffle: false))
            let result = try model.evaluate(loader, classes: bundle.labels.count, topK: min(topK, bundle.labels.count))
            let classes = result.report
            return Report(accuracy: result.accuracy, macro_f1: classes?.macroF1 ?? 0, loss: result.loss, top_k_accuracy: result.topK,
                          test_examples: result.examples, labels: bundle.labels, precision: classes?.precision ?? [],
                          recall: classes?.recall ?? [], f1: classes?.f1 ?? [], support: classes?.support ?? [],
                          confusion: classes?.confusion ?? [])
        }
        if output.json { return try printJSON(report) }
        print("accuracy \(String(format: "%.4f", report.accuracy)), macro-F1 \(String(format: "%.4f", report.macro_f1)), "
              + "loss \(String(format: "%.4f", report.loss)) on \(report.test_examples) examples")
        print("label\tprecision\trecall\tf1\tsupport")
        for (index, label) in report.labels.enumerated() {
            print("\(label)\t\(String(format: "%.3f", report.precision[index]))\t\(String(format: "%.3f", report.recall[index]))\t"
                  + "\(String(format: "%.3f", report.f1[index]))\t\(report.support[index])")
        }
        print("confusion (rows: true, columns: predicted)")
        for row in report.confusion { print(row.map(String.init).joined(separator: "\t")) }
    }
}
