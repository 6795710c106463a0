import FolioCore
import FolioNN
import FolioShards
import FolioTestSupport
import Foundation
import Testing
@testable import FolioPipeline

/// `folio predict` over corpora: the figures `folio eval` gives, input order and ids
/// whatever the thread count, JSON that parses back, weights shared between threads.
@Suite struct BulkPredictionTests {
    let tiny = TinyRun()

    func trainedModel() throws -> String {
        let runDir = tiny.folder.path + "/run"
        _ = try PipelineRunner(config: tiny.pipeline(), runDir: runDir).run()
        return runDir + "/model"
    }

    func lines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// The test split read as a corpus gives the evaluation's accuracy and confusion matrix,
    /// with one thread or three, in the same bytes.
    @Test func equalsTheEvaluationOfTheSameDocuments() throws {
        let model = try trainedModel()
        let runDir = tiny.folder.path + "/run"
        let evaluation = try JSONDecoder().decode(EvaluationResult.self, from: Data(contentsOf: URL(fileURLWithPath: runDir + "/evaluation.json")))
        var options = BulkPredictionOptions()
        var outputs: [[UInt8]] = []
        for threads in [1, 3] {
            options.threads = threads
            options.batchSize = 5  // several batches in flight, finished out of order
            let out = tiny.folder.path + "/predictions-\(threads).jsonl"
            let report = try BulkPrediction.run(model: model, inputs: [tiny.folder.path + "/corpus/test"], output: out, options: options)
            let scores = try #require(report.report)
            let expected = try #require(evaluation.report)
            #expect(report.tally.documents == evaluation.examples && report.tally.labeled == evaluation.examples)
            #expect(scores.confusion == expected.confusion)
            #expect(scores.accuracy == evaluation.accuracy && scores.macroF1 == expected.macroF1)
            outputs.append(try bytes(out))
            #expect(!FileManager.default.fileExists(atPath: out + ".part") && !FileManager.default.fileExists(atPath: out + ".part.position"))
        }
        #expect(outputs[0] == outputs[1])
        let parsed = try lines(tiny.folder.path + "/predictions-1.jsonl")
        var confusion = [[Int]](repeating: [0, 0, 0], count: 3)
        for line in parsed {
            let truth = try #require(line["true_label"] as? String)
            #expect((line["id"] as? String)?.contains("/corpus/test/\(truth)/") == true)
            confusion[TinyCorpus.labels.sorted().firstIndex(of: truth)!][TinyCorpus.labels.sorted().firstIndex(of: line["label"] as! String)!] += 1
        }
        #expect(confusion == evaluation.report?.confusion, "the lines themselves add up to the matrix")
    }

