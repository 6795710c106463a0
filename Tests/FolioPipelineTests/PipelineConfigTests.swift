import FolioNN
import FolioTestSupport
import Foundation
import Testing
@testable import FolioPipeline

@Suite struct PipelineConfigTests {
    static let text = """
        name = "tiny"
        seed = 7

        [corpus]
        path = "corpus"

        [loader]
        batch_size = 8
        max_length = 20

        [model]
        ngrams = 2
        buckets = 1000

        [[model.layers]]
        type = "embedding"
        output_dim = 8

        [[model.layers]]
        type = "bidirectional"
        layer = { type = "lstm", units = 4, return_sequences = true }

        [[model.layers]]
        type = "global_average_pooling1d"

        [[model.layers]]
        type = "dense"
        units = 3

        [training]
        epochs = 2
        optimizer = "sgd"
        learning_rate = 0.1
        momentum = 0.9
        clipnorm = 1.0

        [training.early_stopping]
        patience = 1
        """

    func parse(_ text: String, _ overrides: [String] = []) throws(FolioError) -> PipelineConfig {
        try PipelineConfig.parse(text, file: "p.toml", baseFolder: "/base", overrides: overrides)
    }

    /// The last Dense layer's units left out or "labels": sized once the labels are known;
    /// a stated size is checked against them; the file written back keeps "labels".
    @Test func theClassifierCanBeSizedByTheLabels() throws {
        for units in ["", "units = \"labels\""] {
            let config = try parse(Self.text.replacingOccurrences(of: "units = 3", with: units))
            #expect(config.model.outputSizedByLabels == true)
            #expect(try config.sizingOutput(labels: 13).model.layers.last == .dense(units: 13))
            let again = try parse(try config.toml())
            #expect(again.model.outputSizedByLabels == true && again.model.layers == config.model.layers)
        }
        let stated = try parse(Self.text)
        #expect(stated.model.outputSizedByLabels == nil)
        #expect(try stated.sizingOutput(labels: 3) == stated)
        #expect(throws: FolioError("the classifier has 3 units but the training split has 13 labels: leave units out (or write \"labels\") to size it by the data",
                                   place: "key model.layers[3].units")) { try stated.sizingOutput(labels: 13) }
        #expect(throws: FolioError.self) { try parse(Self.text.replacingOccurrences(of: "units = 3", with: "units = \"many\"")) }
    }

    @Test func readsEverySectionWithDefaults() throws {
        let config = try parse(Self.text)
        #expect(config.name == "tiny" && config.seed == 7 && config.loader.seed == 7)
        #expect(config.corpus.path == "/base/corpus")
        #expect(config.loader.batchSize == 8 && config.loader.maxLength == 20 && config.loader.memoryBudget == 256 << 20)
        #expect(config.model.layers == [.embedding(outputDim: 8), .bidirectional(.lstm(units: 4, returnSequences: true)),
                                        .globalAveragePooling1D, .dense(units: 3)])
        #expect(config.model.ngrams == 2 && config.model.buckets == 1000)
        #expect(config.training.optimizer.kind == .sgd && config.training.optimizer.schedule == .constant(0.1))
        #expect(config.training.optimizer.momentum == 0.9 && config.training.optimizer.clipping.norm == 1)
        #expect(config.training.earlyStopping?.patience == 1 && config.training.earlyStopping?.monitor == "val_loss")
        #expect(config.training.validationSplit == 0.1 && config.evaluation.topK == 3)
    }

    @Test func overridesReplaceAnyKeyIncludingLayers() throws {
        let config = try parse(Self.text, ["training.epochs=9", "model.layers[3].units=5", "corpus.path=/data/news", "loader.bucketing=true",
                                           "training.learning_rate=0.5", "model.layers[2].combiner=sqrtn"])
        #expect(config.training.epochs == 9)
        #expect(config.model.layers[2] == .globalSqrtNPooling1D)
        #expect(config.model.layers[3] == .dense(units: 5))
        #expect(config.corpus.path == "/data/news")
        #expect(config.loader.bucketing && config.loader.padding == .longest)
        #expect(config.training.optimizer.schedule == .constant(0.5))
    }

    @Test func aTypoedKeyFailsNamingTheKeyAndItsLine() throws {
        let typo = Self.text.replacingOccurrences(of: "epochs = 2", with: "epocs = 2")
        let error = try #require(throws: FolioError.self) { try parse(typo) }
        #expect(error.file == "p.toml")
        #expect(error.place == "line 31, key training.epocs")
        #expect(error.message.hasPrefix("unknown key 'epocs'") && error.message.contains("epochs"))

        let layerTypo = Self.text.replacingOccurrences(of: "units = 3", with: "unit = 3")
        let layerError = try #require(throws: FolioError.self) { try parse(layerTypo) }
        #expect(layerError.place == "line 28, key model.layers[3].unit")
    }

    @Test func wrongTypesAndBadValuesNameKeyAndLine() throws {
        let cases: [(String, String, String)] = [
            ("batch_size = 8", "batch_size = \"eight\"", "line 8, key loader.batch_size"),
            ("batch_size = 8", "batch_size = 0", "line 8, key loader.batch_size"),
            ("optimizer = \"sgd\"", "optimizer = \"adagrad\"", "line 32, key training.optimizer"),
            ("type = \"dense\"", "type = \"denze\"", "line 27, key model.layers[3].type"),
            ("patience = 1", "patience = -1", "line 38, key training.early_stopping.patience"),
            ("seed = 7", "seed = 7.5", "line 2, key seed"),
            ("type = \"global_average_pooling1d\"", "type = \"global_average_pooling1d\"\ncombiner = \"sum\"",
             "line 25, key model.layers[2].combiner"),
            ("buckets = 1000", "buckets = 1000\nweighting = \"bm25\"", "line 14, key model.weighting"),
            // An LSTM mixes the steps before the pooling: there is no bag left to weigh.
            ("buckets = 1000", "buckets = 1000\nweighting = \"tfidf\"", "line 14, key model.weighting"),
        ]
        for (old, new, place) in cases {
            let error = try #require(throws: FolioError.self) { try parse(Self.text.replacingOccurrences(of: old, with: new)) }
            #expect(error.place == place, "\(new): \(error)")
        }
        let syntax = try #require(throws: FolioError.self) { try parse(Self.text.replacingOccurrences(of: "epochs = 2", with: "epochs = ")) }
        #expect(syntax.place?.hasPrefix("line 31") == true, "\(syntax)")
    }

    @Test func weightingIsReadForABagModel() throws {
        let bag = Self.text.replacingOccurrences(of: "type = \"bidirectional\"\nlayer = { type = \"lstm\", units = 4, return_sequences = true }",
                                                 with: "type = \"dropout\"\nrate = 0.1")
        #expect(try parse(bag).model.weighting == nil)
        #expect(try parse(bag, ["model.weighting=none"]).model.weighting == nil)
        #expect(try parse(bag, ["model.weighting=tfidf"]).model.weighting == .tfidf)
        let error = try #require(throws: FolioError.self) { try parse(Self.text, ["model.weighting=tfidf"]) }
        #expect(error.place == "--set model.weighting", "\(error)")
    }

    @Test func badOverridesNameTheOverride() throws {
        let error = try #require(throws: FolioError.self) { try parse(Self.text, ["training.epochs=many"]) }
        #expect(error.place == "--set training.epochs")
        let missing = try #require(throws: FolioError.self) { try parse(Self.text, ["model.layers[9].units=2"]) }
        #expect(missing.place == "--set model.layers[9].units=2")
        let unknown = try #require(throws: FolioError.self) { try parse(Self.text, ["training.epocs=2"]) }
        #expect(unknown.place == "--set training.epocs" && unknown.message.hasPrefix("unknown key"))
    }

    @Test func aValidationMetricWithoutValidationDataFailsWhenRead() throws {
        let error = try #require(throws: FolioError.self) { try parse(Self.text, ["training.validation_split=0"]) }
        #expect(error.place == "--set training.validation_split" && error.message.hasPrefix("'val_loss' is monitored"), "\(error)")
        #expect(try parse(Self.text, ["training.validation_split=0", "training.early_stopping.monitor=loss"]).training.validationSplit == 0)
    }

    @Test func aModelNeedsLayersAndAName() throws {
        let noName = try #require(throws: FolioError.self) { try parse(Self.text.replacingOccurrences(of: "name = \"tiny\"", with: "")) }
        #expect(noName.place == "key name")
        let noLayers = try #require(throws: FolioError.self) { try parse("name = \"x\"\n[corpus]\npath = \"c\"\n") }
        #expect(noLayers.message.contains("[[model.layers]]"))
    }

    @Test func sourceLinesFollowTablesArraysAndDottedKeys() {
        let lines = PipelineSourceLines("""
            a = 1
            [t]
            "quoted.key" = 2
            b.c = 3
            [[arr]]
            x = 1
            [[arr]]
            x = 2
            [arr.sub]
            y = 3
            s = \"\"\"
            k = not a key
            \"\"\"
            """)
        #expect(lines.line(of: "a") == 1)
        #expect(lines.line(of: "t.quoted.key") == 3)
        #expect(lines.line(of: "t.b.c") == 4)
        #expect(lines.line(of: "arr[0].x") == 6)
        #expect(lines.line(of: "arr[1].x") == 8)
        #expect(lines.line(of: "arr[1].sub.y") == 10)
        #expect(lines.line(of: "arr[1].sub.k") == 9, "inside a multi-line string: falls back to the table")
        #expect(lines.line(of: "t.missing") == 2)
    }

    @Test func byteSizes() {
        #expect(parseByteSize("256MB") == 256 << 20)
        #expect(parseByteSize("1.5 GiB") == 3 << 29)
        #expect(parseByteSize("100") == 100)
        #expect(parseByteSize("2XB") == nil && parseByteSize("-1MB") == nil && parseByteSize("") == nil)
    }

    /// Every layer kind written to a pipeline file reads back as the same layer: the writer
    /// and the reader agree for kinds no shipped pipeline uses yet.
    @Test func everyLayerKindReadsBackFromTheFileItIsWrittenTo() throws {
        for spec in everyLayerKind {
            var config = try parse(Self.text)
            config.model.layers = model(around: spec)
            let again = try parse(try config.toml())
            #expect(again.model.layers == config.model.layers, "\(spec)")
        }
    }
}

/// Every pipeline shipped in `pipelines/` reads without an error and points at a corpus
/// that is there (a typo in one would otherwise surface only when a user runs it).
@Suite struct ShippedPipelineTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("pipelines")

    @Test(arguments: ["demo", "bag-of-ngrams", "conv"])
    func readsAndFindsItsCorpus(name: String) throws {
        let config = try PipelineConfig.read(path: Self.folder.appendingPathComponent(name + ".toml").path)
        #expect(config.name == name)
        #expect(FileManager.default.fileExists(atPath: config.corpus.path), "\(config.corpus.path)")
        #expect(!config.model.layers.isEmpty)
    }
}
