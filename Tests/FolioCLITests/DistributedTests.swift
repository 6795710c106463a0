import FolioCore
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
}