    /// JSONL ids (strings, numbers, absent), in input order however the batches finish;
    /// ids with quotes, newlines and control characters survive the hand-written JSON.
    @Test func linesComeInInputOrderWithTheirIds() throws {
        let model = try trainedModel()
        let awkward = "a \"quoted\"\\ id\nwith\tcontrol \u{01} and ünï"
        var input = ""
        var expected: [String] = []
        for index in 0..<40 {
            let text = ["comet orbit planet", "violin chord", "basil oven garlic"][index % 3]
            switch index % 4 {
            case 0:
                input += #"{"text": "\#(text)", "id": "doc-\#(39 - index)"}"# + "\n"
                expected.append("doc-\(39 - index)")
            case 1:
                input += #"{"id": \#(1000 + index), "text": "\#(text)"}"# + "\n"
                expected.append(String(1000 + index))
            case 2:
                input += #"{"text": "\#(text)"}"# + "\n"
                expected.append(tiny.folder.path + "/texts.jsonl:\(index + 1)")
            default:
                let id = String(decoding: try JSONEncoder().encode(awkward + String(index)), as: UTF8.self)
                input += #"{"text": "\#(text)", "id": \#(id)}"# + "\n"
                expected.append(awkward + String(index))
            }
        }
        input += #"{"text": "comet", "id": "held-out", "split": "test"}"# + "\n"
        expected.append("held-out")
        tiny.folder.write("texts.jsonl", input)
        var options = BulkPredictionOptions()
        options.threads = 3
        options.batchSize = 1
        let out = tiny.folder.path + "/ordered.jsonl"
        let report = try BulkPrediction.run(model: model, inputs: [tiny.folder.path + "/texts.jsonl"], output: out, options: options)
        let parsed = try lines(out)
        #expect(parsed.map { $0["id"] as? String } == expected)
        #expect(parsed.map { $0["label"] as? String } == (0..<40).map { ["astro", "music", "cook"][$0 % 3] } + ["astro"])
        #expect(parsed.allSatisfy { $0["true_label"] == nil }, "no label key: no true label")
        #expect(report.report == nil && report.tally.documents == 41, "every split is read unless one is asked for")
        tiny.folder.write("split.jsonl", #"{"text": "oven", "id": "kept", "split": "train"}"# + "\n" + #"{"text": "comet", "id": "held-out", "split": "test"}"#)
        options.corpus.split = "test"
        _ = try BulkPrediction.run(model: model, inputs: [tiny.folder.path + "/split.jsonl"], output: out, options: options)
        #expect(try lines(out).map { $0["id"] as? String } == ["held-out"])
    }

    /// A flat folder, a single file and several inputs in a row: one stream, in order.
    @Test func readsFlatFoldersSingleFilesAndSeveralInputs() throws {
        let model = try trainedModel()
        tiny.folder.write("flat/b.txt", "violin melody")
        tiny.folder.write("flat/a.txt", "comet galaxy")
        let single = tiny.folder.write("one.txt", "tomato basil")
        var stdout: [UInt8] = []
        let collected = Locked<[UInt8]>([])
        var options = BulkPredictionOptions()
        options.jsonLines = false
        _ = try BulkPrediction.run(model: model, inputs: [tiny.folder.path + "/flat", single], output: nil, options: options,
                                   onLines: { lines in collected.withLock { $0 += lines } })
        stdout = collected.withLock { $0 }
        let rows = String(decoding: stdout, as: UTF8.self).split(separator: "\n").map { $0.split(separator: "\t") }
        #expect(rows.map { String($0[0]) } == [tiny.folder.path + "/flat/a.txt", tiny.folder.path + "/flat/b.txt", single])
        #expect(rows.map { String($0[1]) } == ["astro", "music", "cook"])
        let error = try #require(throws: FolioError.self) {
            try BulkPrediction.run(model: model, inputs: [tiny.folder.path + "/missing"], output: nil, options: options)
        }
        #expect(error.file == tiny.folder.path + "/missing")
    }

    /// A document longer than the limit is cut at a character boundary and marked.
    @Test func longDocumentsAreCutAtACharacterAndMarked() throws {
        var text: [UInt8] = []
        #expect(!BulkPrediction.append(Array("ab".utf8), to: &text, limit: 4))
        #expect(BulkPrediction.append(Array("éé".utf8), to: &text, limit: 4), "the second é would end past byte 4")
        #expect(String(validating: text, as: UTF8.self) == "abé")
    }

    /// Threads share one copy of the weights and predict what the original predicts; a
    /// model built to predict only cannot be compiled for training.
    @Test func threadsShareTheWeightsAndPredictAlike() throws {
        let model = try trainedModel()
        let predictor = try Predictor(folder: model)
        let other = try predictor.forAnotherThread()
        #expect(other.model.network.arena === predictor.model.network.arena)
        let texts = ["the comet and the galaxy", "melody of the choir", "", "oven"]
        #expect(try other.predict(texts) == predictor.predict(texts))
        let trained = try ModelBundle.load(from: model, trainable: true).model
        #expect(try trained.predict(TokenBatch(rows: 1, length: 2, ids: [5, 6], lengths: [2])).values
                == predictor.model.predict(TokenBatch(rows: 1, length: 2, ids: [5, 6], lengths: [2])).values)
        #expect(predictor.model.network.arena.gradients.count == 1)
        let error = try #require(throws: FolioError.self) { try predictor.model.compile(optimizer: OptimizerSpec(kind: .sgd, schedule: .constant(0.1))) }
        #expect(error.message.contains("predict only"))
    }

    func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
}
