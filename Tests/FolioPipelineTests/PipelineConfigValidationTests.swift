import FolioCore
import FolioNN
import Foundation
import Testing
@testable import FolioPipeline

/// `validate()`: the same rules for a configuration made in code as for one read from a file.
@Suite struct PipelineConfigValidationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func valid() -> PipelineConfig {
        var config = PipelineConfig(name: "in-code", corpus: .init(path: "/tmp/corpus"))
        config.model.layers = [.embedding(outputDim: 8), .globalAveragePooling1D, .dense(units: 3)]
        return config
    }

    func problem(_ change: (inout PipelineConfig) -> Void) -> String? {
        var config = Self.valid()
        change(&config)
        do { try config.validate(); return nil } catch { return error.description }
    }

    @Test func aConfigurationMadeInCodeIsCheckedAsAFileIs() {
        #expect(problem { _ in } == nil)
        #expect(problem { $0.loader.batchSize = 0 } == "key loader.batch_size: must be in 1...1048576, not 0")
        #expect(problem { $0.training.epochs = 0 } == "key training.epochs: must be in 1...100000, not 0")
        // Upper bounds too, the file reader's (they were checked only there).
        #expect(problem { $0.training.epochs = 100_001 } == "key training.epochs: must be in 1...100000, not 100001")
        #expect(problem { $0.training.accumulationSteps = 1 << 17 } == "key training.accumulation_steps: must be in 1...65536, not 131072")
        #expect(problem { $0.name = "a b" }?.hasPrefix("key name:") == true)
        #expect(problem { $0.model.layers = [.dense(units: 3)] }?.hasPrefix("key model.layers:") == true)
        #expect(problem { $0.training.validationSplit = 0.95 }?.hasPrefix("key training.validation_split:") == true)
        #expect(problem { $0.training.validationSplit = 0; $0.training.earlyStopping = .init(monitor: "val_accuracy") }
                == "key training.validation_split: 'val_accuracy' is monitored but there is no validation data: set validation_split above 0")
        #expect(problem { $0.model.layers = [.embedding(outputDim: 8), .lstm(units: 4), .dense(units: 3)]; $0.model.weighting = .tfidf }?
            .hasPrefix("key model.weighting: TF-IDF weighting needs") == true)
    }

    /// Options that would be silently dropped are refused, naming the key.
    @Test func optionsTheOptimizerDoesNotReadAreRefused() {
        #expect(problem { $0.training.optimizer.momentum = 0.9 } == "key training.momentum: adam does not read momentum (rmsprop, sgd do)")
        #expect(problem { $0.training.optimizer = OptimizerSpec(kind: .sgd, schedule: .constant(0.1)); $0.training.optimizer.momentum = 0.9 } == nil)
        #expect(problem { $0.training.optimizer = OptimizerSpec(kind: .sgd, schedule: .constant(0.1)); $0.training.optimizer.amsgrad = true }?
            .hasPrefix("key training.amsgrad: sgd does not read amsgrad") == true)
        #expect(problem { $0.training.optimizer = OptimizerSpec(kind: .rmsprop, schedule: .constant(0.1)); $0.training.lazyEmbeddingUpdates = true }
                == "key training.lazy_embedding_updates: rmsprop updates every row; lazy updates apply to sgd, adam and adamw")
        #expect(problem { $0.training.optimizer = OptimizerSpec(kind: .rprop, schedule: .cosineDecay(initial: 0.1, decaySteps: 10)) }?
            .hasPrefix("key training.schedule:") == true)
    }

    /// From a file, the same rules name the line.
    @Test func fromAFileTheErrorNamesTheLine() throws {
        let text = """
            name = "t"
            [corpus]
            path = "c"
            [[model.layers]]
            type = "embedding"
            [training]
            optimizer = "adam"
            nesterov = true
            """
        let error = #expect(throws: FolioError.self) { try PipelineConfig.parse(text, file: "t.toml", baseFolder: "/tmp") }
        #expect(error?.description == "t.toml: line 8, key training.nesterov: adam does not read nesterov (sgd do)")
        // A key read and used: save_best_only = false is no longer dropped.
        let kept = try PipelineConfig.parse(text.replacingOccurrences(of: "nesterov = true", with: """
            validation_split = 0.2
            [training.model_checkpoint]
            monitor = "val_accuracy"
            save_best_only = false
            """), file: "t.toml", baseFolder: "/tmp")
        #expect(kept.training.checkpointSavesBestOnly == false)
    }

    /// `checkpoint_seconds`: a positive number of seconds; 0 or none is every checkpoint, and
    /// leaves the canonical JSON (and so the run's fingerprint) as it was without the key.
    @Test func checkpointSecondsIsPositiveAndLeftOutOfFingerprintsWhenUnset() throws {
        let text = "name = \"t\"\n[corpus]\npath = \"c\"\n[[model.layers]]\ntype = \"embedding\"\n[training]\n"
        let unset = try PipelineConfig.parse(text, file: "t.toml", baseFolder: "/tmp")
        #expect(unset.training.checkpointSeconds == nil)
        #expect(try PipelineConfig.parse(text + "checkpoint_seconds = 0", file: "t.toml", baseFolder: "/tmp") == unset)
        let set = try PipelineConfig.parse(text + "checkpoint_seconds = 90", file: "t.toml", baseFolder: "/tmp")
        #expect(set.training.checkpointSeconds == 90)
        let json = { (config: PipelineConfig) in String(decoding: config.canonicalJSON(config.training), as: UTF8.self) }
        #expect(!json(unset).contains("checkpointSeconds") && json(set).contains("\"checkpointSeconds\":90"))
        let error = #expect(throws: FolioError.self) { try PipelineConfig.parse(text + "checkpoint_seconds = -5", file: "t.toml", baseFolder: "/tmp") }
        #expect(error?.description.hasPrefix("t.toml: line 7, key training.checkpoint_seconds:") == true, "\(String(describing: error))")
        var coded = unset
        coded.training.checkpointSeconds = .infinity
        #expect(throws: FolioError.self) { try coded.validate() }
    }

    /// `validation_seed`: a whole number from 0; unset leaves the canonical JSON (and so the
    /// run's fingerprint) as it was without the key.
    @Test func validationSeedIsAWholeNumberAndLeftOutOfFingerprintsWhenUnset() throws {
        let text = "name = \"t\"\n[corpus]\npath = \"c\"\n[[model.layers]]\ntype = \"embedding\"\n[training]\n"
        let unset = try PipelineConfig.parse(text, file: "t.toml", baseFolder: "/tmp")
        let set = try PipelineConfig.parse(text + "validation_seed = 3", file: "t.toml", baseFolder: "/tmp")
        #expect(unset.training.validationSeed == nil && set.training.validationSeed == 3)
        let json = { (config: PipelineConfig) in String(decoding: config.canonicalJSON(config.training), as: UTF8.self) }
        #expect(!json(unset).contains("validationSeed") && json(set).contains("\"validationSeed\":3"))
        let error = #expect(throws: FolioError.self) { try PipelineConfig.parse(text + "validation_seed = -1", file: "t.toml", baseFolder: "/tmp") }
        #expect(error?.description.hasPrefix("t.toml: line 7, key training.validation_seed:") == true, "\(String(describing: error))")
        var coded = unset
        coded.training.validationSeed = -2
        #expect(throws: FolioError.self) { try coded.validate() }
    }

    /// `toml()` writes what `parse` reads back to the same value, for every shipped pipeline
    /// and a configuration with every kind of setting.
    @Test func theTOMLFormReadsBackToTheSameValue() throws {
        var configs: [PipelineConfig] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.root + "/pipelines").filter({ $0.hasSuffix(".toml") }) {
            configs.append(try PipelineConfig.read(path: Self.root + "/pipelines/" + name))
        }
        var rich = Self.valid()
        rich.model.layers = [.embedding(outputDim: 8), .bidirectional(.lstm(units: 4, returnSequences: true, dropout: 0.25)),
                             .conv1D(filters: 5, kernelSize: 3, padding: .same, activation: .relu), .batchNormalization(momentum: 0.9),
                             .maxPooling1D(poolSize: 2), .dropout(rate: 0.5), .globalMaxPooling1D, .dense(units: 7, activation: .tanh)]
        rich.training.optimizer = OptimizerSpec(kind: .sgd, schedule: .piecewiseConstant(boundaries: [10, 20], values: [0.5, 0.25, 0.125]))
        rich.training.optimizer.momentum = 0.9
        rich.training.optimizer.nesterov = true
        rich.training.optimizer.clipping = Clipping(norm: 1.5, value: nil, globalNorm: nil)
        rich.training.reduceLROnPlateau = .init()
        rich.training.checkpointMonitor = "val_loss"
        rich.training.keepsEmbeddingRowsWhole = true
        rich.training.checkpointSeconds = 45
        rich.training.validationSeed = 11
        rich.corpus.testSplit = "held \"out\""
        rich.evaluation.batchSize = 64
        rich.loader.seed = rich.seed  // a file has one seed; reading it sets the loader's too
        configs.append(rich)
        #expect(configs.count >= 4)
        for config in configs {
            let text = try config.toml()
            let back = try PipelineConfig.parse(text, file: "back.toml", baseFolder: "/")
            #expect(back == config, "\(config.name):\n\(text)")
        }
    }

    /// A sweep's runs are typed edits of the pipeline: for every shipped pipeline and each
    /// budget, the same value the same settings give when written as `--set` lines (what the
    /// sweep used to pass its runs), and the value's own TOML reads back to it.
    @Test(arguments: [SweepBudget.epochs, .samples(1000), .seconds(30)])
    func sweepRunsAreTheSettingsTheirSetLinesGive(budget: SweepBudget) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.root + "/pipelines").filter({ $0.hasSuffix(".toml") }) {
            let path = Self.root + "/pipelines/" + name
            let base = try PipelineConfig.read(path: path)
            let run = try base.sweepRun(microBatch: 16, accumulationSteps: 4, seed: 3, learningRate: 0.0025, budget: budget, trainingRecords: 300)
            var lines = ["loader.batch_size=16", "training.accumulation_steps=4", "seed=3", "training.learning_rate=0.0025"]
            if base.training.earlyStopping != nil {
                lines += ["training.early_stopping.patience=100000", "training.early_stopping.restore_best_weights=false"]
            }
            switch budget {
            case .epochs: break
            case .samples: lines += ["training.max_samples=1000", "training.epochs=5"]
            case .seconds: lines += ["training.max_seconds=30.0", "training.epochs=100000"]
            }
            #expect(run == (try PipelineConfig.read(path: path, overrides: lines)), "\(name)")
            #expect(try PipelineConfig.parse(try run.toml(), file: "run.toml", baseFolder: "/") == run, "\(name)")
        }
        let base = try PipelineConfig.read(path: Self.root + "/pipelines/demo.toml")
        let error = try #require(throws: FolioError.self) {
            try base.sweepRun(microBatch: 0, accumulationSteps: 1, seed: 1, learningRate: 0.001, budget: budget, trainingRecords: 10)
        }
        #expect(error.place == "key loader.batch_size")
    }

    /// A learning rate set on a schedule moves where it starts; a piecewise one is scaled whole.
    @Test func aScheduleTakesANewInitialRate() {
        #expect(LearningRateSchedule.constant(0.1).withInitialRate(0.5) == .constant(0.5))
        #expect(LearningRateSchedule.exponentialDecay(initial: 0.1, decaySteps: 10, rate: 0.5).withInitialRate(0.2)
                == .exponentialDecay(initial: 0.2, decaySteps: 10, rate: 0.5))
        #expect(LearningRateSchedule.piecewiseConstant(boundaries: [5], values: [0.5, 0.25]).withInitialRate(1)
                == .piecewiseConstant(boundaries: [5], values: [1, 0.5]))
    }
}
