import FolioTestSupport
import Foundation
import Testing

/// Unlabeled corpora through `folio vocab` and `folio shard`, refused by training; `folio
/// embed` end to end.
@Suite struct EmbedCommandTests {
    let folder = TemporaryFolder()

    func json(_ run: FolioProcess) throws -> [String: Any] {
        let last = try #require(run.stdout.split(separator: "\n").last, "stderr: \(run.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
    }

    /// A flat folder of .txt files and a JSONL without labels make shard sets without
    /// labels; training on one is refused naming its manifest; a JSONL labelled in part is
    /// refused naming the line.
    @Test func unlabeledCorporaShardWithoutLabelsAndTrainingRefusesThem() throws {
        folder.write("flat/a.txt", "rockets reach orbit")
        folder.write("flat/b.txt", "a violin and a choir")
        folder.write("lines.jsonl", "{\"text\": \"rockets reach orbit\"}\n{\"text\": \"a violin and a choir\"}\n")
        for corpus in ["flat", "lines.jsonl"] {
            let vocabulary = folder.path + "/\(corpus).tsv", shards = folder.path + "/\(corpus)-shards"
            #expect(try FolioProcess(["vocab", folder.path + "/" + corpus, "--out", vocabulary]).status == 0)
            let shard = try FolioProcess(["shard", folder.path + "/" + corpus, "--vocabulary", vocabulary, "--out", shards, "--json"])
            #expect(shard.status == 0, "\(shard.stderr)")
            #expect(try json(shard)["records"] as? Int == 2)
            #expect(try json(shard)["labels"] as? [String] == [])
            let inspect = try FolioProcess(["inspect", shards, "--verify", "--json"])
            #expect(inspect.status == 0, "\(inspect.stderr)")
            let train = try FolioProcess(["train", shards, "--checkpoints", folder.path + "/\(corpus)-checkpoints"])
            #expect(train.status == 1)
            #expect(train.stderr == "folio: error: \(shards)/manifest.json: key labels: the shard set has no labels (made from an unlabeled corpus): training and evaluation need labelled documents\n")
        }
        let mixed = folder.write("mixed.jsonl", "{\"text\": \"rockets\", \"label\": \"astro\"}\n{\"text\": \"violin\"}\n")
        #expect(try FolioProcess(["vocab", mixed, "--out", folder.path + "/mixed.tsv"]).status == 0)
        let shard = try FolioProcess(["shard", mixed, "--vocabulary", folder.path + "/mixed.tsv", "--out", folder.path + "/mixed"])
        #expect(shard.status == 1)
        #expect(shard.stderr.contains("\(mixed):2: the document has no label while others have one"), "\(shard.stderr)")
    }

    /// Vectors from the tiny corpus: the report, both files, the same bytes for the same
    /// seed, another seed's differ, --neighbors reads either file.
    @Test func embedWritesReproducibleVectors() throws {
        try TinyCorpus.write(into: folder.path)
        let data = folder.path + "/data"
        folder.makeFolder("data")
        #expect(try FolioProcess(["vocab", folder.path + "/corpus", "--out", data + "/vocabulary.tsv"]).status == 0)
        #expect(try FolioProcess(["shard", folder.path + "/corpus", "--vocabulary", data + "/vocabulary.tsv", "--out", data + "/shards"]).status == 0)
        // The text as models see it: one line per training record, the corpus's words.
        let tokens = try FolioProcess(["inspect", data + "/shards", "--tokens"])
        #expect(tokens.status == 0, "\(tokens.stderr)")
        let lines = tokens.stdout.split(separator: "\n")
        #expect(lines.count == 90)
        let words = Set(lines.flatMap { $0.split(separator: " ").map(String.init) })
        #expect(words.isSubset(of: ["planet", "orbit", "comet", "galaxy", "violin", "melody", "chord", "choir", "tomato", "basil",
                                    "oven", "garlic", "the", "a", "of", "and", "with", "new", "old"]) && words.contains("planet"), "\(words)")
        func embed(_ out: String, _ extra: [String] = []) throws -> [String: Any] {
            let run = try FolioProcess(["embed", data + "/shards", "--out", folder.path + "/" + out, "--dim", "8", "--epochs", "2",
                                        "--min-count", "1", "--threads", "2", "--json"] + extra)
            #expect(run.status == 0, "\(run.stderr)")
            return try json(run)
        }
        let report = try embed("first")
        #expect(report["dim"] as? Int == 8)
        #expect(report["mode"] as? String == "deterministic")
        #expect((report["words"] as? Int ?? 0) > 10)
        #expect((report["words_read"] as? Int ?? 0) > 0)
        _ = try embed("second.vec")  // the stem without the ending
        _ = try embed("other", ["--seed", "2"])
        _ = try embed("cbow", ["--model", "cbow"])
        let first = try Data(contentsOf: URL(fileURLWithPath: folder.path + "/first.safetensors"))
        #expect(first == (try Data(contentsOf: URL(fileURLWithPath: folder.path + "/second.safetensors"))))
        #expect(first != (try Data(contentsOf: URL(fileURLWithPath: folder.path + "/other.safetensors"))))
        #expect(first != (try Data(contentsOf: URL(fileURLWithPath: folder.path + "/cbow.safetensors"))))
        let text = try String(contentsOfFile: folder.path + "/first.vec", encoding: .utf8)
        #expect(text.hasPrefix("\(report["words"] as? Int ?? -1) 8\n"))
        for file in ["first.safetensors", "first.vec"] {
            let neighbors = try FolioProcess(["embed", "--neighbors", "planet", folder.path + "/" + file, "--top", "3"])
            #expect(neighbors.status == 0, "\(neighbors.stderr)")
            #expect(neighbors.stdout.split(separator: "\n").count == 3)
        }
        let missing = try FolioProcess(["embed", "--neighbors", "nebula", folder.path + "/first.vec"])
        #expect(missing.stderr == "folio: error: \(folder.path)/first.vec: 'nebula' has no vector\n")
        let hogwild = try FolioProcess(["embed", data + "/shards", "--out", folder.path + "/fast", "--min-count", "1", "--hogwild"])
        #expect(hogwild.stdout.contains("hogwild: not reproducible"), "\(hogwild.stdout)")
    }

    @Test func embedWithoutAVocabularyNamesTheShards() throws {
        try TinyCorpus.write(into: folder.path)
        folder.makeFolder("a/b")
        #expect(try FolioProcess(["vocab", folder.path + "/corpus", "--out", folder.path + "/elsewhere.tsv"]).status == 0)
        #expect(try FolioProcess(["shard", folder.path + "/corpus", "--vocabulary", folder.path + "/elsewhere.tsv", "--out", folder.path + "/a/b/shards"]).status == 0)
        let run = try FolioProcess(["embed", folder.path + "/a/b/shards"])
        #expect(run.status == 1)
        #expect(run.stderr == "folio: error: \(folder.path)/a/b/shards: no vocabulary.tsv beside the shards: name it with --vocabulary\n")
    }
}
