import FolioCore
import FolioCorpus
import FolioNN
import FolioShards
import FolioText
import Foundation

/// A pipeline file, read and checked: every stage's settings, with defaults filled in.
///
/// ```toml
/// name = "demo"
/// seed = 1
/// [corpus]            path (relative to the pipeline file), format, splits, JSONL keys (group_key)
/// [tokenizer]         normalization, numbers, max_token_length
/// [vocabulary]        max_tokens, min_count, memory
/// [shards]            shard_size
/// [loader]            batch_size, max_length, bucketing, padding, memory, prefetch
/// [model]             ngrams, buckets, weighting, and [[model.layers]] with type = "embedding", ...
/// [training]          epochs, accumulation_steps, optimizer, learning_rate, validation_split, validation_by, validation_seed,
///                     checkpoint_every, checkpoint_seconds, class_weight, [training.early_stopping], ...
/// [evaluation]        split, batch_size, top_k
/// ```
/// Reading fails before any work starts on an unknown key, a wrong type or a bad value,
/// naming the key and its line (or the `--set` that gave it).
public struct PipelineConfig: Sendable, Hashable, Codable {
    public struct CorpusConfig: Sendable, Hashable, Codable {
        public var path: String
        public var options = CorpusOptions()
        /// The split trained on and the one evaluated; nil when the corpus has no splits.
        public var trainSplit: String?
        public var testSplit: String?

        public init(path: String) { self.path = path }
    }

    public struct VocabularyConfig: Sendable, Hashable, Codable {
        public var options = VocabularyOptions()
        public var memory = 256 << 20
    }

    public struct ModelConfig: Sendable, Hashable, Codable {
        /// Hashed word n-grams up to this order appended to each batch (1: none).
        public var ngrams = 1
        public var buckets = 100_000
        /// Each token's hashed character n-grams appended (`minn`, `maxn`, as fastText's),
        /// in the same buckets; nil: none (left out of the canonical JSON).
        public var subwords: SubwordHashing?
        /// Nil (`"none"`): every token weighs 1; left out of the canonical JSON then, so
        /// the run fingerprints of pipelines without the key are what they were.
        public var weighting: InputWeighting?
        public var layers: [LayerSpec] = []
        /// The embedding's start from word vectors (its `weights` and `trainable` keys);
        /// nil: Keras's random start. Left out of the canonical JSON when nil.
        public var pretrained: PretrainedEmbedding?
        /// True: the last Dense layer's units are the training split's label count (its
        /// `units` left out or `"labels"`), set by ``PipelineConfig/sizingOutput(labels:)``
        /// once the labels are known. Nil: as written (left out of the canonical JSON).
        public var outputSizedByLabels: Bool?
    }

    /// The `[embed]` stage: word vectors trained on the training split's text (and on
    /// unlabeled corpora) before the classifier, which then starts its embedding from them.
    public struct EmbedConfig: Sendable, Hashable, Codable {
        /// Its dimension, threads and seed are not read from here: the runner takes the
        /// embedding's `output_dim` and the pipeline's threads and seed.
        public var word2vec = Word2VecOptions()
        /// Unlabeled corpora (folders of text files, JSONL with or without labels) whose
        /// text the vectors learn from too; absolute paths or relative to the pipeline file.
        public var corpora: [String] = []
        /// The embedding layer's `trainable` key.
        public var embeddingTrainable = true

        public init() {}
    }

    /// Word vectors an embedding starts from: rows matched to the vocabulary by token.
    public struct PretrainedEmbedding: Sendable, Hashable, Codable {
        /// A `.safetensors` (`folio embed`) or text (`.vec`, GloVe) vectors file.
        public var path: String
        /// False: the vectors stay as they are while the rest of the model trains.
        public var trainable = true

        public init(path: String, trainable: Bool = true) {
            self.path = path
            self.trainable = trainable
        }
    }

    public struct EarlyStoppingConfig: Sendable, Hashable, Codable {
        public var monitor = "val_loss"
        public var patience = 0
        public var minDelta = 0.0
        public var restoreBestWeights = false

        public init(monitor: String = "val_loss", patience: Int = 0, minDelta: Double = 0, restoreBestWeights: Bool = false) {
            (self.monitor, self.patience, self.minDelta, self.restoreBestWeights) = (monitor, patience, minDelta, restoreBestWeights)
        }
    }

