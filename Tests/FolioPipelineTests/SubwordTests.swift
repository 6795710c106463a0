import FolioCore
import FolioNN
import FolioShards
import FolioTestSupport
import FolioText
import Foundation
import Testing
@testable import FolioPipeline

/// Character n-grams (`[model] minn`, `maxn`): the n-grams are fastText's, the hashes an
/// independent FNV-1a's, and unknown words' n-grams reach the model the same way through
/// shards (training, evaluation) and through raw text (prediction).
@Suite struct SubwordTests {
    /// fastText's `get_subwords` of a few words (Tests/FolioPipelineTests/Fixtures).
    struct Fixture: Decodable {
        let subwords: [String: [String: [String]]]
    }

    /// 32-bit FNV-1a of a whole string, written out separately from the incremental one.
    static func fnv1a(_ text: String) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return hash
    }

    /// Each word's hashes are those of fastText's n-gram strings, as multisets, for three
    /// (minn, maxn) pairs and words of one- to three-byte characters.
    @Test func nGramsAreFastTextsAndHashesAreFNV1a() throws {
        let url = try #require(Bundle.module.url(forResource: "fasttext_subwords", withExtension: "json", subdirectory: "Fixtures"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        #expect(fixture.subwords.count == 3)
        for (lengths, words) in fixture.subwords {
            let parts = lengths.split(separator: "-").compactMap { Int($0) }
            let hashing = SubwordHashing(minLength: parts[0], maxLength: parts[1])
            for (word, grams) in words {
                #expect(hashing.hashes(of: word.utf8).sorted() == grams.map(Self.fnv1a).sorted(), "\(lengths) \(word)")
            }
        }
        #expect(Self.fnv1a("") == 2_166_136_261 && Self.fnv1a("a") == 0xE40C_292C, "FNV-1a's published check values")
    }

    /// A vocabulary's table holds each token's hashes, none for `<pad>` and `<oov>`; a row's
    /// subword ids follow its word ids: known tokens' from the table, unknown ones' from their
    /// text in order, an unknown token without text none.
    @Test func featuresAppendEachTokensNGramsAfterTheWords() throws {
        let hashing = SubwordHashing(minLength: 2, maxLength: 3)
        let tokens = ["<pad>", "<oov>", "cat", "dog"]
        let table = SubwordTable(hashing: hashing, tokens: tokens)
        #expect(table.hashes(of: 0).isEmpty && table.hashes(of: 1).isEmpty && table.hashes(of: 9).isEmpty)
        #expect(Array(table.hashes(of: 3)) == hashing.hashes(of: "dog".utf8))
        let subwords = SubwordFeatures(table: table, buckets: 50)
        let features = InputFeatures(subwords: subwords)
        let batch = tokenBatch([[2, 1, 3], [1, 1]])
        let expanded = features(batch, unknownText: [["mouse"], ["emu"]])
        let ids = { (words: [String]) in words.flatMap { hashing.hashes(of: $0.utf8).map { UInt32(4 + Int($0 % 50)) } } }
        let first = [2, 1, 3] + ids(["cat", "mouse", "dog"])
        let second = [1, 1] + ids(["emu"])  // the second unknown token has no text
        #expect(expanded.lengths == [Int32(first.count), Int32(second.count)])
        #expect(Array(expanded.ids[0..<first.count]) == first)
        #expect(Array(expanded.ids[expanded.length..<expanded.length + second.count]) == second)
        #expect(expanded.ids[expanded.length + second.count..<2 * expanded.length].allSatisfy { $0 == 0 }, "padding stays 0")
        #expect(subwords.inputDim == 54)
        // A sequence model: the same ids, per position, the rows unchanged.
        let perPosition = InputFeatures(subwords: SubwordFeatures(table: table, buckets: 50, perPosition: true))(batch, unknownText: [["mouse"], ["emu"]])
        #expect(perPosition.ids == batch.ids && perPosition.lengths == batch.lengths)
        let extra = try #require(perPosition.extraIDs)
        let runs = [["cat"], ["mouse"], ["dog"], ["emu"], [], []].map(ids)
        #expect(extra.ids == runs.flatMap(\.self))
        #expect(extra.offsets == runs.reduce(into: [Int32(0)]) { $0.append($0.last! + Int32($1.count)) })
    }

    func bagPipeline(_ folder: TemporaryFolder, subwords: String = "minn = 2\nmaxn = 4", lstm: Bool = false) throws -> PipelineConfig {
        try TinyCorpus.write(into: folder.path, trainPerLabel: 30, testPerLabel: 10)
        let layers = lstm ? TinyCorpus.lstmModel(dropout: 0) : TinyCorpus.bagModel
        let text = TinyCorpus.pipeline(model: "[model]\nbuckets = 1000\n\(subwords)\n" + layers, training: lstm ? """
            epochs = 6
            learning_rate = 0.02
            validation_split = 0
            """ : """
            epochs = 4
            optimizer = "sgd"
            learning_rate = 0.5
            validation_split = 0
            """)
        return try PipelineConfig.parse(text, file: "tiny.toml", baseFolder: folder.path)
    }

    /// A model with subwords trained end to end (a bag, which appends them, and an LSTM,
    /// which averages them into each step): its shards keep unknown words' text, the saved
    /// model reads an unknown word's letters (a misspelt topic word scores unlike letters it
    /// never saw), and predicting the test split's raw text gives the evaluation's figures,
    /// which the shards' text made.
    @Test(arguments: [false, true])
    func unknownWordsReachTheModelThroughShardsAndText(lstm: Bool) throws {
        let folder = TemporaryFolder()
        let config = try bagPipeline(folder, lstm: lstm)
        #expect(config.model.subwords == SubwordHashing(minLength: 2, maxLength: 4))
        let runDir = folder.path + "/run"
        let result = try PipelineRunner(config: config, runDir: runDir).run()
        let train = try ShardSet(folder: runDir + "/shards/train")
        #expect(try train.reader(forShard: 0).keepsUnknownText && train.reader(forShard: 0).version == 2)
        let predictor = try Predictor(folder: runDir + "/model")
        let misspelt = try predictor.predict(["planetz orbitz"], topK: 3)[0]
        let unseen = try predictor.predict(["qqqqq yyyyy"], topK: 3)[0]
        #expect(misspelt.unknownTokens == 2 && unseen.unknownTokens == 2)
        let astro = { (prediction: Predictor.Prediction) in prediction.top.first { $0.label == "astro" }?.probability ?? 0 }
        #expect(astro(misspelt) > astro(unseen), "\(misspelt) \(unseen)")

        let evaluation = try JSONDecoder().decode(EvaluationResult.self, from: Data(contentsOf: URL(fileURLWithPath: runDir + "/evaluation.json")))
        let report = try BulkPrediction.run(model: runDir + "/model", inputs: [folder.path + "/corpus/test"],
                                            output: folder.path + "/predictions.jsonl", options: BulkPredictionOptions())
        #expect(try #require(report.report).confusion == evaluation.report?.confusion)
        #expect(result.accuracy == evaluation.accuracy)
    }

    /// The test corpus with a word the vocabulary lacks: without subwords the two unknown
    /// words are the same `<oov>`; with them, their letters tell them apart.
    @Test func withoutSubwordsUnknownWordsAreAllTheSame() throws {
        let folder = TemporaryFolder()
        let config = try bagPipeline(folder, subwords: "")
        #expect(config.model.subwords == nil)
        let runDir = folder.path + "/run"
        _ = try PipelineRunner(config: config, runDir: runDir).run()
        #expect(try ShardSet(folder: runDir + "/shards/train").reader(forShard: 0).keepsUnknownText == false)
        let predictor = try Predictor(folder: runDir + "/model")
        let texts = try predictor.predict(["planetz orbitz", "qqqqq yyyyy"], topK: 3)
        #expect(texts[0].probability == texts[1].probability)
    }

    /// Shards made without unknown text are refused by a model with subwords, naming a shard.
    @Test func shardsWithoutUnknownTextAreRefused() throws {
        let folder = TemporaryFolder()
        let plain = try bagPipeline(folder, subwords: "")
        let runDir = folder.path + "/run"
        let vocabulary = try PipelineRunner(config: plain, runDir: runDir).prepareData()
        let config = try bagPipeline(TemporaryFolder())
        let error = #expect(throws: FolioError.self) {
            try TrainingSession(config: config, train: ShardSet(folder: runDir + "/shards/train"), vocabularySize: vocabulary.count,
                                checkpoints: nil, metrics: nil, tokens: vocabulary.tokens)
        }
        #expect(error?.message.contains("keep unknown words' text") == true)
        #expect(error?.file?.hasSuffix(".fol") == true)
    }

    /// The keys are checked: both lengths in 1...12 and in order.
    @Test func keysAreChecked() throws {
        let folder = TemporaryFolder()
        for (model, key) in [("[model]\nminn = 4\nmaxn = 3\n" + TinyCorpus.bagModel, "maxn"),
                             ("[model]\nminn = 0\n" + TinyCorpus.bagModel, "minn"),
                             ("[model]\nmaxn = 13\n" + TinyCorpus.lstmModel(dropout: 0), "maxn")] {
            let text = TinyCorpus.pipeline(model: model, training: "epochs = 1")
            let error = #expect(throws: FolioError.self) { try PipelineConfig.parse(text, file: "tiny.toml", baseFolder: folder.path) }
            #expect(error.map { "\($0)" }?.contains(key) == true, "\(String(describing: error))")
        }
        let written = try bagPipeline(folder, subwords: "maxn = 5")
        #expect(written.model.subwords == SubwordHashing(minLength: 3, maxLength: 5))
        let again = try PipelineConfig.parse(written.toml(), file: "again.toml", baseFolder: folder.path)
        #expect(again.model.subwords == written.model.subwords, "tuned.toml keeps them")
    }
}
