import FolioCorpus
import FolioShards
import FolioTestSupport
import FolioText
import Foundation
import Testing
@testable import FolioPipeline

@Suite struct ShardJobTests {
    let corpus = TemporaryFolder()
    let out = TemporaryFolder()
    var texts: [(label: String, text: String)] = []

    init() throws {
        var generator = SplitMix64(seed: 21)
        let words = ["the", "Tree", "ёлка", "U.S.", "3.5", "don't", "ﬁne", "日本語", "café", "x_1", "rare\(0)"]
        for label in ["b-news", "a-sport"] {
            for index in 0..<150 {
                let text = (0..<Int(generator.next() % 200)).map { _ in words[Int(generator.next() % UInt64(words.count))] }
                    .joined(separator: " ")
                texts.append((label, text))
                corpus.write("\(label)/\(String(format: "%04d", index)).txt", text)
            }
        }
        // One document far larger than a read chunk (1 MiB).
        let big = String(repeating: "Ёлка grows in the U.S. forest ", count: 120_000)
        texts.append(("b-news", big))
        corpus.write("b-news/9999.txt", big)
        var options = VocabularyJobOptions()
        options.vocabulary = VocabularyOptions(maxTokens: 8)  // some words become <oov>
        _ = try VocabularyJob.run(corpusPath: corpus.path, outputPath: out.path + "/vocabulary.tsv", options: options)
    }

    func shard(threads: Int, into folder: String) throws -> ShardReport {
        var options = ShardJobOptions()
        options.threads = threads
        options.shardBytes = 4 << 10
        options.blockBytes = 8 << 10
        return try ShardJob.run(
            corpusPath: corpus.path, vocabularyPath: out.path + "/vocabulary.tsv", outputFolder: folder, options: options)
    }

    func records(_ folder: String) throws -> [(label: String, ids: [UInt32])] {
        let set = try ShardSet(folder: folder)
        var result: [(String, [UInt32])] = []
        for shard in set.manifest.shards.indices {
            let reader = try set.reader(forShard: shard)
            for block in reader.blocks.indices {
                try reader.forEachRecord(inBlock: block) { _, label, ids throws(FolioError) in
                    result.append((set.manifest.labels[Int(label)], Array(ids)))
                }
            }
        }
        return result
    }

    @Test func everyDocumentOnceInOrderWithItsLabelAndIds() throws {
        let report = try shard(threads: 2, into: out.path + "/shards")
        let vocabulary = try Vocabulary(contentsOf: out.path + "/vocabulary.tsv")
        let tokenizer = try Tokenizer()
        // Reading order: labels sorted by bytes, files sorted.
        let expected = texts.enumerated().sorted {
            ($0.element.label, $0.offset) < ($1.element.label, $1.offset)
        }.map { entry in
            (entry.element.label, try! tokenizer.tokens(entry.element.text).map { vocabulary.id(for: $0) })
        }
        let found = try records(out.path + "/shards")
        #expect(found.count == expected.count)
        #expect(found.map(\.label) == expected.map(\.0))
        #expect(found.map(\.ids) == expected.map(\.1))
        #expect(report.shards > 1)
        #expect(report.records == texts.count)
        #expect(report.oovTokens == found.reduce(0) { $0 + $1.ids.filter { $0 == Vocabulary.oovID }.count })
        #expect(report.oovTokens > 0)
        try ShardSet(folder: out.path + "/shards").verify()
    }

    @Test func oneAndTwoThreadsWriteIdenticalBytes() throws {
        _ = try shard(threads: 1, into: out.path + "/one")
        _ = try shard(threads: 2, into: out.path + "/two")
        let names = try FileManager.default.contentsOfDirectory(atPath: out.path + "/one").sorted()
        #expect(names == (try FileManager.default.contentsOfDirectory(atPath: out.path + "/two").sorted()))
        #expect(names.count > 2)
        for name in names {
            #expect(try Data(contentsOf: URL(fileURLWithPath: out.path + "/one/" + name))
                == Data(contentsOf: URL(fileURLWithPath: out.path + "/two/" + name)), "\(name)")
        }
    }

    @Test func missingManifestAndForeignVocabularyAreRefused() throws {
        _ = try shard(threads: 2, into: out.path + "/shards")
        let set = try ShardSet(folder: out.path + "/shards")
        #expect(throws: FolioError.self) {
            try set.checkVocabulary(fingerprint: "fnv1a64:0000000000000000", path: "other.tsv")
        }
        try set.checkVocabulary(
            fingerprint: try Vocabulary(contentsOf: out.path + "/vocabulary.tsv").fingerprint, path: "vocabulary.tsv")
        try FileManager.default.removeItem(atPath: out.path + "/shards/manifest.json")
        #expect(throws: FolioError(
            "no manifest.json: not a complete shard set (was sharding interrupted?)", file: out.path + "/shards")) {
            try ShardSet(folder: out.path + "/shards")
        }
    }

    @Test func aFailingRunLeavesNoReadableSet() throws {
        _ = try shard(threads: 2, into: out.path + "/shards")
        try FileManager.default.createSymbolicLink(atPath: corpus.path + "/a-sport/zzzz.txt", withDestinationPath: "/nonexistent")
        #expect(throws: FolioError.self) { try shard(threads: 2, into: out.path + "/shards") }
        #expect(throws: FolioError.self) { try ShardSet(folder: out.path + "/shards") }
    }
}

