import FolioNN
import FolioTestSupport
import FolioText
import Foundation
import Synchronization
import Testing
@testable import FolioPipeline

/// An embedding started from word vectors: rows matched by token, the counts told, frozen
/// rows kept exactly, and bad files refused with the key and line.
@Suite struct PretrainedEmbeddingTests {
    let folder = TemporaryFolder()
    /// Two corpus words and one the corpus lacks.
    let vectors: [String: [Float]] = [
        "planet": [0.5, -0.25, 0.125, 1, -1, 0.75, 0.0625, -0.5],
        "violin": [-0.3, 0.2, 0.1, -0.4, 0.9, -0.8, 0.7, 0.6],
        "unseen": [1, 1, 1, 1, 1, 1, 1, 1],
    ]

    init() throws {
        try TinyCorpus.write(into: folder.path)
        let lines = ["3 8"] + ["planet", "violin", "unseen"].map { word in ([word] + vectors[word]!.map(\.description)).joined(separator: " ") }
        folder.write("vectors.vec", lines.joined(separator: "\n") + "\n")
        folder.write("narrow.vec", "planet 0.1 0.2 0.3 0.4\n")
    }

    /// The bag model with `embeddingKeys` on its embedding, then `rest` (more tables).
    func pipeline(_ embeddingKeys: String, epochs: Int = 3, rest: String = "") throws -> PipelineConfig {
        let text = TinyCorpus.pipeline(model: """
            [[model.layers]]
            type = "embedding"
            output_dim = 8
            \(embeddingKeys)
            [[model.layers]]
            type = "global_average_pooling1d"
            [[model.layers]]
            type = "dense"
            units = 3
            """, training: "epochs = \(epochs)\nlearning_rate = 0.05\nvalidation_split = 0") + rest
        return try PipelineConfig.parse(text, file: folder.path + "/tiny.toml", baseFolder: folder.path)
    }

    /// Trains; returns the trained embedding table, the vocabulary and the lines told.
    func train(_ config: PipelineConfig, runDir: String) throws -> (table: [Float], vocabulary: Vocabulary, notes: [String]) {
        let runner = PipelineRunner(config: config, runDir: runDir)
        let notes = Mutex<[String]>([])
        runner.events.note = { line in notes.withLock { $0.append(line) } }
        _ = try runner.run()
        let weights = try Safetensors.read(runDir + "/model/" + ModelBundle.weightsFile).tensors
        let table = try #require(weights["layers.0.weight"]).values
        return (table, try Vocabulary(contentsOf: runDir + "/vocabulary.tsv"), notes.withLock { $0 })
    }

