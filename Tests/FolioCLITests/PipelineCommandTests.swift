import FolioTestSupport
import Foundation
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

/// `folio run`, `predict`, `eval`, `plan` and `sweep` on a tiny corpus, as a user runs them.
@Suite(.serialized) struct PipelineCommandTests {
    let temporary = TemporaryFolder(prefix: "folio-cli-pipeline-")
    var folder: String { temporary.path }

    init() throws {
        try TinyCorpus.writeRun(into: folder, training: "epochs = 3\nlearning_rate = 0.05")
    }

    func lastJSON(_ run: FolioProcess) throws -> [String: Any] {
        let last = try #require(run.stdout.split(separator: "\n").last, "stdout: \(run.stdout) stderr: \(run.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
    }

    /// Character n-grams from the command line: `folio train --minn` refuses shards made
    /// without unknown words' text, naming a shard and the flag; with `--keep-unknown-text`
    /// (format version 2, verified) it trains, and the model reads an unknown word's letters.
    @Test func subwordsFromShardsThatKeepUnknownText() throws {
        let vocabulary = folder + "/small.tsv"
        #expect(try FolioProcess(["vocab", folder + "/corpus", "--split", "train", "--out", vocabulary, "--max-tokens", "10"]).status == 0)
        for (name, extra) in [("plain", [String]()), ("kept", ["--keep-unknown-text"])] {
            let shard = try FolioProcess(["shard", folder + "/corpus", "--split", "train", "--vocabulary", vocabulary, "--out", folder + "/" + name] + extra)
            #expect(shard.status == 0, "\(shard.stderr)")
        }
        for (name, kept) in [("plain", false), ("kept", true)] {
            let inspect = try FolioProcess(["inspect", folder + "/" + name, "--verify", "--json"])
            #expect(inspect.status == 0, "\(inspect.stderr)")
            #expect(try lastJSON(inspect)["unknown_text"] as? Bool == kept)
        }
        let train = ["train", "--vocabulary", vocabulary, "--minn", "2", "--maxn", "4", "--epochs", "4", "--optimizer", "sgd", "--learning-rate", "0.5"]
        let refused = try FolioProcess(train + [folder + "/plain", "--checkpoints", folder + "/plain-checkpoints"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("/plain/shard-00000.fol: [model] minn and maxn need shards that keep unknown words' text (`folio shard --keep-unknown-text`"),
                "\(refused.stderr)")
        let trained = try FolioProcess(train + [folder + "/kept", "--checkpoints", folder + "/kept-checkpoints", "--out", folder + "/kept-model"])
        #expect(trained.status == 0, "\(trained.stderr)")
        try "galaxyy planetz\nqqqqq yyyyy\n".write(toFile: folder + "/unknown.txt", atomically: true, encoding: .utf8)
        let predict = try FolioProcess(["predict", folder + "/kept-model", "--json", "--top-k", "3"], stdin: folder + "/unknown.txt")
        #expect(predict.status == 0, "\(predict.stderr)")
        let lines = predict.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 2 && lines.allSatisfy { $0["unknown_tokens"] as? Int == 2 })
        #expect(lines[0]["probability"] as? Double != lines[1]["probability"] as? Double, "the letters of the unknown words count")
    }