@Suite struct CorpusToLoaderTests {
    /// The whole road: text files -> vocabulary -> shards -> loader batches.
    @Test func everyDocumentArrivesOncePerEpochWithItsLabel() throws {
        let corpus = TemporaryFolder()
        let out = TemporaryFolder()
        var expected: [String: String] = [:]  // first word (unique) -> label
        for label in ["neg", "pos"] {
            for index in 0..<120 {
                let key = "doc\(label)\(index)"
                expected[key] = label
                corpus.write("\(label)/\(index).txt", "\(key) " + String(repeating: "\(label) words here ", count: index % 30))
            }
        }
        _ = try VocabularyJob.run(corpusPath: corpus.path, outputPath: out.path + "/v.tsv", options: VocabularyJobOptions())
        var options = ShardJobOptions()
        options.shardBytes = 1 << 12
        options.blockBytes = 1 << 10
        _ = try ShardJob.run(corpusPath: corpus.path, vocabularyPath: out.path + "/v.tsv", outputFolder: out.path + "/s", options: options)
        let vocabulary = try Vocabulary(contentsOf: out.path + "/v.tsv")
        let set = try ShardSet(folder: out.path + "/s")
        let loader = try ShardLoader(shards: set, options: LoaderOptions(batchSize: 16, maxLength: 5, memoryBudget: 1 << 16, prefetch: 2))
        for epoch in 0..<2 {
            var seen: [String: String] = [:]
            let iterator = loader.epoch(epoch)
            while let batch = try iterator.next() {
                for row in 0..<batch.rows {
                    let key = vocabulary.tokens[Int(batch.ids[row * batch.length])]
                    #expect(seen.updateValue(set.manifest.labels[Int(batch.labels[row])], forKey: key) == nil, "\(key) twice")
                    #expect(batch.lengths[row] <= 5)
                }
            }
            #expect(seen == expected)
        }
    }

    /// The labels the vocabulary job hands a pipeline's shard job are the ones the shard
    /// job's own label pass finds, for one rank and for each of two (a rank's part of the
    /// file holds only some of the labels), held-out lines included; a folder corpus hands none.
    @Test(arguments: [1, 2])
    func theVocabularyJobsLabelsAreTheLabelPasssLabels(ranks: Int) throws {
        let lines = (0..<40).map { "{\"text\": \"w\($0)\", \"label\": \"\($0 < 20 ? "z" : $0 % 2 == 0 ? "é" : "a")\($0 / 35)\"}" }
        let out = TemporaryFolder()
        let path = out.write("c.jsonl", lines.joined(separator: "\n"))
        let folder = out.path
        let found = try ThreadCommunicator.run(ranks: ranks) { communicator in
            var options = VocabularyJobOptions()
            options.documents = Holdout.documents(fraction: 0.5, keepsHeldOut: false)
            let report = try VocabularyJob.run(corpusPath: path, outputPath: folder + "/v\(communicator.rank).tsv", options: options,
                                               communicator: communicator)
            return (report.corpusLabels, try ShardJob.corpusLabels(path, CorpusOptions(), communicator: communicator))
        }
        for (handed, passed) in found {
            #expect(handed == passed)
            #expect(handed == ["a0", "a1", "z0", "é0", "é1"])
        }
        let corpus = TemporaryFolder()
        corpus.write("pos/1.txt", "good")
        corpus.write("neg/1.txt", "bad")
        let onFolder = try VocabularyJob.run(corpusPath: corpus.path, outputPath: out.path + "/folder.tsv", options: VocabularyJobOptions())
        #expect(onFolder.corpusLabels == nil)
    }
}
