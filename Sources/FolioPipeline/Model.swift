import FolioCore
import FolioNN
import FolioShards
import FolioText
import Foundation

/// A classifier with Keras's shape: build, ``compile(optimizer:loss:metrics:)``,
/// ``fit(_:epochs:validation:callbacks:classWeight:accumulationSteps:checkpoints:resume:)``,
/// ``evaluate(_:classes:topK:)``, ``predict(_:)``.
///
/// ```swift
/// let model = try Model([.embedding(outputDim: 64), .lstm(units: 64), .dense(units: 10)], vocabulary: 20_000, seed: 1)
/// try model.compile(optimizer: OptimizerSpec(kind: .adam, schedule: .constant(1e-3)))
/// let history = try model.fit(trainLoader, epochs: 5, validation: validationLoader,
///                             callbacks: [EarlyStopping(patience: 2, restoreBestWeights: true)])
/// ```
/// The loader's batch size is the micro-batch; `accumulationSteps` micro-batches make one
/// optimizer step, so the virtual batch is their product.
public final class Model {
    public let network: Sequential
    public private(set) var optimizer: (any Optimizer)?
    public private(set) var loss = Loss.sparseCategoricalCrossentropy
    /// Hashed n-grams appended to every batch (the embedding's input covers them), and the
    /// TF-IDF weights ``adaptTFIDF(_:)`` fitted.
    public private(set) var features: InputFeatures
    /// Ids the embedding takes: the vocabulary and any n-gram buckets.
    public let inputDim: Int

    /// - Parameter trainable: false for a model that only predicts (half the memory: no
    ///   gradients); ``compile(optimizer:loss:metrics:)`` then refuses it.
    ///   `initializes`: false when the weights are loaded next (``ModelBundle/load(from:trainable:)``).
    ///   `subwords`: character n-grams of the same vocabulary, in the same buckets as `ngrams`
    ///   (appended to a bag model's rows, averaged into a sequence model's steps).
    public init(
        _ layers: [LayerSpec], vocabulary: Int, seed: UInt64, ngrams: NgramHashing? = nil, subwords: SubwordFeatures? = nil,
        trainable: Bool = true, initializes: Bool = true
    ) throws(FolioError) {
        if let subwords {
            guard subwords.vocabularySize == vocabulary, ngrams.map({ $0.buckets == subwords.buckets }) ?? true else {
                throw FolioError("internal: the subwords' vocabulary or buckets are not the model's")
            }
        }
        inputDim = ngrams?.inputDim ?? subwords?.inputDim ?? vocabulary
        network = try Sequential(layers, vocabulary: inputDim, seed: seed, trainable: trainable, initializes: initializes)
        features = InputFeatures(ngrams: ngrams, subwords: subwords?.forLayers(layers))
    }

    private init(network: Sequential, features: InputFeatures, inputDim: Int, loss: Loss) {
        self.network = network
        self.features = features
        self.inputDim = inputDim
        self.loss = loss
    }

    /// A second model over this one's weights, for predicting on another thread
    /// (``Sequential/sharingWeights()``): the weights are held once however many threads predict.
    public func sharingWeights() -> Model {
        Model(network: network.sharingWeights(), features: features, inputDim: inputDim, loss: loss)
    }

    /// Fits TF-IDF weights on one pass over `loader` (Keras's `TextVectorization.adapt`, with
    /// `output_mode="tf_idf"`): from then on every batch reaches the network as weighted bags
    /// (``TFIDFWeighting``). The layers must let weights reach a global average pooling.
    /// With several ranks, each passes over its turns of the epoch (`loader` is the rank's)
    /// and every rank gets the weighting of the whole.
    public func adaptTFIDF(_ loader: ShardLoader, communicator: any Communicator = SingleProcess()) throws(FolioError) {
        try checkTakesWeights()  // before the pass over the corpus, not after it
        try useWeighting(try TFIDFWeighting.fit(loader, features: features, inputDim: inputDim, communicator: communicator))
    }

    /// Uses a fitted weighting (a saved model's); its table must cover ``inputDim`` ids.
    public func useWeighting(_ weighting: TFIDFWeighting) throws(FolioError) {
        try checkTakesWeights()
        guard weighting.idf.count == inputDim else {
            throw FolioError("a TF-IDF table of \(weighting.idf.count) ids for a model of \(inputDim)")
        }
        features.weighting = weighting
    }