    public struct ReduceLROnPlateauConfig: Sendable, Hashable, Codable {
        public var monitor = "val_loss"
        public var factor = 0.1
        public var patience = 10
        public var minDelta = 1e-4
        public var cooldown = 0
        public var minLearningRate = 0.0
    }

    public struct TrainingConfig: Sendable, Hashable, Codable {
        public var epochs = 5
        public var accumulationSteps = 1
        public var optimizer = OptimizerSpec()
        public var loss = Loss.sparseCategoricalCrossentropy
        /// Share of the training split's documents held out for validation (before the
        /// vocabulary, the same ones whatever the seed: ``Holdout/documents(fraction:keepsHeldOut:byGroup:)``).
        public var validationSplit = 0.1
        /// `validation_by = "group"`: whole groups held out (a document's folder below its
        /// label folder, or `[corpus] group_key`). Nil: by document (left out of the
        /// canonical JSON, so older pipelines keep their fingerprints).
        public var validationByGroup: Bool?
        /// `validation_seed`: which documents `validation_split` holds out (another seed,
        /// another part; ``Holdout/documents(fraction:keepsHeldOut:byGroup:seed:)``). Nil:
        /// Folio's fixed part, whatever `seed` is; left out of the canonical JSON, so older
        /// pipelines keep their fingerprints.
        public var validationSeed: Int?
        public var checkpointEvery = 0
        /// `checkpoint_seconds`: at most one checkpoint in this many seconds, the last always
        /// (``TrainingOptions/checkpointSeconds``). Nil (0, the default): every epoch's end and
        /// every `checkpoint_every` step; left out of the canonical JSON, so older pipelines
        /// keep their fingerprints.
        public var checkpointSeconds: Double?
        /// `balanced` weighs classes as scikit-learn's `class_weight="balanced"`.
        public var balancedClassWeight = false
        public var earlyStopping: EarlyStoppingConfig?
        public var reduceLROnPlateau: ReduceLROnPlateauConfig?
        /// Keep the weights of the best epoch by this metric in `checkpoints/best.safetensors`
        /// (every epoch's when not `checkpointSavesBestOnly`, Keras's `save_best_only`).
        public var checkpointMonitor: String?
        public var checkpointSavesBestOnly = true
        /// A decaying schedule's length in epochs (`decay_epochs`) instead of optimizer steps:
        /// the runner turns it into steps once it knows the batches per epoch.
        public var decayEpochs: Int?
        /// Adam, AdamW and SGD update only the embedding rows a step touched (TensorFlow's LazyAdam).
        public var lazyEmbeddingUpdates = false
        /// `split_embedding_rows = false`: a distributed bag model trains data-parallel
        /// rather than dealing its table's rows between the ranks (``TrainingOptions/dealsEmbeddingRows``).
        /// nil (the default, left out of fingerprints) deals them.
        public var keepsEmbeddingRowsWhole: Bool?
        /// Budgets (sweeps): stop after this many training examples or seconds.
        public var maxSamples: Int?
        public var maxSeconds: Double?
    }

    public struct EvaluationConfig: Sendable, Hashable, Codable {
        /// Validation and test batches (default: the training micro-batch, as Keras's
        /// `validation_batch_size`, so that evaluating never needs more memory than training).
        public var batchSize: Int?
        public var topK = 3
    }

    public var name: String
    public var seed: UInt64 = 1
    public var threads = 2
    public var corpus: CorpusConfig
    public var tokenizer = TokenizerOptions()
    public var vocabulary = VocabularyConfig()
    public var shardBytes = 64 << 20
    public var loader = LoaderOptions(batchSize: 32, maxLength: 200)
    public var model = ModelConfig()
    public var training = TrainingConfig()
    public var evaluation = EvaluationConfig()
    /// Nil: no `[embed]` stage (left out of the canonical JSON).
    public var embed: EmbedConfig?

    /// A configuration made in code: every setting at its default but the name and the
    /// corpus; check it with ``validate()`` once it is filled in.
    public init(name: String, corpus: CorpusConfig) {
        self.name = name
        self.corpus = corpus
    }

    /// The batch of validation and test passes.
    public var evaluationBatchSize: Int { evaluation.batchSize ?? loader.batchSize }

