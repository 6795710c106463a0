import ArgumentParser
import FolioCore
import FolioPipeline
import FolioShards
import Foundation

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Label texts with a trained model: one line per document, in input order; bulk, resumable.",
        discussion: """
            INPUT is any corpus Folio reads: a folder (label folders, or text files directly in it), a .jsonl or \
            .jsonl.zst file (its "id" key, when present, names each line), any other file as one text, or - for \
            the lines of standard input (the default). Words the vocabulary does not know count as <oov>.

            With --out, the lines go to that file, which appears complete at the end; an interrupted run (Ctrl-C, \
            a kill) is continued by running the same command again. When the input has labels, the summary \
            gives accuracy and macro-F1 (the figures folio eval gives).
            """
    )

    @Argument(help: "A model folder (runs/<name>/model).") var model: String
    @Argument(help: "Corpora, files or - (default: lines of standard input).") var inputs: [String] = []
    @Option(help: "Write JSON lines to this file (atomically; resumable) instead of standard output.") var out: String?
    @Option(help: "Predicting threads (each with its own copy of the model).") var threads = 2
    @Option(help: "Documents per forward pass.") var batch = 64
    @Option(help: "How many labels to list per text, best first.") var topK = 3
    @Option(help: "Only this split: a subfolder of a folder corpus, or a JSONL split key's value (default: every line of a JSONL file).")
    var split: String?
    @Flag(help: "Discard an unfinished earlier run of --out instead of continuing it.") var restart = false
    @Option(help: .hidden) var commitSeconds = 2.0
    @OptionGroup var output: OutputOptionGroup

    func validate() throws {
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be between 1 and 256") }
        guard (1...65_536).contains(batch) else { throw ValidationError("--batch must be between 1 and 65536") }
        guard commitSeconds >= 0 else { throw ValidationError("--commit-seconds must be at least 0") }
    }

    func run() throws {
        let signals = InterruptSignals()
        let display = out == nil ? nil : ProgressDisplay(title: "predict")
        var options = BulkPredictionOptions()
        options.threads = threads
        options.batchSize = batch
        options.topK = topK
        options.restart = restart
        options.corpus.split = split
        options.commitSeconds = commitSeconds
        options.jsonLines = output.json || out != nil
        options.measureTotal = display?.showsBar ?? false
        options.stopRequest = out == nil ? nil : signals.stopRequest
        let report = try runReportingErrors(display) { () throws(FolioError) -> BulkPredictionReport in
            try signals.stopRequest.listening { () throws(FolioError) -> BulkPredictionReport in
                try BulkPrediction.run(
                    model: model, inputs: inputs.isEmpty ? ["-"] : inputs, output: out, options: options,
                    onLines: { lines in ProcessInfoLite.writeOutput(lines) },
                    onWarning: { ProcessInfoLite.printError($0) },
                    onProgress: display.map { display in { display.update($0) } })
            }
        }
        let tally = report.tally
        if out != nil && output.json { return try printJSON(report) }
        var lines: [String] = []
        if let out {
            lines.append("\(tally.documents) documents in \(String(format: "%.1f", report.seconds)) s "
                         + "(\(Int(report.documentsPerSecond)) documents/s) -> \(out)"
                         + (report.resumedAfter > 0 ? ", continuing after \(report.resumedAfter)" : ""))
        }
        if let scores = report.report {
            lines.append("accuracy \(String(format: "%.4f", scores.accuracy)), macro-F1 \(String(format: "%.4f", scores.macroF1)) "
                         + "on \(tally.labeled) labeled documents"
                         + (tally.unknownLabels > 0 ? " (\(tally.unknownLabels) more had labels the model does not know)" : ""))
        }
        if tally.truncatedDocuments > 0 {
            lines.append("\(tally.truncatedDocuments) documents were longer than 1 MiB: only their first MiB was read")
        }
        // Without --out, standard output carries the predictions alone.
        for line in lines { if out == nil { ProcessInfoLite.printError(line) } else { print(line) } }
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
            let (bundle, model, vocabulary) = try ModelBundle.load(from: model, trainable: false)
            let set = try ShardSet(folder: shards)
            try set.checkVocabulary(fingerprint: vocabulary.fingerprint, path: self.model + "/" + ModelBundle.vocabularyFile)
            guard set.manifest.labels == bundle.labels else {
                throw FolioError("the shards' labels \(set.manifest.labels) are not the model's \(bundle.labels) (shard with --labels-from)",
                                 file: shards)
            }
            let ranks = Ranks.communicator
            let loader = try ShardLoader(shards: set, options: LoaderOptions(batchSize: batch, maxLength: bundle.maxLength, shuffle: false,
                                                                             rank: ranks.rank, worldSize: ranks.size))
            let result = try model.evaluate(loader, classes: bundle.labels.count, topK: min(topK, bundle.labels.count), communicator: ranks)
            let classes = result.report
            return Report(accuracy: result.accuracy, macro_f1: classes?.macroF1 ?? 0, loss: result.loss, top_k_accuracy: result.topK,
                          test_examples: result.examples, labels: bundle.labels, precision: classes?.precision ?? [],
                          recall: classes?.recall ?? [], f1: classes?.f1 ?? [], support: classes?.support ?? [],
                          confusion: classes?.confusion ?? [])
        }
        guard Ranks.prints else { return }
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