    @Test func runThenPredictAndEval() throws {
        let run = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", folder + "/run", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try lastJSON(run)
        for key in ["accuracy", "macro_f1", "test_examples", "run_dir", "peak_rss_mb"] { #expect(json[key] != nil, "missing \(key)") }
        #expect(json["test_examples"] as? Int == 24)
        #expect((json["accuracy"] as? Double ?? 0) > 0.5)
        // Progress on a pipe: a line every ten seconds at most, so none of this run's
        // micro-batches (the shards' last line came moments before), and each epoch's line.
        let logged = run.stderr.split(separator: "\n")
        #expect(logged.contains { $0.hasPrefix("shards: ") } && !logged.contains { $0.contains(", batch ") }, "\(run.stderr)")
        #expect(logged.filter { $0.hasPrefix("epoch ") }.count == 3, "\(run.stderr)")

        try "comet orbit galaxy\n\nunheard-of words only\n".write(toFile: folder + "/texts.txt", atomically: true, encoding: .utf8)
        let predict = try FolioProcess(["predict", folder + "/run/model", "--json", "--top-k", "2"], stdin: folder + "/texts.txt")
        #expect(predict.status == 0, "\(predict.stderr)")
        let lines = predict.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 3)
        #expect(lines.map { $0["id"] as? String } == ["stdin:1", "stdin:2", "stdin:3"])
        #expect(lines.first?["label"] as? String == "astro")
        #expect((lines.first?["top"] as? [Any])?.count == 2)
        #expect(lines[1]["tokens"] as? Int == 0)
        #expect((lines[2]["tokens"] as? Int ?? 0) > (lines[2]["unknown_tokens"] as? Int ?? 0) && (lines[2]["unknown_tokens"] as? Int ?? 0) > 0)

        // Bulk: the labeled test split through `predict --out` gives `eval`'s figures.
        let bulk = try FolioProcess(["predict", folder + "/run/model", folder + "/corpus/test", "--out", folder + "/test.jsonl", "--json"])
        #expect(bulk.status == 0, "\(bulk.stderr)")
        let summary = try lastJSON(bulk)
        #expect((summary["report"] as? [String: Any])?["accuracy"] as? Double == json["accuracy"] as? Double)
        #expect((summary["tally"] as? [String: Any])?["documents"] as? Int == 24)

        let eval = try FolioProcess(["eval", folder + "/run/model", folder + "/run/shards/test", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        #expect(try lastJSON(eval)["accuracy"] as? Double == json["accuracy"] as? Double)

        let wrong = try FolioProcess(["eval", folder + "/run/model", folder + "/corpus"])
        #expect(wrong.status != 0 && wrong.stderr.hasPrefix("folio: error: ") && wrong.stderr.split(separator: "\n").count == 1)
    }

    /// The classifier's size from the data: left out, it is the label count; stated wrongly,
    /// the run stops once the shards are made and before training, naming the line.
    @Test func theClassifierIsSizedByTheLabels() throws {
        let text = try String(contentsOfFile: folder + "/tiny.toml", encoding: .utf8)
        try text.replacingOccurrences(of: "units = 3", with: "units = 5").write(toFile: folder + "/five.toml", atomically: true, encoding: .utf8)
        let wrong = try FolioProcess(["run", folder + "/five.toml", "--run-dir", folder + "/five"])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.hasSuffix("folio: error: \(folder)/five.toml: line 15, key model.layers[2].units: the classifier has 5 units but the training split has 3 labels: leave units out (or write \"labels\") to size it by the data\n"),
                "\(wrong.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder + "/five/shards/train/manifest.json"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/five/checkpoints"))
        for (name, units) in [("omitted", ""), ("labels", "units = \"labels\"")] {
            try text.replacingOccurrences(of: "units = 3", with: units).write(toFile: folder + "/\(name).toml", atomically: true, encoding: .utf8)
            let run = try FolioProcess(["run", folder + "/\(name).toml", "--run-dir", folder + "/\(name)", "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            let predict = try FolioProcess(["predict", folder + "/\(name)/model", "--json", "--top-k", "5"], stdin: folder + "/tiny.toml")
            let first = try #require(predict.stdout.split(separator: "\n").first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            #expect((first["top"] as? [Any])?.count == 3, "three classes: \(first)")
        }
    }

    @Test func aTypoedKeyFailsBeforeAnyWork() throws {
        let text = try String(contentsOfFile: folder + "/tiny.toml", encoding: .utf8).replacingOccurrences(of: "epochs = 3", with: "epoch = 3")
        try text.write(toFile: folder + "/typo.toml", atomically: true, encoding: .utf8)
        let run = try FolioProcess(["run", folder + "/typo.toml", "--run-dir", folder + "/typo"])
        #expect(run.status == 1)
        #expect(run.stderr == "folio: error: \(folder)/typo.toml: line 17, key training.epoch: unknown key 'epoch' (this table knows: "
                + "accumulation_steps, amsgrad, beta_1, beta_2, centered, checkpoint_every, checkpoint_seconds, class_weight, clipnorm, clipvalue, decay_epochs, early_stopping, "
                + "epochs, epsilon, global_clipnorm, lazy_embedding_updates, learning_rate, loss, max_samples, max_seconds, model_checkpoint, momentum, nesterov, "
                + "optimizer, reduce_lr_on_plateau, rho, schedule, split_embedding_rows, validation_by, validation_seed, validation_split, weight_decay)\n")
        #expect(!FileManager.default.fileExists(atPath: folder + "/typo"), "nothing was started")
    }

    @Test func planFindsTheLargestFittingMicroBatch() throws {
        let prepared = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", folder + "/plan"])
        #expect(prepared.status == 0)
        let plan = try FolioProcess(["plan", folder + "/tiny.toml", "--run-dir", folder + "/plan", "--memory", "64MB", "--virtual-batch", "1000",
                                     "--json"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let json = try lastJSON(plan)
        let micro = try #require(json["micro_batch"] as? Int)
        let steps = try #require(json["accumulation_steps"] as? Int)
        #expect(micro * steps >= 1000 && micro * (steps - 1) < 1000)
        #expect(Double(json["predicted_peak"] as? Int ?? .max) * 1.1 <= Double(64 << 20))
        // Over 4 ranks: the virtual batch counts every rank's micro-batches, and each rank's
        // peak adds the reduction's buffers.
        let ranks = try FolioProcess(["plan", folder + "/tiny.toml", "--run-dir", folder + "/plan", "--memory", "64MB", "--virtual-batch", "1000",
                                      "--ranks", "4", "--json"])
        let perRank = try lastJSON(ranks)
        let rankMicro = try #require(perRank["micro_batch"] as? Int)
        let rankSteps = try #require(perRank["accumulation_steps"] as? Int)
        #expect(perRank["virtual_batch"] as? Int == 4 * rankMicro * rankSteps && 4 * rankMicro * rankSteps >= 1000)
        let breakdown = try #require(perRank["breakdown"] as? [String: Any])
        #expect((breakdown["reduction"] as? Int ?? 0) > 0 && breakdown["reduction"] as? Int == breakdown["gradients"] as? Int)
        let tooSmall = try FolioProcess(["plan", folder + "/tiny.toml", "--set", "vocabulary.max_tokens=100", "--memory", "100MB"])
        #expect(tooSmall.status == 2 && tooSmall.stdout.contains("does not fit") && tooSmall.stdout.contains("loader 256 MB"))
    }

    @Test func aTinySweepWritesATableAndValidSVG() throws {
        let run = try FolioProcess(["sweep", folder + "/tiny.toml", "--batch-sizes", "4,8", "--accumulate-to", "8", "--seeds", "2",
                                    "--out", folder + "/sweep"])
        #expect(run.status == 0, "\(run.stderr)")
        let table = try String(contentsOfFile: folder + "/sweep/sweep.md", encoding: .utf8)
        let rows = table.split(separator: "\n").filter { $0.hasPrefix("| 4 |") || $0.hasPrefix("| 8 |") }
        #expect(rows.count == 3, "4x1, 8x1, 4x2: \(table)")
        let records = try String(contentsOfFile: folder + "/sweep/sweep.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(records.count == 6)
        for name in ["accuracy-vs-batch.svg", "time-vs-batch.svg", "curves.svg"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/sweep/" + name))
            let parser = XMLParser(data: data)
            #expect(parser.parse(), "\(name) is well-formed XML: \(parser.parserError.map { "\($0)" } ?? "")")
            #expect(String(decoding: data, as: UTF8.self).contains("<polyline"))
        }
    }
}

/// `kill -9` at chosen points (a failpoint makes the process SIGKILL itself there), then the
/// same `folio run` again: the final model equals an uninterrupted run's byte for byte.
@Suite(.serialized) struct KillNineTests {
    let temporary = TemporaryFolder(prefix: "folio-cli-kill-")
    var folder: String { temporary.path }

    init() throws {
        try TinyCorpus.writeRun(into: folder, trainPerLabel: 40, training: """
            epochs = 3
            learning_rate = 0.05
            accumulation_steps = 2
            checkpoint_every = 2
            """)
    }

    /// Machines differ in the OpenBLAS kernels they load (its sums are ordered by kernel
    /// family); an LSTM classifier's training runs none of them, so it gives the same model
    /// whichever OpenBLAS picks: here its SSE3 kernels against its AVX2 ones, forced as a
    /// user would (`OPENBLAS_CORETYPE`, which Folio leaves as set).
    @Test(.enabled(if: (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" avx2") == true,
                   "OpenBLAS's Haswell kernels need AVX2"))
    func theModelIsTheSameWhicheverOpenBLASKernelsLoad() throws {
        let model = { (dir: String) in try Data(contentsOf: URL(fileURLWithPath: dir + "/model/model.safetensors")) }
        for core in ["Prescott", "Haswell"] {
            let run = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", folder + "/blas-" + core], environment: ["OPENBLAS_CORETYPE": core])
            #expect(run.status == 0, "\(run.stderr)")
        }
        #expect(try model(folder + "/blas-Prescott") == model(folder + "/blas-Haswell"))
    }

    @Test(arguments: ["micro-batch:7", "micro-batch:20", "checkpoint-write:2", "checkpoint-write:5", "checkpoint-commit:2"])
    func aKilledRunResumedEqualsAnUninterruptedOne(failpoint: String) throws {
        let reference = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", folder + "/reference"])
        #expect(reference.status == 0)
        let runDir = folder + "/killed-" + failpoint.replacingOccurrences(of: ":", with: "-")
        let killed = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", runDir], environment: ["FOLIO_FAILPOINT": failpoint])
        #expect(killed.terminatedBySignal == SIGKILL, "status \(killed.status)")
        let resumed = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", runDir, "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let model = { (dir: String) in try Data(contentsOf: URL(fileURLWithPath: dir + "/model/model.safetensors")) }
        #expect(try model(runDir) == model(folder + "/reference"))
    }
}

/// `folio sweep` on every shipped pipeline, over the tiny corpus with a budget of a few dozen
/// examples: every run of the sweep must finish (a sweep used to write an early-stopping
/// table into pipelines that had none, and its first run then refused to start).
@Suite struct ShippedPipelineSweepTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let shipped = ((try? FileManager.default.contentsOfDirectory(atPath: root + "/pipelines")) ?? []).filter { $0.hasSuffix(".toml") }.sorted()

    @Test func everyShippedPipelineIsFound() {
        #expect(Self.shipped.count >= 3, "\(Self.shipped)")
    }

    @Test(arguments: ShippedPipelineSweepTests.shipped)
    func sweepRuns(pipeline: String) throws {
        let folder = NSTemporaryDirectory() + "folio-sweep-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TinyCorpus.write(into: folder)
        let path = Self.root + "/pipelines/" + pipeline
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let last = text.components(separatedBy: "[[model.layers]]").count - 2
        var settings = ["corpus.path=\"\(folder)/corpus\"", "model.layers[\(last)].units=\(TinyCorpus.labels.count)", "loader.max_length=16"]
        if text.contains("buckets") { settings.append("model.buckets=1000") }
        let run = try FolioProcess(["sweep", path, "--batch-sizes", "4,8", "--budget", "samples", "--samples", "40", "--out", folder + "/sweep", "--json"]
                                   + settings.flatMap { ["--set", $0] })
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        let records = try #require(try JSONSerialization.jsonObject(with: Data((run.stdout.split(separator: "\n").last ?? "").utf8)) as? [[String: Any]])
        #expect(records.count == 2)
        for record in records {
            #expect(record["failure"] == nil, "\(pipeline): \(record["failure"] ?? "")")
            #expect(record["test_accuracy"] is Double, "\(pipeline): the tiny corpus has a test split")
        }
    }
}