    /// Reads and checks a pipeline file, with `overrides` (`section.key=value`) applied first.
    public static func read(path: String, overrides: [String] = []) throws(FolioError) -> PipelineConfig {
        let bytes = try readWholeFile(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            var iterator = bytes.makeIterator()
            var decoder = UTF8()
            var valid = 0
            scan: while true {
                switch decoder.decode(&iterator) {
                case .scalarValue(let scalar): valid += UTF8.width(scalar)
                case .emptyInput, .error: break scan
                }
            }
            let line = bytes[..<valid].reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
            throw FolioError("not UTF-8 text (an invalid byte at offset \(valid))", file: path, place: "line \(line)")
        }
        let folder = (path as NSString).deletingLastPathComponent
        return try parse(text, file: path, baseFolder: folder.isEmpty ? "." : folder, overrides: overrides)
    }

    /// Parses pipeline text; relative corpus paths are taken from `baseFolder`.
    public static func parse(_ text: String, file: String, baseFolder: String, overrides: [String] = []) throws(FolioError) -> PipelineConfig {
        var value = try PipelineValue.parse(toml: text, file: file)
        var overridden: Set<String> = []
        for assignment in overrides {
            try value.set(assignment)
            overridden.insert(String(assignment.prefix { $0 != "=" }).trimmed(" "))
        }
        let context = PipelineTableReader.Context(file: file, lines: PipelineSourceLines(text), overridden: overridden)
        let root = try PipelineTableReader(value, path: "", context: context)
        guard let name = try root.string("name"), isValidName(name) else { throw root.error(nameRule, key: "name") }
        var config = PipelineConfig(name: name, corpus: CorpusConfig(path: ""))
        config.seed = UInt64(try root.int("seed", default: 1, in: 0...Int.max))
        config.threads = try root.int("threads", default: 2, in: Limits.threads)
        try readCorpus(try root.section("corpus"), baseFolder: baseFolder, into: &config)
        try readText(tokenizer: try root.section("tokenizer"), vocabulary: try root.section("vocabulary"), into: &config)
        let shards = try root.section("shards")
        config.shardBytes = try shards.bytes("shard_size", default: 64 << 20)
        try shards.finish()
        try readLoader(try root.section("loader"), into: &config)
        let embed = try root.table("embed")
        try readModel(try root.section("model"), baseFolder: baseFolder, hasEmbedStage: embed != nil, into: &config)
        if let embed { try readEmbed(embed, baseFolder: baseFolder, into: &config) }
        try readTraining(try root.section("training"), into: &config)
        let evaluation = try root.section("evaluation")
        config.evaluation.batchSize = try evaluation.int("batch_size", in: Limits.batchSize)
        config.evaluation.topK = try evaluation.int("top_k", default: 3, in: 1...1000)
        try evaluation.finish()
        try root.finish()
        // The rules that tie settings together are the value's own (validate()), the same
        // for a configuration made in code; here they also get the key's line.
        if let problem = config.firstProblem() { throw PipelineTableReader.error(problem.message, at: problem.key, context) }
        return config
    }

    private static func readCorpus(_ table: PipelineTableReader, baseFolder: String, into config: inout PipelineConfig) throws(FolioError) {
        guard let path = try table.string("path"), !path.isEmpty else { throw table.error("the corpus needs a path", key: "path") }
        config.corpus.path = path.hasPrefix("/") ? path : baseFolder + "/" + path
        config.corpus.trainSplit = try table.string("train_split")
        config.corpus.testSplit = try table.string("test_split")
        config.corpus.options.textKey = try table.string("text_key", default: "text")
        config.corpus.options.labelKey = try table.string("label_key", default: "label")
        config.corpus.options.splitKey = try table.string("split_key", default: "split")
        config.corpus.options.groupKey = try table.string("group_key")
        try table.finish()
    }

