import FolioCore
import FolioNN
import FolioShards
import FolioText

/// One path from a configuration to a training run: the model, its loaders, optimizer,
/// callbacks and ``Trainer``, built from a ``PipelineConfig`` and the training shards.
/// `folio run` (and so `folio sweep`, which runs it) and `folio train` train through it;
/// a caller adds its own callbacks after Folio's (a tuner's pruning callback, say).
///
/// ```swift
/// let session = try TrainingSession(config: config, train: shards, vocabularySize: vocabulary.count,
///                                   checkpoints: "run/checkpoints", metrics: "run", callbacks: [myCallback])
/// try session.trainer.fit(resume: false)
/// ```
public final class TrainingSession {
    public let config: PipelineConfig
    public let model: Model
    /// The training windows (the validation share held out when there is one).
    public let loader: ShardLoader
    public let validation: ShardLoader?
    public let trainer: Trainer
    /// How many vocabulary tokens the pretrained vectors covered (nil: none were named).
    public let pretrainedMatch: PretrainedMatch?

    /// - Parameters:
    ///   - config: validated here (``PipelineConfig/validate()``); its corpus and data
    ///     stages are not read, only the model, loader and training settings.
    ///   - validation: the documents a pipeline held out (``Holdout/keeps(_:corpusPath:)``). Without it,
    ///     `training.validation_split` holds out records of `train` instead (`folio train`
    ///     on a shard set, as Keras's `fit` takes the last part of its arrays).
    ///   - vocabularySize: ids of the vocabulary the shards were encoded with.
    ///   - checkpoints: the checkpoint folder (nil: none, so no resume).
    ///   - metrics: where `metrics.jsonl` and `metrics.csv` go (nil: not written).
    ///   - stopRequest: honoured at optimizer-step boundaries (``TrainingOptions/stopRequest``).
    ///   - tokens: the vocabulary's tokens in id order, which pretrained vectors
    ///     (``PipelineConfig/ModelConfig/pretrained``) are matched to.
    ///   - communicator: the ranks of a distributed run (``Trainer``); each trains on its
    ///     turns of the plan; the TF-IDF table (each rank counting its turns of one pass) and
    ///     class weights come from all the data.
    public init(
        config: PipelineConfig, train: ShardSet, validation held: ShardSet? = nil, vocabularySize: Int, checkpoints: String?, metrics: String?,
        callbacks extra: [any Callback] = [], stopRequest: StopRequest? = nil, tokens: [String]? = nil,
        communicator: any Communicator = SingleProcess()
    ) throws(FolioError) {
        try config.validate()
        let config = try config.sizingOutput(labels: train.manifest.labels.count)
        self.config = config
        let ngrams = config.model.ngrams > 1
            ? NgramHashing(order: config.model.ngrams, buckets: config.model.buckets, vocabularySize: vocabularySize) : nil
        let model = try Model(config.model.layers, vocabulary: vocabularySize, seed: config.seed, ngrams: ngrams,
                              subwords: try Self.subwordFeatures(config.model, tokens: tokens, vocabularySize: vocabularySize, train: train))
        model.network.threads = config.threads
        if config.training.lazyEmbeddingUpdates { model.network.makeEmbeddingsRowSparse() }
        pretrainedMatch = try Self.startFromVectors(config.model.pretrained, model: model, tokens: tokens)
        let training = config.training
        var options = config.loader
        options.seed = config.seed
        if training.validationSplit > 0 && held == nil {
            options.holdout = Holdout(fraction: training.validationSplit, seed: config.seed, yieldsHeldOut: false)
        }
        if config.model.weighting == .tfidf {
            // Each rank counts every N-th micro-batch of the fitting pass; the counts are summed.
            var fitting = options
            (fitting.rank, fitting.worldSize, fitting.groupSize) = (communicator.rank, communicator.size, 1)
            try model.adaptTFIDF(try ShardLoader(shards: train, options: fitting), communicator: communicator)
        }
        (options.rank, options.worldSize, options.groupSize) = (communicator.rank, communicator.size, training.accumulationSteps)
        var loader = try ShardLoader(shards: train, options: options)
        var optimizer = training.optimizer
        if let epochs = training.decayEpochs {
            // Optimizer steps run on across epoch ends (an epoch of 13 micro-batches with 2 a
            // step makes 19 steps in 3 epochs, not 3 x 7), so the schedule counts all epochs' micro-batches.
            let virtual = training.accumulationSteps * communicator.size
            optimizer.schedule = optimizer.schedule.withDecaySteps(max(1, epochs * loader.batchesPerEpoch / virtual))
        }
        try model.compile(optimizer: optimizer, loss: training.loss)
        let dealsRows = training.keepsEmbeddingRowsWhole == nil && config.model.subwords == nil
            && model.optimizer.map { ShardedEmbedding.applies(to: model.network, optimizer: $0, communicator: communicator) } == true
        if dealsRows {
            // Every rank runs every micro-batch (the plan is the same for any rank).
            var whole = options
            (whole.rank, whole.worldSize, whole.groupSize) = (0, 1, training.accumulationSteps * communicator.size)
            loader = try ShardLoader(shards: train, options: whole)
        }
        var validation: ShardLoader?
        if training.validationSplit > 0 {
            var heldOptions = options
            heldOptions.groupSize = 1  // each rank evaluates its turns of the held-out batches
            heldOptions.shuffle = false
            heldOptions.batchSize = config.evaluationBatchSize
            heldOptions.holdout?.yieldsHeldOut = true
            validation = try ShardLoader(shards: held ?? train, options: heldOptions)
        }
        var callbacks: [any Callback] = []
        if let metrics {
            callbacks += [MetricsLogger(path: metrics + "/metrics.jsonl", format: .jsonLines), MetricsLogger(path: metrics + "/metrics.csv", format: .csv)]
        }
        if let plateau = training.reduceLROnPlateau {
            callbacks.append(ReduceLROnPlateau(monitor: plateau.monitor, factor: plateau.factor, patience: plateau.patience,
                                               minDelta: plateau.minDelta, cooldown: plateau.cooldown, minLearningRate: plateau.minLearningRate))
        }
        if let monitor = training.checkpointMonitor, let checkpoints {
            callbacks.append(ModelCheckpoint(path: checkpoints + "/best.safetensors", monitor: monitor, saveBestOnly: training.checkpointSavesBestOnly))
        }
        if let stopping = training.earlyStopping {
            callbacks.append(EarlyStopping(monitor: stopping.monitor, patience: stopping.patience, minDelta: stopping.minDelta,
                                           restoreBestWeights: stopping.restoreBestWeights))
        }
        let classWeight = training.balancedClassWeight
            ? Model.balancedClassWeights(counts: try train.labelCounts { options.holdout?.yields($0) ?? true }) : nil
        var trainingOptions = TrainingOptions(checkpointFolder: checkpoints, epochs: training.epochs, accumulationSteps: training.accumulationSteps,
                                              checkpointEvery: training.checkpointEvery, classWeight: classWeight, classes: train.manifest.labels.count)
        trainingOptions.checkpointSeconds = training.checkpointSeconds
        trainingOptions.maxSamples = training.maxSamples
        trainingOptions.maxSeconds = training.maxSeconds
        trainingOptions.stopRequest = stopRequest
        trainingOptions.dealsEmbeddingRows = dealsRows
        self.model = model
        self.loader = loader
        self.validation = validation
        trainer = try model.trainer(loader, validation: validation, options: trainingOptions, callbacks: callbacks + extra,
                                    communicator: communicator)
    }
}

