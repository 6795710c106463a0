import FolioCore
import FolioNN
import FolioShards
import FolioText

/// How ``Trainer`` trains.
public struct TrainingOptions: Sendable {
    public var epochs = 1
    /// Micro-batches per optimizer step (virtual batch = loader batch x this).
    public var accumulationSteps = 1
    /// A checkpoint every this many optimizer steps (0: at epoch ends only).
    public var checkpointEvery = 0
    /// Where checkpoints go; nil: none (no resume).
    public var checkpointFolder: String?
    public var loss = Loss.sparseCategoricalCrossentropy
    /// Hashed word n-grams and TF-IDF weights applied to every batch (the model's embedding
    /// must cover the n-grams).
    public var features = InputFeatures()
    /// Per-class loss weights (Keras's `class_weight`), indexed by label id.
    public var classWeights: [Float]?
    /// Budgets: training ends at the first optimizer-step boundary after this many
    /// training examples, or this many seconds of training (the last epoch is then partial).
    public var maxSamples: Int?
    public var maxSeconds: Double?

    public init(checkpointFolder: String? = nil) { self.checkpointFolder = checkpointFolder }
}

/// Where training stands mid-epoch: shown by progress displays.
public struct TrainingProgress: Sendable {
    public var epoch: Int
    public var epochs: Int
    public var batch: Int
    /// Batches in this epoch (exact for one rank).
    public var batches: Int
    public var loss: Double
    public var accuracy: Double
    public var tokensPerSecond: Double
    public var seconds: Double
}

/// Trains a ``Sequential`` model on a ``ShardLoader``, checkpointing so that a run killed at
/// any moment and resumed ends with bit-identical weights (and the same epoch logs but
/// for their timings).
///
/// Checkpoints are taken only on optimizer-step boundaries (no half-accumulated gradient to
/// save); a resumed run redoes the micro-batches after the last one. Everything random is a
/// function of seeds and counters: the loader's order of (seed, epoch), dropout masks of
/// (seed, micro-step). So weights, optimizer state, loader state, step counters, the
/// epoch's running sums, the history and the callbacks' states are the whole state.
public final class Trainer {
    public let model: Sequential
    public let optimizer: any Optimizer
    public let loader: ShardLoader
    public let validation: ShardLoader?
    public let options: TrainingOptions
    public let callbacks: [any Callback]
    /// Epoch logs so far (restored on resume).
    public private(set) var history: [EpochLogs] = []
    public var onProgress: ((TrainingProgress) -> Void)?
    /// Called with each epoch's logs as it ends (after validation and the callbacks).
    public var onEpochEnd: ((EpochLogs) -> Void)?
    /// Tests: stop (as if killed) after this many micro-batches in this process.
    public var stopAfterMicroBatches: Int?
    /// Crash tests: `FOLIO_FAILPOINT` unless set (``Failpoints``).
    public var failpoints = Failpoints.fromEnvironment()

    public init(model: Sequential, optimizer: any Optimizer, loader: ShardLoader, validation: ShardLoader? = nil,
                options: TrainingOptions, callbacks: [any Callback] = []) {
        self.model = model
        self.optimizer = optimizer
        self.loader = loader
        self.validation = validation
        self.options = options
        self.callbacks = callbacks
    }

    /// Running sums of the epoch in progress (part of a checkpoint).
    struct EpochSums: Codable, Sendable, Equatable {
        var loss = 0.0
        var correct = 0
        var examples = 0
        var tokens = 0
    }