    private static func readText(tokenizer: PipelineTableReader, vocabulary: PipelineTableReader, into config: inout PipelineConfig) throws(FolioError) {
        let normalization = try tokenizer.choice("normalization", TokenizerOptions.Normalization.allCases.map(\.rawValue), default: "nfkc_casefold")
        let numbers = try tokenizer.choice("numbers", TokenizerOptions.Numbers.allCases.map(\.rawValue), default: "keep")
        config.tokenizer = TokenizerOptions(
            normalization: TokenizerOptions.Normalization(rawValue: normalization) ?? .nfkcCasefold,
            numbers: TokenizerOptions.Numbers(rawValue: numbers) ?? .keep,
            maxTokenLength: try tokenizer.int("max_token_length", default: 100, in: 0...Int.max))
        try tokenizer.finish()
        config.vocabulary.options.maxTokens = try vocabulary.int("max_tokens", in: 3...Int.max)
        config.vocabulary.options.minCount = try vocabulary.int("min_count", default: 1, in: 1...Int.max)
        config.vocabulary.memory = try vocabulary.bytes("memory", default: 256 << 20)
        try vocabulary.finish()
    }

    private static func readLoader(_ table: PipelineTableReader, into config: inout PipelineConfig) throws(FolioError) {
        config.loader.batchSize = try table.int("batch_size", default: 32, in: Limits.batchSize)
        config.loader.maxLength = try table.int("max_length", default: 200, in: Limits.maxLength)
        config.loader.bucketing = try table.bool("bucketing", default: false)
        let padding = try table.choice("padding", ["max_length", "longest"], default: config.loader.bucketing ? "longest" : "max_length")
        config.loader.padding = padding == "longest" ? .longest : .maxLength
        config.loader.memoryBudget = try table.bytes("memory", default: 256 << 20)
        config.loader.prefetch = try table.int("prefetch", default: 4, in: 1...1024)
        try table.finish()
        config.loader.seed = config.seed
    }

    private static func readEmbed(_ table: PipelineTableReader, baseFolder: String, into config: inout PipelineConfig) throws(FolioError) {
        var embed = config.embed ?? EmbedConfig()
        var options = Word2VecOptions()
        options.model = Word2VecOptions.Architecture(rawValue: try table.choice("model", Word2VecOptions.Architecture.allCases.map(\.rawValue), default: "skipgram")) ?? .skipgram
        options.window = try table.int("window", default: options.window, in: 1...100)
        options.negative = try table.int("negative", default: options.negative, in: 1...100)
        options.epochs = try table.int("epochs", default: options.epochs, in: 1...1000)
        options.minCount = try table.int("min_count", default: options.minCount, in: 1...Int.max)
        options.subsample = try table.double("subsample", default: options.subsample, in: 0...0.999)
        options.learningRate = try table.double("learning_rate", in: 1e-6...10)
        embed.word2vec = options
        var corpora: [String] = []
        for value in try table.array("corpora") ?? [] {
            guard case .string(let path) = value, !path.isEmpty else { throw table.error("expected an array of corpus paths", key: "corpora") }
            corpora.append(path.hasPrefix("/") ? path : baseFolder + "/" + path)
        }
        embed.corpora = corpora
        try table.finish()
        if config.model.pretrained != nil {
            throw table.error("the embedding's vectors come from the [embed] stage: leave out this key, or that table", atPath: "model.layers[0].weights")
        }
        config.embed = embed
    }

    private static func readModel(_ table: PipelineTableReader, baseFolder: String, hasEmbedStage: Bool, into config: inout PipelineConfig) throws(FolioError) {
        config.model.ngrams = try table.int("ngrams", default: 1, in: Limits.ngrams)
        config.model.buckets = try table.int("buckets", default: 100_000, in: Limits.buckets)
        let minn = try table.int("minn", in: 1...SubwordHashing.longest)
        let maxn = try table.int("maxn", in: 1...SubwordHashing.longest)
        if minn != nil || maxn != nil {
            let (shortest, longest) = (minn ?? 3, maxn ?? 6)
            guard shortest <= longest else { throw table.error("maxn (\(longest)) is shorter than minn (\(shortest))", key: "maxn") }
            config.model.subwords = SubwordHashing(minLength: shortest, maxLength: longest)
        }
        let layers = try table.tables("layers")
        guard !layers.isEmpty else { throw table.error("the model needs [[model.layers]] entries, the first an embedding", key: "layers") }
        let lastDense = layers.lastIndex { (try? $0.string("type")) == "dense" }
        for (index, layer) in layers.enumerated() {
            var pretrained: PretrainedEmbedding?
            var trainable = true
            // The classifier sized by the data: its units are set once the labels are known.
            let sizedByLabels = index == lastDense ? try layer.sizedByLabels("units") : false
            if sizedByLabels { config.model.outputSizedByLabels = true }
            config.model.layers.append(try readLayer(layer, baseFolder: baseFolder, hasEmbedStage: hasEmbedStage, unitsFromLabels: sizedByLabels,
                                                     pretrained: &pretrained, trainable: &trainable))
            if config.model.layers.count == 1 {
                config.model.pretrained = pretrained
                if hasEmbedStage { config.embed = EmbedConfig(); config.embed?.embeddingTrainable = trainable }
            }
        }
        let weighting = try table.choice("weighting", ["none"] + InputWeighting.allCases.map(\.rawValue), default: "none")
        config.model.weighting = InputWeighting(rawValue: weighting)
        try table.finish()
    }