    /// Frozen: the whole table is the random start with the matched rows replaced by the
    /// file's vectors, after training; the match is counted.
    @Test func frozenVectorsStayExactlyAsLoaded() throws {
        let config = try pipeline("weights = \"vectors.vec\"\ntrainable = false")
        #expect(config.model.pretrained == .init(path: folder.path + "/vectors.vec", trainable: false))
        let (table, vocabulary, notes) = try train(config, runDir: folder.path + "/frozen")
        let start = try Sequential(config.model.layers, vocabulary: vocabulary.count, seed: config.seed)
        var expected = Array(start.arena.values(of: start.embedding.table))
        for (word, vector) in vectors {
            let id = vocabulary.id(for: word)
            guard id != Vocabulary.oovID else { continue }
            expected.replaceSubrange(Int(id) * 8..<Int(id) * 8 + 8, with: vector)
        }
        #expect(table == expected)
        let total = vocabulary.count - 2
        #expect(notes.contains { $0.hasPrefix("pretrained vectors: 2 of \(total) vocabulary tokens matched") && $0.contains("1 vectors of other words unused") },
                "\(notes)")
    }

    /// Trainable: the loaded rows move with the rest.
    @Test func trainableVectorsMove() throws {
        let (table, vocabulary, _) = try train(try pipeline("weights = \"vectors.vec\""), runDir: folder.path + "/moving")
        let id = Int(vocabulary.id(for: "planet"))
        #expect(Array(table[id * 8..<id * 8 + 8]) != vectors["planet"]!)
    }

    @Test func aDimensionMismatchNamesTheKeyLineAndFile() throws {
        let error = try #require(throws: FolioError.self) { try pipeline("weights = \"narrow.vec\"") }
        #expect(error.file == folder.path + "/tiny.toml")
        #expect(error.place?.hasSuffix("key model.layers[0].weights") == true && error.place?.hasPrefix("line 11,") == true, "\(error)")
        #expect(error.message == "\(folder.path)/narrow.vec holds vectors of dimension 4; output_dim is 8")
        let frozen = try #require(throws: FolioError.self) { try pipeline("trainable = false") }
        #expect(frozen.place?.hasSuffix("key model.layers[0].trainable") == true, "\(frozen)")
        let missing = try #require(throws: FolioError.self) { try pipeline("weights = \"nowhere.vec\"") }
        #expect(missing.message.contains("cannot read the vectors") && missing.message.contains("nowhere.vec"), "\(missing)")
    }

    /// The pipeline file written back (folio train, sweeps) keeps the two keys.
    @Test func tomlRoundTripKeepsTheVectors() throws {
        let config = try pipeline("weights = \"vectors.vec\"\ntrainable = false")
        let again = try PipelineConfig.parse(try config.toml(), file: "again.toml", baseFolder: "/elsewhere")
        #expect(again.model.pretrained == config.model.pretrained)
        #expect(again.model == config.model)
    }

    /// The `[embed]` stage: vectors from the training split and an unlabeled folder, the
    /// frozen embedding starting from exactly them, the stage skipped when nothing changed
    /// and run again when its settings did.
    @Test func embedStageMakesTheVectorsTheEmbeddingStartsFrom() throws {
        folder.write("unlabeled/a.txt", "planet orbit comet nebula nebula")
        folder.write("unlabeled/b.txt", "violin melody chord choir")
        func config(epochs: Int) throws -> PipelineConfig {
            try pipeline("trainable = false", epochs: 2, rest: "\n[embed]\nepochs = \(epochs)\nmin_count = 1\ncorpora = [\"unlabeled\"]\n")
        }
        let first = try config(epochs: 2)
        #expect(first.embed?.corpora == [folder.path + "/unlabeled"])
        #expect(first.embed?.embeddingTrainable == false)
        let runDir = folder.path + "/embedded"
        let (table, vocabulary, notes) = try train(first, runDir: runDir)
        let vectors = try WordVectors.read(runDir + "/vectors.safetensors")
        #expect(try WordVectors.read(runDir + "/vectors.vec") == vectors)
        // Every vocabulary word has a vector (min_count 1); "nebula" is only in the
        // unlabeled text, so it is not in the vocabulary and has none.
        #expect(vectors.tokens.count == vocabulary.count - 2 && !vectors.tokens.contains("nebula"))
        for (row, token) in vectors.tokens.enumerated() {
            let id = Int(vocabulary.id(for: token))
            #expect(Array(table[id * 8..<id * 8 + 8]) == Array(vectors.vector(row)), "\(token)")
        }
        #expect(notes.contains { $0.hasPrefix("pretrained vectors: \(vocabulary.count - 2) of \(vocabulary.count - 2) vocabulary tokens matched") }, "\(notes)")
        let again = try PipelineRunner(config: first, runDir: runDir).run()
        #expect(again.stagesSkipped.contains("embed") && again.stagesSkipped.contains("train"), "\(again.stagesRun)")
        let changed = try PipelineRunner(config: try config(epochs: 3), runDir: runDir).run()
        #expect(changed.stagesRun.contains("embed") && changed.stagesRun.contains("train"), "\(changed.stagesRun)")
        // Written back, the pipeline keeps its [embed] table.
        let written = try PipelineConfig.parse(try first.toml(), file: "again.toml", baseFolder: "/elsewhere")
        #expect(written.embed == first.embed)
    }
}
