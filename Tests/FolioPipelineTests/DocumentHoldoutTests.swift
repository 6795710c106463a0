import FolioCore
import FolioCorpus
import FolioShards
import FolioTestSupport
import FolioText
import Foundation
import Testing
@testable import FolioPipeline

/// The validation part of a training split is chosen per document before the vocabulary:
/// no word of a held-out document reaches the vocabulary unless a training document has it.
@Suite struct DocumentHoldoutTests {
    @Test func theDecisionFollowsTheDocumentsPlaceAndTheSeed() {
        let holdout = Holdout(fraction: 0.2, seed: 5, yieldsHeldOut: true)
        let places = (0..<5000).map { "/train/label/doc-\($0).txt" }
        let held = places.filter { holdout.isHeldOut(source: "/corpus" + $0, corpusPath: "/corpus") }
        #expect((850...1150).contains(held.count), "\(held.count) of 5000 held out at 0.2")
        // Where the corpus folder is does not matter; the seed does.
        #expect(held == places.filter { holdout.isHeldOut(source: "/elsewhere/c" + $0, corpusPath: "/elsewhere/c") })
        let other = Holdout(fraction: 0.2, seed: 6, yieldsHeldOut: true)
        #expect(held != places.filter { other.isHeldOut(source: "/corpus" + $0, corpusPath: "/corpus") })
    }

    /// Each training document carries a word of its own: the vocabulary has exactly the
    /// kept documents' words, the training shards their records, the validation shards the
    /// others', and the two sets together are the split.
    @Test func heldOutDocumentsReachNeitherTheVocabularyNorTheTrainingShards() throws {
        let folder = TemporaryFolder()
        var documents: [(source: String, word: String)] = []
        for label in ["a", "b", "c"] {
            for index in 0..<40 {
                let word = "only\(label)\(index)"
                let path = folder.write("corpus/train/\(label)/\(index).txt", "common words here \(word) and \(label)label")
                documents.append((path, word))
            }
            _ = folder.write("corpus/test/\(label)/0.txt", "common words \(label)label")
        }
        var config = try PipelineConfig.parse(TinyCorpus.pipeline(model: TinyCorpus.bagModel, training: "epochs = 1\nvalidation_split = 0.25"),
                                              file: "tiny.toml", baseFolder: folder.path)
        config.vocabulary.options.minCount = 1
        let runner = PipelineRunner(config: config, runDir: folder.path + "/run")
        let vocabulary = try runner.prepareData()
        let holdout = try #require(runner.trainingDocuments)
        let kept = documents.filter { !holdout.isHeldOut(source: $0.source, corpusPath: config.corpus.path) }
        let held = documents.count - kept.count
        #expect(held > 10 && kept.count > 60, "\(held) held out")
        let tokens = Set(vocabulary.tokens)
        for document in documents {
            #expect(tokens.contains(document.word) == kept.contains { $0.word == document.word }, "\(document.word)")
        }
        let train = try ShardSet(folder: folder.path + "/run/shards/train")
        let validation = try ShardSet(folder: folder.path + "/run/shards/validation")
        #expect(train.manifest.records == kept.count && validation.manifest.records == held)
        #expect(validation.manifest.labels == train.manifest.labels)
        // The run trains on one and validates on the other; its figures name validation.
        let result = try runner.run()
        #expect(result.evaluatedOn == "test")
        let metrics = try String(contentsOfFile: folder.path + "/run/metrics.jsonl", encoding: .utf8)
        #expect(metrics.contains("val_accuracy"))
    }

    /// Runs with other seeds (a sweep's repeats) hold out the same documents, so they share
    /// the data stages: a run adopting another's data with another seed runs neither the
    /// vocabulary nor the shards again (with a seed-dependent split it re-made them inside
    /// the shared folder).
    @Test func runsWithOtherSeedsShareTheDataStages() throws {
        let folder = TemporaryFolder()
        try TinyCorpus.write(into: folder.path, trainPerLabel: 12, testPerLabel: 2)
        func config(seed: UInt64) throws -> PipelineConfig {
            var config = try PipelineConfig.parse(TinyCorpus.pipeline(model: TinyCorpus.bagModel, training: "epochs = 1\nvalidation_split = 0.2"),
                                                  file: "tiny.toml", baseFolder: folder.path)
            config.seed = seed
            return config
        }
        let first = PipelineRunner(config: try config(seed: 3), runDir: folder.path + "/first")
        _ = try first.run()
        let second = PipelineRunner(config: try config(seed: 4), runDir: folder.path + "/second")
        #expect(second.trainingDocuments == first.trainingDocuments)
        try second.adoptData(from: folder.path + "/first")
        let result = try second.run()
        #expect(result.stagesSkipped.contains("vocabulary") && result.stagesSkipped.contains("shards"), "\(result.stagesRun)")
        #expect(result.stagesRun.contains("train"))
    }
}
