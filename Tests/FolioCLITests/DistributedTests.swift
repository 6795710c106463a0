import FolioCore
import FolioShards
import FolioTestSupport
import Foundation
import Testing

/// `mpirun -np N folio ...` on this machine (loopback): the distributed jobs give the
/// one-process results. Open MPI is a dependency (`make deps`), so a missing `mpirun`
/// fails here rather than skipping.
@Suite struct DistributedTests {
    let folder = TemporaryFolder()

    init() throws {
        #expect(FileManager.default.isExecutableFile(atPath: FolioProcess.mpirun), "no \(FolioProcess.mpirun): run make deps")
        try TinyCorpus.write(into: folder.path, trainPerLabel: 40)
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// A JSONL corpus with test lines, a blank line and lines of other splits, so that the
    /// ranks' ordinals include lines none of them reads.
    func writeJSONL() -> String {
        var lines: [String] = []
        var random = SplitMix64(seed: 9)
        let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "straße", "naïve"]
        for index in 0..<157 {
            let text = (0..<(3 + Int(random.next() % 9))).map { _ in words[Int(random.next() % UInt64(words.count))] }.joined(separator: " ")
            let split = index % 5 == 0 ? "test" : "train"
            lines.append(#"{"text": "\#(text)", "label": "l\#(index % 4)", "split": "\#(split)"}"#)
            if index == 40 { lines.append("") }
        }
        return folder.write("corpus.jsonl", lines.joined(separator: "\n") + "\n")
    }

    @Test(arguments: [2, 3])
    func theVocabularyIsTheOneProcessFileByteForByte(ranks: Int) throws {
        for corpus in [folder.path + "/corpus", writeJSONL()] {
            let single = try FolioProcess(["vocab", corpus, "--out", folder.path + "/one.tsv", "--json"])
            #expect(single.status == 0, "\(single.stderr)")
            let many = try FolioProcess(ranks: ranks, ["vocab", corpus, "--out", folder.path + "/many.tsv", "--threads", "1", "--json"])
            #expect(many.status == 0, "\(many.stderr)")
            #expect(try bytes(folder.path + "/one.tsv") == bytes(folder.path + "/many.tsv"), "\(corpus)")
            // Rank 0 alone reports, with every rank's documents and tokens.
            let reports = many.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }
            #expect(reports.count == 1)
            let report = try #require(try JSONSerialization.jsonObject(with: Data((reports.first ?? "").utf8)) as? [String: Any])
            let alone = try #require(try JSONSerialization.jsonObject(with: Data((single.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
            for key in ["documents", "tokens", "distinct_tokens", "vocabulary_size"] {
                #expect(report[key] as? Int == alone[key] as? Int, "\(key)")
            }
            // No rank left a spill folder behind.
            let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(".folio-spill") }
            #expect(left.isEmpty)
        }
    }

    /// Every record of a shard set as (label name, ids), sorted: the set as a multiset.
    func records(_ folder: String) throws -> [String] {
        let set = try ShardSet(folder: folder)
        var records: [String] = []
        for shard in set.manifest.shards.indices {
            let reader = try set.reader(forShard: shard)
            for block in reader.blocks.indices {
                try reader.forEachRecord(inBlock: block) { _, label, ids in
                    records.append(set.manifest.labels[Int(label)] + ":" + ids.map(String.init).joined(separator: ","))
                }
            }
        }
        return records.sorted()
    }

    @Test(arguments: [2, 3])
    func theShardsHoldTheOneProcessRecordsAndVerify(ranks: Int) throws {
        for corpus in [folder.path + "/corpus", writeJSONL()] {
            let vocabulary = folder.path + "/vocabulary.tsv"
            #expect(try FolioProcess(["vocab", corpus, "--out", vocabulary]).status == 0)
            let single = try FolioProcess(["shard", corpus, "--vocabulary", vocabulary, "--out", folder.path + "/one", "--shard-size", "64KB", "--json"])
            #expect(single.status == 0, "\(single.stderr)")
            for run in ["many", "again"] {
                let many = try FolioProcess(ranks: ranks, ["shard", corpus, "--vocabulary", vocabulary, "--out", folder.path + "/" + run,
                                                           "--shard-size", "64KB", "--threads", "1", "--json"])
                #expect(many.status == 0, "\(many.stderr)")
                #expect(many.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }.count == 1)
            }
            let manifest = try ShardManifest.read(folder: folder.path + "/many")
            #expect(Set(manifest.shards.map { $0.file.prefix(10) }).count == ranks, "every rank wrote shards: \(manifest.shards.map(\.file))")
            #expect(try records(folder.path + "/many") == records(folder.path + "/one"))
            #expect(manifest.labels == (try ShardManifest.read(folder: folder.path + "/one")).labels)
            // Deterministic for a given N: a second run writes the same manifest.
            #expect(try bytes(folder.path + "/many/manifest.json") == bytes(folder.path + "/again/manifest.json"))
            let verify = try FolioProcess(["inspect", folder.path + "/many", "--verify"])
            #expect(verify.status == 0 && verify.stdout.contains("verified"), "\(verify.stderr)")
        }
    }
}
