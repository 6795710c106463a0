import FolioCore
import FolioNN
import FolioShards
import FolioText
import Glibc

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
    /// Asked to stop (SIGINT, SIGTERM): at the next optimizer-step boundary a checkpoint is
    /// written and `fit` throws an error carrying the signal.
    public var stopRequest: StopRequest?

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

    /// Where a `fit` call stands: what the step, the epoch end and the budget check share.
    private struct Run {
        var microSteps = 0
        var sums = EpochSums()
        var losses: [Double] = []
        /// Micro-batches run in this call (tests stop after a number of them).
        var ranHere = 0
        var samplesSeen = 0
        var tokensThisEpoch = 0
        let clock = ContinuousClock()
        let started: ContinuousClock.Instant
        /// Training seconds before this call (a resumed run's history).
        let secondsBefore: Double
    }

    /// Trains to the end of the last epoch (or an early stop), from the folder's checkpoint
    /// when `resume`. Returns the loss of every micro-batch run in this call.
    @discardableResult
    public func fit(resume: Bool = false) throws(FolioError) -> [Double] {
        guard let stopRequest = options.stopRequest else { return try fitListening(resume: resume) }
        return try stopRequest.listening { () throws(FolioError) in try fitListening(resume: resume) }
    }

    private func fitListening(resume: Bool) throws(FolioError) -> [Double] {
        // Callbacks write into it before the first checkpoint does (an early stopping's best
        // weights), so it must exist from the start.
        if let folder = options.checkpointFolder { try makeFolder(folder) }
        var start = LoaderState(epoch: 0)
        var run = Run(started: ContinuousClock.now, secondsBefore: 0)
        if resume, let folder = options.checkpointFolder, let checkpoint = try Checkpoint.read(folder: folder) {
            try checkpoint.restore(model: model, optimizer: optimizer, folder: folder)
            start = checkpoint.loader
            run.microSteps = checkpoint.microSteps
            run.sums = checkpoint.epochSums
            history = checkpoint.history
            for callback in callbacks { callback.state = checkpoint.callbackStates[callback.name] ?? [:] }
            if checkpoint.finished { return [] }
        }
        run = Run(microSteps: run.microSteps, sums: run.sums, samplesSeen: history.reduce(0) { $0 + $1.samples } + run.sums.examples,
                  started: run.clock.now, secondsBefore: history.reduce(0) { $0 + $1.seconds })
        let context = CallbackContext(model: model, optimizer: optimizer, folder: options.checkpointFolder)
        let accumulator = GradientAccumulator(steps: options.accumulationSteps)
        model.arena.zeroGradients()
        for epoch in start.epoch..<options.epochs {
            let epochStarted = run.clock.now
            run.tokensThisEpoch = 0
            let batches = loader.epoch(epoch, resumingFrom: epoch == start.epoch ? start : nil)
            if epoch != start.epoch { run.sums = EpochSums() }
            var budgetSpent = false
            while let batch = try batches.next() {
                try step(batch, epoch: epoch, run: &run, accumulator: accumulator)
                onProgress?(progress(epoch: epoch, batches: batches, run: run, since: epochStarted))
                if accumulator.pending == 0 && options.checkpointEvery > 0 && optimizer.iterations % options.checkpointEvery == 0 {
                    try checkpoint(loader: batches.state, microSteps: run.microSteps, sums: run.sums)
                }
                if let stop = stopAfterMicroBatches, run.ranHere == stop { return run.losses }
                if accumulator.pending == 0, let signal = options.stopRequest?.signal {
                    try stop(by: signal, epoch: epoch, loader: batches.state, run: run)
                }
                failpoints.pass("micro-batch")
                run.samplesSeen += batch.rows
                if accumulator.pending == 0 && budgetIsSpent(run) {
                    budgetSpent = true
                    break
                }
            }
            let stopping = try endEpoch(epoch, run: run, since: epochStarted, context: context, budgetSpent: budgetSpent,
                                        accumulator: accumulator)
            if stopping { break }
        }
        return run.losses
    }

    /// One micro-batch: forward, loss, backward (the accumulator decides when the optimizer
    /// steps), and the epoch's running sums.
    private func step(_ batch: LoaderBatch, epoch: Int, run: inout Run, accumulator: GradientAccumulator) throws(FolioError) {
        model.step = UInt64(run.microSteps)
        let tokens = options.features(batch)
        let weights = options.classWeights.map { weights in batch.labels.map { Int($0) < weights.count ? weights[Int($0)] : 1 } }
        let (loss, output): (Double, Tensor)
        do throws(FolioError) {
            (loss, output) = try model.trainStep(tokens, labels: batch.labels, loss: options.loss, optimizer: optimizer,
                                                accumulator: accumulator, rowWeights: weights)
        } catch {
            throw FolioError("epoch \(epoch + 1), micro-batch \(run.microSteps + 1): \(error.message)"
                             + (options.checkpointFolder == nil ? "" : "; stopping, the last checkpoint is kept"),
                             file: error.file ?? options.checkpointFolder, place: error.place)
        }
        run.losses.append(loss)
        run.microSteps += 1
        run.ranHere += 1
        let lengthSum = batch.lengths.reduce(0) { $0 + Int($1) }
        run.tokensThisEpoch += lengthSum
        run.sums.tokens += lengthSum
        run.sums.loss += loss * Double(batch.rows)
        run.sums.examples += batch.rows
        run.sums.correct += Int((Metrics.accuracy(output, loss: options.loss, labels: batch.labels) * Double(batch.rows)).rounded())
    }

    private func progress(epoch: Int, batches: LoaderEpoch, run: Run, since started: ContinuousClock.Instant) -> TrainingProgress {
        let seconds = (run.clock.now - started).seconds
        return TrainingProgress(
            epoch: epoch, epochs: options.epochs, batch: batches.batchesDone, batches: loader.batchesPerEpoch,
            loss: run.sums.loss / Double(max(1, run.sums.examples)), accuracy: Double(run.sums.correct) / Double(max(1, run.sums.examples)),
            tokensPerSecond: seconds > 0 ? Double(run.tokensThisEpoch) / seconds : 0, seconds: seconds)
    }

    /// The sample and time budgets, checked at optimizer-step boundaries only.
    private func budgetIsSpent(_ run: Run) -> Bool {
        run.samplesSeen >= options.maxSamples ?? Int.max
            || run.secondsBefore + (run.clock.now - run.started).seconds >= options.maxSeconds ?? .infinity
    }

    /// The epoch's logs (with validation), the callbacks, and the epoch-end checkpoint.
    /// Returns true when training stops here.
    private func endEpoch(
        _ epoch: Int, run: Run, since started: ContinuousClock.Instant, context: CallbackContext, budgetSpent: Bool,
        accumulator: GradientAccumulator
    ) throws(FolioError) -> Bool {
        let seconds = (run.clock.now - started).seconds
        let sums = run.sums
        var logs = EpochLogs(
            epoch: epoch + 1, loss: sums.loss / Double(max(1, sums.examples)), accuracy: Double(sums.correct) / Double(max(1, sums.examples)),
            learningRate: Double(optimizer.nextLearningRate), optimizerSteps: optimizer.iterations, samples: sums.examples, seconds: seconds,
            tokensPerSecond: seconds > 0 ? Double(run.tokensThisEpoch) / seconds : 0)
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
            try checkpoint(loader: LoaderState(epoch: epoch + 1), microSteps: run.microSteps, sums: EpochSums(), finished: finished)
        }
        return context.stopTraining || budgetSpent
    }

    /// A signal's stop: the checkpoint of this boundary, then the error that ends `fit`.
    private func stop(by signal: Int32, epoch: Int, loader: LoaderState, run: Run) throws(FolioError) -> Never {
        try checkpoint(loader: loader, microSteps: run.microSteps, sums: run.sums)
        let name = signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
        let saved = options.checkpointFolder == nil
            ? "no checkpoint folder, so nothing was saved" : "checkpoint saved at that step"
        throw FolioError("interrupted by \(name) in epoch \(epoch + 1) after optimizer step \(optimizer.iterations); \(saved)",
                         file: options.checkpointFolder, signal: signal)
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
