import FolioTestSupport
import Foundation
import Testing

@Suite struct VocabCommandTests {
    let temporary = TemporaryFolder(prefix: "folio-cli-")
    var folder: String { temporary.path }

    init() throws {
        try FileManager.default.createDirectory(atPath: folder + "/corpus/pos", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder + "/corpus/neg", withIntermediateDirectories: true)
        try "A good film, a GOOD film.".write(toFile: folder + "/corpus/pos/1.txt", atomically: true, encoding: .utf8)
        try Data([0x62, 0x61, 0x64, 0x20, 0xFF, 0x20, 0x66, 0x69, 0x6C, 0x6D]).write(to: URL(fileURLWithPath: folder + "/corpus/neg/2.txt"))
        try Data([0x00, 0x01, 0x02]).write(to: URL(fileURLWithPath: folder + "/corpus/neg/3.txt"))
    }

    @Test func jsonIsTheLastLineAndWarningsNameTheFile() throws {
        let run = try FolioProcess(["vocab", folder + "/corpus", "--out", folder + "/v.tsv", "--json", "--threads", "2"])
        #expect(run.status == 0)
        let last = try #require(run.stdout.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        for key in ["documents", "tokens", "bytes", "seconds", "vocabulary_size", "invalid_utf8_replacements"] {
            #expect(json[key] != nil, "missing \(key)")
        }
        #expect(json["documents"] as? Int == 2)
        #expect(json["invalid_utf8_replacements"] as? Int == 1)
        #expect(json["tokens"] as? Int == 8)
        #expect(run.stderr.contains(folder + "/corpus/neg/3.txt: warning: binary file"))
        #expect(try String(contentsOfFile: folder + "/v.tsv", encoding: .utf8).hasPrefix("<pad>\t0\n<oov>\t0\nfilm\t3\n"))
    }

    @Test(arguments: [
        (["vocab", "/nonexistent/corpus"], "folio: error: /nonexistent/corpus: no such file or folder"),
        (["vocab", "CORPUS", "--max-tokens", "1"], "--max-tokens must be at least 2"),
        (["vocab", "CORPUS", "--memory", "lots"], "--memory"),
    ])
    func badInputIsOneLineAndExitStatusNotZero(arguments: [String], message: String) throws {
        let run = try FolioProcess(arguments.map { $0 == "CORPUS" ? folder + "/corpus" : $0 })
        #expect(run.status != 0)
        #expect(run.stderr.contains(message), "stderr: \(run.stderr)")
        if message.hasPrefix("folio: error:") {
            #expect(run.stderr.split(separator: "\n").count == 1, "one line: \(run.stderr)")
        }
    }

    @Test func invalidJSONLNamesFileAndLine() throws {
        let path = folder + "/c.jsonl"
        try "{\"text\": \"fine\"}\n{\"text\": \"broken}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let run = try FolioProcess(["vocab", path, "--out", folder + "/v.tsv"])
        #expect(run.status == 1)
        #expect(run.stderr == "folio: error: \(path): line 2, byte 18: invalid JSON: expected '\"' closing the string\n")
        #expect(!FileManager.default.fileExists(atPath: folder + "/v.tsv"))
    }
}

@Suite struct ShardCommandTests {
    let temporary = TemporaryFolder(prefix: "folio-cli-")
    var folder: String { temporary.path }

    init() throws {
        for (label, text) in [("a", "one two three"), ("b", "two three four five")] {
            try FileManager.default.createDirectory(atPath: folder + "/corpus/" + label, withIntermediateDirectories: true)
            for index in 0..<50 {
                try "\(text) \(index)".write(toFile: folder + "/corpus/\(label)/\(index).txt", atomically: true, encoding: .utf8)
            }
        }
        _ = try FolioProcess(["vocab", folder + "/corpus", "--out", folder + "/v.tsv"])
    }