    static let layerTypes = [
        "embedding", "lstm", "gru", "bidirectional", "dense", "activation", "dropout", "batch_normalization", "conv1d",
        "max_pooling1d", "global_average_pooling1d", "global_max_pooling1d",
    ]

    /// One `[[model.layers]]` table; an embedding's `weights` and `trainable` go to
    /// `pretrained` (the vectors file's dimension checked here, before any work).
    private static func readLayer(
        _ table: PipelineTableReader, baseFolder: String, hasEmbedStage: Bool, unitsFromLabels: Bool = false,
        pretrained: inout PretrainedEmbedding?, trainable: inout Bool
    ) throws(FolioError) -> LayerSpec {
        let type = try table.choice("type", layerTypes, default: "")
        let activations = Activation.Function.allCases.map(\.rawValue)
        func activation(_ fallback: String) throws(FolioError) -> Activation.Function {
            Activation.Function(rawValue: try table.choice("activation", activations, default: fallback)) ?? .linear
        }
        let spec: LayerSpec
        switch type {
        case "embedding":
            let outputDim = try table.int("output_dim", default: 64, in: 1...1 << 16)
            spec = .embedding(outputDim: outputDim)
            trainable = try table.bool("trainable", default: true)
            if let weights = try table.string("weights") {
                let path = weights.hasPrefix("/") ? weights : baseFolder + "/" + weights
                let dimension: Int
                do throws(FolioError) { dimension = try WordVectors.dimension(of: path) } catch {
                    throw table.error("cannot read the vectors: \(error)", key: "weights")
                }
                guard dimension == outputDim else {
                    throw table.error("\(path) holds vectors of dimension \(dimension); output_dim is \(outputDim)", key: "weights")
                }
                pretrained = PretrainedEmbedding(path: path, trainable: trainable)
            } else if !trainable && !hasEmbedStage {
                throw table.error("a frozen embedding needs weights = \"vectors file\" or an [embed] stage (it would keep its random start)", key: "trainable")
            }
        case "lstm":
            spec = .lstm(units: try table.int("units", default: 64, in: 1...1 << 16),
                         returnSequences: try table.bool("return_sequences", default: false),
                         dropout: Float(try table.double("dropout", default: 0, in: 0...0.99)),
                         recurrentDropout: Float(try table.double("recurrent_dropout", default: 0, in: 0...0.99)))
        case "gru":
            spec = .gru(units: try table.int("units", default: 64, in: 1...1 << 16),
                        returnSequences: try table.bool("return_sequences", default: false))
        case "bidirectional":
            guard let inner = try table.table("layer") else {
                throw table.error("a bidirectional layer wraps layer = { type = \"lstm\", units = ... }", key: "layer")
            }
            var ignored: PretrainedEmbedding?
            var ignoredTrainable = true
            let wrapped = try readLayer(inner, baseFolder: baseFolder, hasEmbedStage: false, pretrained: &ignored, trainable: &ignoredTrainable)
            switch wrapped {
            case .lstm, .gru: spec = .bidirectional(wrapped)
            default: throw table.error("Bidirectional wraps an lstm or a gru", key: "layer")
            }
        case "dense":
            // Sized by the labels: a placeholder until ``PipelineConfig/sizingOutput(labels:)``.
            let units = unitsFromLabels ? 1 : try table.int("units", default: 64, in: 1...1 << 20)
            spec = .dense(units: units, activation: try activation("linear"))
        case "activation": spec = .activation(try activation("relu"))
        case "dropout": spec = .dropout(rate: Float(try table.double("rate", default: 0.5, in: 0...0.99)))
        case "batch_normalization":
            spec = .batchNormalization(momentum: Float(try table.double("momentum", default: 0.99, in: 0...1)),
                                       epsilon: Float(try table.double("epsilon", default: 1e-3, in: 1e-12...1)))
        case "conv1d":
            let padding = try table.choice("padding", ["valid", "same"], default: "valid")
            spec = .conv1D(filters: try table.int("filters", default: 64, in: 1...1 << 16),
                           kernelSize: try table.int("kernel_size", default: 3, in: 1...1024),
                           padding: padding == "same" ? .same : .valid, activation: try activation("linear"))
        case "max_pooling1d": spec = .maxPooling1D(poolSize: try table.int("pool_size", default: 2, in: 1...1024))
        case "global_average_pooling1d":
            let combiner = try table.choice("combiner", ["mean", GlobalPooling1D.Kind.sqrtN.rawValue], default: "mean")
            spec = combiner == "mean" ? .globalAveragePooling1D : .globalSqrtNPooling1D
        default: spec = .globalMaxPooling1D
        }
        try table.finish()
        return spec
    }

