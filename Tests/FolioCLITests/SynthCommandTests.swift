import FolioTestSupport
import Foundation
import Testing

@Suite struct SynthCommandTests {
    let folder = TemporaryFolder()

    /// Regression: with 10 classes and every 10th article in the test split, the test split
    /// held one class only (the training split none of it), and the pipelines over it
    /// stopped at the test shards with "label 'c9' is not one of the shard set's labels".
    @Test(arguments: [(10, 10), (4, 6), (3, 5)])
    func everySplitHoldsEveryClass(classes: Int, testEvery: Int) throws {
        let out = folder.path + "/synth.jsonl"
        let run = try FolioProcess(["synth", "--out", out, "--articles", "600", "--classes", String(classes), "--test-every", String(testEvery),
                                    "--median-length", "20"])
        #expect(run.status == 0, "\(run.stderr)")
        var labels: [String: Set<String>] = [:]
        var counts: [String: Int] = [:]
        for line in try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let split = try #require(object["split"] as? String)
            labels[split, default: []].insert(try #require(object["label"] as? String))
            counts[split, default: 0] += 1
        }
        #expect(labels["train"]?.count == classes && labels["test"]?.count == classes)
        let share = Double(counts["test"] ?? 0) / 600
        #expect(abs(share - 1 / Double(testEvery)) < 0.05, "test share \(share)")
    }
}