extension TrainingSession {
    /// The model's character n-grams (`[model] minn`/`maxn`), from the vocabulary's tokens;
    /// nil without the keys. Unknown words get theirs only from shards that keep their text,
    /// so shards without it are refused rather than read with most of the feature missing.
    static func subwordFeatures(
        _ model: PipelineConfig.ModelConfig, tokens: [String]?, vocabularySize: Int, train: ShardSet
    ) throws(FolioError) -> SubwordFeatures? {
        guard let hashing = model.subwords else { return nil }
        guard let tokens, tokens.count == vocabularySize else {
            throw FolioError("[model] minn and maxn need the vocabulary's tokens (pass --vocabulary, or keep vocabulary.tsv beside the shards)")
        }
        for index in train.manifest.shards.indices where !(try train.reader(forShard: index).keepsUnknownText) {
            throw FolioError("[model] minn and maxn need shards that keep unknown words' text (`folio shard --keep-unknown-text`; `folio run` does so for such a model)",
                             file: train.path(ofShard: index))
        }
        return SubwordFeatures(table: SubwordTable(hashing: hashing, tokens: tokens), buckets: model.buckets)
    }

    /// Copies pretrained vectors into the embedding's rows (and freezes it when asked);
    /// errors name the pipeline key as well as the vectors file.
    static func startFromVectors(_ pretrained: PipelineConfig.PretrainedEmbedding?, model: Model, tokens: [String]?) throws(FolioError) -> PretrainedMatch? {
        guard let pretrained else { return nil }
        let key = "model.layers[0].weights"
        guard let tokens else { throw FolioError("\(key): vectors are matched to the vocabulary by token, and no vocabulary was given", file: pretrained.path) }
        let match: PretrainedMatch
        do throws(FolioError) {
            match = try model.network.embedding.load(vectorsAt: pretrained.path, tokens: tokens, arena: model.network.arena)
        } catch {
            var named = error
            named.message = "\(key): " + error.message
            throw named
        }
        if !pretrained.trainable { model.network.freezeEmbedding() }
        return match
    }
}

extension PretrainedMatch: CustomStringConvertible {
    /// One line for the user: how much of the vocabulary the vectors cover.
    public var description: String {
        let total = matched + unmatched
        let share = total > 0 ? Double(matched) / Double(total) * 100 : 0
        return "pretrained vectors: \(matched) of \(total) vocabulary tokens matched (\(String(format: "%.1f", share)) %); "
            + "\(unmatched) unmatched rows keep Keras's random start; \(unused) vectors of other words unused"
    }
}