    private static func readTraining(_ table: PipelineTableReader, into config: inout PipelineConfig) throws(FolioError) {
        var training = TrainingConfig()
        training.epochs = try table.int("epochs", default: 5, in: Limits.epochs)
        training.accumulationSteps = try table.int("accumulation_steps", default: 1, in: Limits.accumulationSteps)
        training.validationSplit = try table.double("validation_split", default: 0.1, in: Limits.validationSplit)
        training.validationByGroup = try table.choice("validation_by", ["document", "group"], default: "document") == "group" ? true : nil
        training.validationSeed = try table.int("validation_seed", in: Limits.validationSeed)
        training.checkpointEvery = try table.int("checkpoint_every", default: 0, in: 0...Int.max)
        training.checkpointSeconds = try table.double("checkpoint_seconds", in: Limits.checkpointSeconds).flatMap { $0 > 0 ? $0 : nil }
        training.maxSamples = try table.int("max_samples", in: 1...Int.max)
        training.maxSeconds = try table.double("max_seconds", in: 1e-3...1e9)
        training.balancedClassWeight = try table.choice("class_weight", ["none", "balanced"], default: "none") == "balanced"
        training.lazyEmbeddingUpdates = try table.bool("lazy_embedding_updates", default: false)
        training.keepsEmbeddingRowsWhole = try table.bool("split_embedding_rows", default: true) ? nil : true
        let kind = try table.choice("optimizer", OptimizerSpec.Kind.allCases.map(\.rawValue), default: "adam")
        var optimizer = OptimizerSpec(kind: OptimizerSpec.Kind(rawValue: kind) ?? .adam)
        let defaultRate = optimizer.kind == .sgd ? 0.01 : 0.001
        let rate = Float(try table.double("learning_rate", default: defaultRate, in: 1e-12...100))
        optimizer.schedule = try readSchedule(table, learningRate: rate, epochsHint: training.epochs)
        training.decayEpochs = try table.int("decay_epochs", in: 1...1 << 20)
        if training.decayEpochs != nil {
            if try table.int("decay_steps", in: 1...Int.max) != nil {
                throw table.error("give the schedule's length once: decay_steps or decay_epochs", key: "decay_epochs")
            }
            switch optimizer.schedule {
            case .exponentialDecay, .cosineDecay: break
            default: throw table.error("decay_epochs needs a decaying schedule (exponential or cosine)", key: "decay_epochs")
            }
        }
        optimizer.momentum = Float(try table.double("momentum", default: 0, in: 0...1))
        optimizer.nesterov = try table.bool("nesterov", default: false)
        optimizer.rho = Float(try table.double("rho", default: 0.9, in: 0...1))
        optimizer.centered = try table.bool("centered", default: false)
        optimizer.beta1 = Float(try table.double("beta_1", default: 0.9, in: 0...1))
        optimizer.beta2 = Float(try table.double("beta_2", default: 0.999, in: 0...1))
        optimizer.epsilon = Float(try table.double("epsilon", default: 1e-7, in: 0...1))
        optimizer.amsgrad = try table.bool("amsgrad", default: false)
        optimizer.weightDecay = Float(try table.double("weight_decay", default: 0.004, in: 0...1))
        optimizer.clipping = Clipping(norm: try table.double("clipnorm", in: 1e-12...1e12).map(Float.init),
                                      value: try table.double("clipvalue", in: 1e-12...1e12).map(Float.init),
                                      globalNorm: try table.double("global_clipnorm", in: 1e-12...1e12).map(Float.init))
        training.optimizer = optimizer
        // The one loss a pipeline trains with (its logits' labels are class ids); the key is
        // checked so that a pipeline naming another is refused, not silently changed.
        let losses = ["sparse_categorical_crossentropy"]
        _ = try table.choice("loss", losses, default: losses[0])
        training.loss = .sparseCategoricalCrossentropy
        let monitors = ["val_loss", "val_accuracy", "loss", "accuracy"]
        if let stopping = try table.table("early_stopping") {
            var value = EarlyStoppingConfig()
            value.monitor = try stopping.choice("monitor", monitors, default: "val_loss")
            value.patience = try stopping.int("patience", default: 0, in: 0...100_000)
            value.minDelta = try stopping.double("min_delta", default: 0, in: 0...1e9)
            value.restoreBestWeights = try stopping.bool("restore_best_weights", default: false)
            try stopping.finish()
            training.earlyStopping = value
        }
        if let plateau = try table.table("reduce_lr_on_plateau") {
            var value = ReduceLROnPlateauConfig()
            value.monitor = try plateau.choice("monitor", monitors, default: "val_loss")
            value.factor = try plateau.double("factor", default: 0.1, in: 1e-6...0.999999)
            value.patience = try plateau.int("patience", default: 10, in: 0...100_000)
            value.minDelta = try plateau.double("min_delta", default: 1e-4, in: 0...1e9)
            value.cooldown = try plateau.int("cooldown", default: 0, in: 0...100_000)
            value.minLearningRate = try plateau.double("min_lr", default: 0, in: 0...100)
            try plateau.finish()
            training.reduceLROnPlateau = value
        }
        if let checkpoint = try table.table("model_checkpoint") {
            training.checkpointMonitor = try checkpoint.choice("monitor", monitors, default: "val_loss")
            training.checkpointSavesBestOnly = try checkpoint.bool("save_best_only", default: true)
            try checkpoint.finish()
        }
        try table.finish()
        config.training = training
    }