    @Test func shardThenInspectReportsTheSet() throws {
        let shard = try FolioProcess(["shard", folder + "/corpus", "--vocabulary", folder + "/v.tsv", "--out", folder + "/s", "--json"])
        #expect(shard.status == 0, "\(shard.stderr)")
        let inspect = try FolioProcess(["inspect", folder + "/s", "--verify", "--vocabulary", folder + "/v.tsv", "--json"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        for run in [shard, inspect] {
            let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.split(separator: "\n").last!.utf8)) as? [String: Any])
            #expect(json["records"] as? Int == 100)
            #expect(json["tokens"] as? Int == 50 * 4 + 50 * 5)
            #expect(json["shards"] as? Int == 1)
            #expect((json["bytes_on_disk"] as? Int ?? 0) > 0)
        }
    }

    @Test(arguments: [false, true]) func trainLearnsASeparableCorpusAndReportsJSON(tfidf: Bool) throws {
        _ = try FolioProcess(["shard", folder + "/corpus", "--vocabulary", folder + "/v.tsv", "--out", folder + "/s"])
        let run = try FolioProcess(["train", folder + "/s", "--test", folder + "/s", "--model", "bag", "--epochs", "8",
                                    "--embed", "8", "--checkpoints", folder + "/ck", "--json"] + (tfidf ? ["--tfidf"] : []))
        #expect(run.status == 0, "\(run.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.split(separator: "\n").last!.utf8)) as? [String: Any])
        #expect(json["accuracy"] as? Double == 1.0)
        #expect(json["test_examples"] as? Int == 100)
        #expect(json["macro_f1"] != nil)
        #expect(FileManager.default.fileExists(atPath: folder + "/ck/checkpoint.json"))
        if tfidf {
            let lstm = try FolioProcess(["train", folder + "/s", "--model", "lstm", "--tfidf", "--epochs", "1", "--checkpoints", folder + "/ck2"])
            #expect(lstm.status != 0 && lstm.stderr.contains("TF-IDF weighting needs a global average pooling"), "\(lstm.stderr)")
        }
    }

    @Test func corruptionAndMissingManifestAreOneLineErrors() throws {
        _ = try FolioProcess(["shard", folder + "/corpus", "--vocabulary", folder + "/v.tsv", "--out", folder + "/s"])
        let shard = folder + "/s/shard-00000.fol"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: shard)))
        bytes[20] ^= 0x40  // inside block 0
        try Data(bytes).write(to: URL(fileURLWithPath: shard))
        let verify = try FolioProcess(["inspect", folder + "/s", "--verify"])
        #expect(verify.status == 1)
        #expect(verify.stderr == "folio: error: \(shard): block 0: checksum mismatch (corrupt data)\n")

        try "<pad>\t0\n<oov>\t0\nother\t1\n".write(toFile: folder + "/w.tsv", atomically: true, encoding: .utf8)
        let foreign = try FolioProcess(["inspect", folder + "/s", "--vocabulary", folder + "/w.tsv"])
        #expect(foreign.status == 1 && foreign.stderr.contains("made with another vocabulary"))

        try FileManager.default.removeItem(atPath: folder + "/s/manifest.json")
        let missing = try FolioProcess(["inspect", folder + "/s"])
        #expect(missing.status == 1)
        #expect(missing.stderr == "folio: error: \(folder)/s: no manifest.json: not a complete shard set (was sharding interrupted?)\n")
    }
}

/// `folio train`'s output is a model bundle that `folio predict` and `folio eval` read, with
/// the pipeline configuration it trained by beside it.
@Suite struct TrainCommandBundleTests {
    @Test func trainWritesABundleThatPredictAndEvalRead() throws {
        let folder = NSTemporaryDirectory() + "folio-train-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TinyCorpus.write(into: folder)
        #expect(try FolioProcess(["vocab", folder + "/corpus/train", "--out", folder + "/vocabulary.tsv"]).status == 0)
        try FileManager.default.createDirectory(atPath: folder + "/shards", withIntermediateDirectories: true)
        for split in ["train", "test"] {
            let shard = try FolioProcess(["shard", folder + "/corpus/\(split)", "--vocabulary", folder + "/vocabulary.tsv", "--out", folder + "/shards/\(split)"]
                                         + (split == "test" ? ["--labels-from", folder + "/shards/train"] : []))
            #expect(shard.status == 0, "\(shard.stderr)")
        }
        let train = try FolioProcess(["train", folder + "/shards/train", "--test", folder + "/shards/test", "--epochs", "12", "--embed", "8",
                                      "--optimizer", "adam", "--learning-rate", "0.05", "--validation-split", "0.2", "--patience", "3",
                                      "--checkpoints", folder + "/checkpoints", "--json"])
        #expect(train.status == 0, "\(train.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data((train.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
        #expect(result["model"] as? String == folder + "/model", "the bundle goes beside the checkpoints")
        #expect(result["val_accuracy"] is Double, "a validation split gives validation figures")
        let accuracy = try #require(result["accuracy"] as? Double)
        #expect(accuracy > 0.6)
        let pipeline = try String(contentsOfFile: folder + "/model/pipeline.toml", encoding: .utf8)
        #expect(pipeline.contains("validation_split = 0.2") && pipeline.contains("[training.early_stopping]"), "\(pipeline)")

        let eval = try FolioProcess(["eval", folder + "/model", folder + "/shards/test", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let evaluation = try #require(try JSONSerialization.jsonObject(with: Data((eval.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
        #expect(evaluation["accuracy"] as? Double == accuracy, "eval of the bundle scores what train's own evaluation did")

        try "comet orbit galaxy planet\nviolin melody chord choir\n".write(toFile: folder + "/texts.txt", atomically: true, encoding: .utf8)
        let predict = try FolioProcess(["predict", folder + "/model", "--json"], stdin: folder + "/texts.txt")
        #expect(predict.status == 0, "\(predict.stderr)")
        let labels = predict.stdout.split(separator: "\n").compactMap { line in
            ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["label"] as? String
        }
        #expect(labels == ["astro", "music"])
    }
}
