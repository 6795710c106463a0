import FolioTestSupport
import FolioCore
import Foundation
import Testing
@testable import FolioPipeline

@Suite struct VocabularyJobTests {
    /// A small corpus of varied, multilingual articles in two labels.
    func makeCorpus() -> TemporaryFolder {
        let folder = TemporaryFolder()
        var generator = SplitMix64(seed: 9)
        let words = ["the", "Tree", "ёлка", "U.S.", "3.5", "don't", "ﬁne", "日本語", "café", "x_1", "Straße", "a@b.com"]
        for label in ["news", "sport"] {
            for index in 0..<300 {
                let length = Int(generator.next() % 400) + 1
                let text = (0..<length).map { _ in
                    words[Int(generator.next() % UInt64(words.count))] + "\(generator.next() % 5000)"
                }.joined(separator: index % 2 == 0 ? " " : ", ")
                folder.write("\(label)/\(index).txt", text)
            }
        }
        return folder
    }

    func run(_ corpus: String, threads: Int, memory: Int, out: String) throws -> VocabularyReport {
        var options = VocabularyJobOptions()
        options.threads = threads
        options.memoryBudget = memory
        return try VocabularyJob.run(corpusPath: corpus, outputPath: out, options: options)
    }

    @Test func threadsAndBudgetsGiveIdenticalFiles() throws {
        let corpus = makeCorpus()
        let out = TemporaryFolder()
        let one = try run(corpus.path, threads: 1, memory: 256 << 20, out: out.path + "/1.tsv")
        let two = try run(corpus.path, threads: 2, memory: 256 << 20, out: out.path + "/2.tsv")
        let tiny = try run(corpus.path, threads: 2, memory: 128 << 10, out: out.path + "/tiny.tsv")
        let first = try Data(contentsOf: URL(fileURLWithPath: out.path + "/1.tsv"))
        #expect(first == (try Data(contentsOf: URL(fileURLWithPath: out.path + "/2.tsv"))))
        #expect(first == (try Data(contentsOf: URL(fileURLWithPath: out.path + "/tiny.tsv"))))
        #expect(tiny.spillRuns > two.spillRuns)
        #expect(one.documents == 600 && two.tokens == one.tokens && tiny.tokens == one.tokens)
        #expect(one.vocabularySize == one.distinctTokens + 2)
        // No spill folders or temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["1.tsv", "2.tsv", "tiny.tsv"])
    }

    @Test func aFailedRunLeavesThePreviousVocabularyIntact() throws {
        let corpus = makeCorpus()
        try FileManager.default.createSymbolicLink(
            atPath: corpus.path + "/sport/zz-missing.txt", withDestinationPath: "/nonexistent/file")
        let out = TemporaryFolder()
        let path = out.write("vocabulary.tsv", "<pad>\t0\n<oov>\t0\nold\t1\n")
        #expect(throws: FolioError.self) { try run(corpus.path, threads: 2, memory: 1 << 20, out: path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "<pad>\t0\n<oov>\t0\nold\t1\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["vocabulary.tsv"])
    }

    @Test func emptyCorpusIsAnError() throws {
        let corpus = TemporaryFolder()
        corpus.makeFolder("empty")
        let out = TemporaryFolder()
        #expect(throws: FolioError("the corpus has no documents", file: corpus.path)) {
            try run(corpus.path, threads: 2, memory: 1 << 20, out: out.path + "/v.tsv")
        }
        #expect(!FileManager.default.fileExists(atPath: out.path + "/v.tsv"))
    }
}

@Suite struct BoundedQueueTests {
    /// Regression: a queue released while still holding items crashed in libdispatch
    /// (semaphore freed below its initial value).
    @Test func releasingAQueueThatHoldsItemsIsSafe() {
        var queue: BoundedQueue<Int>? = BoundedQueue(capacity: 4)
        queue!.push(1)
        #expect(queue!.tryPush(2))
        queue = nil
        #expect(queue == nil)
    }

    @Test func tryPushFailsWhenFullAndItemsComeOutInOrder() {
        let queue = BoundedQueue<Int>(capacity: 2)
        #expect(queue.tryPush(1) && queue.tryPush(2))
        #expect(!queue.tryPush(3))
        #expect(queue.tryPop() == 1)
        queue.close()
        #expect(queue.pop() == 2)
        #expect(queue.pop() == nil)
        #expect(queue.tryPop() == nil)
    }
}