    private static func readSchedule(_ table: PipelineTableReader, learningRate: Float, epochsHint: Int) throws(FolioError) -> LearningRateSchedule {
        switch try table.choice("schedule", ["constant", "exponential", "cosine", "piecewise"], default: "constant") {
        case "exponential":
            return .exponentialDecay(initial: learningRate, decaySteps: try table.int("decay_steps", default: Limits.defaultDecaySteps, in: 1...Int.max),
                                     rate: Float(try table.double("decay_rate", default: 0.96, in: 1e-9...1)),
                                     staircase: try table.bool("staircase", default: false))
        case "cosine":
            let warmup = try table.int("warmup_steps", default: 0, in: 0...Int.max)
            let target = try table.double("warmup_target", in: 1e-12...100).map(Float.init)
            return .cosineDecay(initial: learningRate, decaySteps: try table.int("decay_steps", default: Limits.defaultDecaySteps, in: 1...Int.max),
                                alpha: Float(try table.double("alpha", default: 0, in: 0...1)), warmupTarget: target, warmupSteps: warmup)
        case "piecewise":
            let boundaries = try table.array("boundaries") ?? []
            let values = try table.array("values") ?? []
            var steps: [Int] = []
            var rates: [Float] = []
            for case .integer(let step) in boundaries { steps.append(step) }
            for value in values {
                switch value {
                case .float(let x): rates.append(Float(x))
                case .integer(let x): rates.append(Float(x))
                default: break
                }
            }
            guard steps.count == boundaries.count, rates.count == values.count, rates.count == steps.count + 1 else {
                throw table.error("a piecewise schedule needs integer boundaries and one more number in values", key: "values")
            }
            return .piecewiseConstant(boundaries: steps, values: rates)
        default:
            return .constant(learningRate)
        }
    }

    /// The settings as canonical JSON (sorted keys): what stage fingerprints hash.
    func canonicalJSON<Value: Encodable>(_ value: Value) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? [UInt8](encoder.encode(value))) ?? []
    }
}