    /// Trains to the end of the last epoch (or an early stop), from the folder's checkpoint
    /// when `resume`. Returns the loss of every micro-batch run in this call.
    @discardableResult
    public func fit(resume: Bool = false) throws(FolioError) -> [Double] {
        var start = LoaderState(epoch: 0)
        var microSteps = 0
        var sums = EpochSums()
        // Callbacks write into it before the first checkpoint does (an early stopping's best
        // weights), so it must exist from the start.
        if let folder = options.checkpointFolder { try makeFolder(folder) }
        if resume, let folder = options.checkpointFolder, let checkpoint = try Checkpoint.read(folder: folder) {
            try checkpoint.restore(model: model, optimizer: optimizer, folder: folder)
            start = checkpoint.loader
            microSteps = checkpoint.microSteps
            sums = checkpoint.epochSums
            history = checkpoint.history
            for callback in callbacks { callback.state = checkpoint.callbackStates[callback.name] ?? [:] }
            if checkpoint.finished { return [] }
        }
        let context = CallbackContext(model: model, optimizer: optimizer, folder: options.checkpointFolder)
        let accumulator = GradientAccumulator(steps: options.accumulationSteps)
        let batchesPerEpoch = loader.batchesPerEpoch
        model.arena.zeroGradients()
        var losses: [Double] = []
        var ranHere = 0
        let clock = ContinuousClock()
        let fitStarted = clock.now
        let secondsBefore = history.reduce(0) { $0 + $1.seconds }
        var samplesSeen = history.reduce(0) { $0 + $1.samples } + sums.examples
        var budgetSpent = false
        for epoch in start.epoch..<options.epochs {
            let started = clock.now
            var tokensHere = 0
            let batches = loader.epoch(epoch, resumingFrom: epoch == start.epoch ? start : nil)
            if epoch != start.epoch { sums = EpochSums() }
            while let batch = try batches.next() {
                model.step = UInt64(microSteps)
                let tokens = options.features(batch)
                let weights = options.classWeights.map { weights in batch.labels.map { Int($0) < weights.count ? weights[Int($0)] : 1 } }
                let (loss, output): (Double, Tensor)
                do throws(FolioError) {
                    (loss, output) = try model.trainStep(tokens, labels: batch.labels, loss: options.loss, optimizer: optimizer,
                                                        accumulator: accumulator, rowWeights: weights)
                } catch {
                    throw FolioError("epoch \(epoch + 1), micro-batch \(microSteps + 1): \(error.message)"
                                     + (options.checkpointFolder == nil ? "" : "; stopping, the last checkpoint is kept"),
                                     file: error.file ?? options.checkpointFolder, place: error.place)
                }
                losses.append(loss)
                microSteps += 1
                ranHere += 1
                let lengthSum = batch.lengths.reduce(0) { $0 + Int($1) }
                tokensHere += lengthSum
                sums.tokens += lengthSum
                sums.loss += loss * Double(batch.rows)
                sums.examples += batch.rows
                sums.correct += Int((Metrics.accuracy(output, loss: options.loss, labels: batch.labels) * Double(batch.rows)).rounded())
                if let onProgress {
                    let seconds = (clock.now - started).seconds
                    onProgress(TrainingProgress(
                        epoch: epoch, epochs: options.epochs, batch: batches.batchesDone, batches: batchesPerEpoch,
                        loss: sums.loss / Double(max(1, sums.examples)), accuracy: Double(sums.correct) / Double(max(1, sums.examples)),
                        tokensPerSecond: seconds > 0 ? Double(tokensHere) / seconds : 0, seconds: seconds))
                }
                if accumulator.pending == 0 && options.checkpointEvery > 0 && optimizer.iterations % options.checkpointEvery == 0 {
                    try checkpoint(loader: batches.state, microSteps: microSteps, sums: sums)
                }
                if let stop = stopAfterMicroBatches, ranHere == stop { return losses }
                failpoints.pass("micro-batch")
                samplesSeen += batch.rows
                if accumulator.pending == 0 && (samplesSeen >= options.maxSamples ?? Int.max
                    || secondsBefore + (clock.now - fitStarted).seconds >= options.maxSeconds ?? .infinity) {
                    budgetSpent = true
                    break
                }
            }
            let seconds = (clock.now - started).seconds
            var logs = EpochLogs(
                epoch: epoch + 1, loss: sums.loss / Double(max(1, sums.examples)), accuracy: Double(sums.correct) / Double(max(1, sums.examples)),
                learningRate: Double(optimizer.nextLearningRate), optimizerSteps: optimizer.iterations, samples: sums.examples, seconds: seconds,
                tokensPerSecond: seconds > 0 ? Double(tokensHere) / seconds : 0)
            if let validation {
                let result = try Evaluation.evaluate(model, loader: validation, classes: nil, loss: options.loss, features: options.features)
                logs.valLoss = result.loss
                logs.valAccuracy = result.accuracy
            }
            history.append(logs)
            for callback in callbacks { try callback.epochEnded(logs, history: history, context: context) }
            onEpochEnd?(logs)
            let finished = context.stopTraining || budgetSpent || epoch + 1 == options.epochs
            if finished {
                for callback in callbacks { try callback.trainingEnded(context: context) }
            }
            // Half an accumulation carries into the next epoch; only a clean boundary is saved.
            if accumulator.pending == 0 || finished {
                try checkpoint(loader: LoaderState(epoch: epoch + 1), microSteps: microSteps, sums: EpochSums(), finished: finished)
            }
            if context.stopTraining || budgetSpent { break }
        }
        return losses
    }

    private func checkpoint(loader: LoaderState, microSteps: Int, sums: EpochSums, finished: Bool = false) throws(FolioError) {
        guard let folder = options.checkpointFolder else { return }
        try Checkpoint.write(
            model: model, optimizer: optimizer,
            state: Checkpoint.TrainingState(
                loader: loader, microSteps: microSteps, epochSums: sums, history: history,
                callbackStates: Dictionary(callbacks.map { ($0.name, $0.state) }, uniquingKeysWith: { first, _ in first }),
                finished: finished),
            to: folder, failpoints: &failpoints)
    }
}