    private func checkTakesWeights() throws(FolioError) {
        guard Sequential.weightedPoolingIndex(network.specs) != nil else {
            throw FolioError("TF-IDF weighting needs \(Sequential.weightedPoolingRule)")
        }
    }

    /// Keras's metric names this model reports (accuracy, always computed, as the loss
    /// implies it: ``Metrics/accuracy(_:loss:targets:labels:)``).
    public static let metricNames: Set<String> = ["accuracy", "sparse_categorical_accuracy"]

    /// Sets the optimizer and loss; a metric Folio does not compute is an error rather than
    /// silently missing from the history.
    public func compile(optimizer: OptimizerSpec, loss: Loss = .sparseCategoricalCrossentropy, metrics: [String] = ["accuracy"]) throws(FolioError) {
        guard network.arena.hasGradients else {
            throw FolioError("this model was built to predict only (trainable: false): it cannot be compiled for training")
        }
        if let unknown = metrics.first(where: { !Self.metricNames.contains($0) }) {
            throw FolioError("metric '\(unknown)' is not computed (known: \(Self.metricNames.sorted().joined(separator: ", ")))")
        }
        self.optimizer = optimizer.make(arena: network.arena)
        self.loss = loss
    }

    /// Trains; returns the history (one ``EpochLogs`` per epoch). With `checkpoints`, a
    /// folder is kept that `resume: true` continues from exactly.
    @discardableResult
    public func fit(
        _ train: ShardLoader, epochs: Int, validation: ShardLoader? = nil, callbacks: [any Callback] = [],
        classWeight: [Int: Float]? = nil, accumulationSteps: Int = 1, checkpoints: String? = nil, checkpointEvery: Int = 0,
        resume: Bool = false, onProgress: ((TrainingProgress) -> Void)? = nil
    ) throws(FolioError) -> [EpochLogs] {
        let options = TrainingOptions(checkpointFolder: checkpoints, epochs: epochs, accumulationSteps: accumulationSteps,
                                      checkpointEvery: checkpointEvery, classWeight: classWeight, classes: train.shards.manifest.labels.count)
        let trainer = try trainer(train, validation: validation, options: options, callbacks: callbacks)
        trainer.onProgress = onProgress
        try trainer.fit(resume: resume)
        return trainer.history
    }

    /// The ``Trainer`` of this compiled model, its loss and input features (n-grams, TF-IDF)
    /// set from the model: ``fit(_:epochs:validation:callbacks:classWeight:accumulationSteps:checkpoints:checkpointEvery:resume:onProgress:)``
    /// and ``TrainingSession`` both train through it, so neither can pair a model with
    /// another's features.
    public func trainer(
        _ train: ShardLoader, validation: ShardLoader?, options: TrainingOptions, callbacks: [any Callback],
        communicator: any Communicator = SingleProcess()
    ) throws(FolioError) -> Trainer {
        guard let optimizer else { throw FolioError("compile the model before fit") }
        try train.shards.requireLabels()
        try validation?.shards.requireLabels()
        var options = options
        options.loss = loss
        options.features = features
        return Trainer(model: network, optimizer: optimizer, loader: train, validation: validation, options: options, callbacks: callbacks,
                       communicator: communicator)
    }

    public func evaluate(
        _ loader: ShardLoader, classes: Int? = nil, topK: Int? = nil, communicator: any Communicator = SingleProcess()
    ) throws(FolioError) -> EvaluationResult {
        try loader.shards.requireLabels()
        return try Evaluation.evaluate(network, loader: loader, classes: classes, loss: loss, features: features, topK: topK,
                                       communicator: communicator)
    }

    /// Class probabilities `[rows, classes]` (softmax of the logits). `unknownText`: per row,
    /// the text of its `<oov>` tokens, which a model with subwords reads.
    public func predict(_ batch: TokenBatch, unknownText: [[String]] = []) throws(FolioError) -> Tensor {
        Activation(.softmax).forward(try network.forward(features(batch, unknownText: unknownText), training: false))
    }

    /// scikit-learn's `class_weight="balanced"`: `n / (classes * count_c)` per class.
    public static func balancedClassWeights(counts: [Int]) -> [Int: Float] {
        let total = counts.reduce(0, +)
        var weights: [Int: Float] = [:]
        for (label, count) in counts.enumerated() where count > 0 {
            weights[label] = Float(Double(total) / (Double(counts.count) * Double(count)))
        }
        return weights
    }
}
