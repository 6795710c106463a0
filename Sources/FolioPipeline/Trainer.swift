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
    /// At most one checkpoint in this many seconds (PyTorch Lightning's `train_time_interval`):
    /// an epoch's end, or a `checkpointEvery` step, sooner than that after the last checkpoint
    /// (or the start of `fit`) writes none; the end of training and a stop always write one.
    /// A run killed in between resumes from the checkpoint before, as exactly. Nil: every one.
    public var checkpointSeconds: Double?
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
    /// A distributed run compares a hash of the weights across ranks every this many
    /// optimizer steps and at every epoch's end (a mismatch is an error).
    public var weightCheckEvery = 100
    /// A distributed run of a bag model trained by plain SGD with lazy updates deals the
    /// embedding table's rows between the ranks (``ShardedEmbedding``) instead of splitting
    /// the batches; the loader must then be made for one rank (every rank runs every
    /// micro-batch). Other models and optimizers train data-parallel whatever this says.
    public var dealsEmbeddingRows = false

    public init(checkpointFolder: String? = nil) { self.checkpointFolder = checkpointFolder }

    /// The options every way of training sets (a pipeline's `[training]` table, `Model.fit`'s
    /// arguments): one place turns them into a trainer's settings. `classWeight` (Keras's, by
    /// label id; a label it leaves out weighs 1) is sized to the shard set's `classes`.
    public init(
        checkpointFolder: String?, epochs: Int, accumulationSteps: Int, checkpointEvery: Int, classWeight: [Int: Float]?, classes: Int
    ) {
        self.init(checkpointFolder: checkpointFolder)
        self.epochs = epochs
        self.accumulationSteps = accumulationSteps
        self.checkpointEvery = checkpointEvery
        classWeights = classWeight.map { weights in (0..<classes).map { weights[$0] ?? 1 } }
    }
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
///
/// Distributed (a ``Communicator`` of N ranks, the loader made for this rank with
/// `groupSize` = accumulation steps k): every rank walks the same plan of micro-batches,
/// running its own and passing over the others', so that an optimizer step falls at the
/// same place on every rank: after N * k micro-batches, when ``GradientReduction`` sums
/// the ranks' gradients. Dropout masks follow the plan's index, so N ranks x k compute
/// what one rank x N * k computes. Epoch figures are summed across ranks before the
/// callbacks see them; rank 0 alone writes checkpoints and the callbacks' files.
///
/// With ``TrainingOptions/dealsEmbeddingRows`` and a model it applies to, the ranks split
/// the embedding table instead of the batches (``ShardedEmbedding``): every rank runs all
/// N x k micro-batches of a step, each pooling and updating its own rows.
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
    /// Called with each epoch's logs as it ends (after validation and the callbacks). It
    /// reads the logs only: ranks that deal the embedding's rows may not have gathered them.
    public var onEpochEnd: ((EpochLogs) -> Void)?
    /// Tests: stop (as if killed) after this many micro-batches in this process.
    public var stopAfterMicroBatches: Int?
    /// Crash tests: `FOLIO_FAILPOINT` unless set (``Failpoints``).
    public var failpoints = Failpoints.fromEnvironment()
    public let communicator: any Communicator
    /// The gradient reduction of a distributed run (its seconds and bytes), once `fit` ran.
    public private(set) var reduction: GradientReduction?
    /// The dealt embedding table of a distributed run that deals rows, once `fit` ran.
    private(set) var shardedEmbedding: ShardedEmbedding?
    /// The last checkpoint's commit (fsyncs, renames, `checkpoint.json`), going on while
    /// training does; finished before the next checkpoint starts and before `fit` returns.
    private var committing: BackgroundCommit?
    /// When the last checkpoint was written, or `fit` began (``TrainingOptions/checkpointSeconds``).
    private var lastCheckpoint = ContinuousClock.now
    /// Checkpoints this trainer wrote, and those ``TrainingOptions/checkpointSeconds`` skipped.
    private(set) var checkpointsWritten = 0
    private(set) var checkpointsSkipped = 0
    /// Whether this run's ranks split the batches (data parallelism); false for one
    /// process, and for ranks that deal the embedding's rows and each run every batch.
    private lazy var splitsBatches: Bool =
        communicator.isDistributed && !(options.dealsEmbeddingRows && ShardedEmbedding.applies(to: model, optimizer: optimizer, communicator: communicator))

    public init(model: Sequential, optimizer: any Optimizer, loader: ShardLoader, validation: ShardLoader? = nil,
                options: TrainingOptions, callbacks: [any Callback] = [], communicator: any Communicator = SingleProcess()) {
        self.model = model
        self.optimizer = optimizer
        self.loader = loader
        self.validation = validation
        self.options = options
        self.callbacks = callbacks
        self.communicator = communicator
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
        let losses: [Double]
        do throws(FolioError) {
            if let stopRequest = options.stopRequest {
                losses = try stopRequest.listening { () throws(FolioError) in try fitListening(resume: resume) }
            } else {
                losses = try fitListening(resume: resume)
            }
        } catch {
            // The first error is the one to report; a checkpoint that then failed to commit
            // leaves the one before it in place.
            try? committed()
            throw error
        }
        try committed()
        return losses
    }

    /// Waits for the checkpoint committing in the background, if any.
    private func committed() throws(FolioError) {
        defer { committing = nil }
        try committing?.wait()
    }

    private func fitListening(resume: Bool) throws(FolioError) -> [Double] {
        // Callbacks write into it before the first checkpoint does (an early stopping's best
        // weights), so it must exist from the start.
        if let folder = options.checkpointFolder { try makeFolder(folder) }
        lastCheckpoint = ContinuousClock.now
        var start = LoaderState(epoch: 0)
        var run = Run(started: ContinuousClock.now, secondsBefore: 0)
        if resume, let folder = options.checkpointFolder, let checkpoint = try Checkpoint.read(folder: folder) {
            try checkpoint.restore(model: model, optimizer: optimizer, folder: folder)
            start = checkpoint.loader
            run.microSteps = checkpoint.microSteps
            // The sums are every rank's: rank 0 carries them on, the others start from zero
            // (ranks that each run every batch all carry them on).
            run.sums = communicator.isWriter || !splitsBatches ? checkpoint.epochSums : EpochSums()
            history = checkpoint.history
            for callback in callbacks { callback.state = checkpoint.callbackStates[callback.name] ?? [:] }
            if checkpoint.finished { return [] }
        }
        let samplesBefore = communicator.isWriter || !splitsBatches ? history.reduce(0) { $0 + $1.samples } + run.sums.examples : 0
        run = Run(microSteps: run.microSteps, sums: run.sums, samplesSeen: samplesBefore,
                  started: run.clock.now, secondsBefore: history.reduce(0) { $0 + $1.seconds })
        let context = CallbackContext(model: model, optimizer: optimizer, folder: options.checkpointFolder, writes: communicator.isWriter)
        let accumulator = try makeAccumulator()
        model.arena.zeroGradients()
        for epoch in start.epoch..<options.epochs {
            let epochStarted = run.clock.now
            run.tokensThisEpoch = 0
            let batches = loader.epoch(epoch, resumingFrom: epoch == start.epoch ? start : nil)
            if epoch != start.epoch { run.sums = EpochSums() }
            var position = batches.batchesDone  // the plan's micro-batches passed, every rank's
            var budgetSpent = false
            walk: while true {
                let next = try batches.nextIndexed()
                // Other ranks' micro-batches up to this rank's next (or the epoch's end); one
                // process has none to pass over.
                while splitsBatches && position < next?.index ?? loader.batchesPerEpoch {
                    position += 1
                    run.microSteps += 1
                    guard try accumulator.microBatchDone(arena: model.arena, optimizer: optimizer) else { continue }
                    try periodicCheckpoint(epoch: epoch, position: position, run: run)
                    if let signal = try agreedSignal() { try stop(by: signal, epoch: epoch, loader: LoaderState(epoch: epoch, batchesDone: position), run: run) }
                    if try agreedBudgetSpent(run) {
                        budgetSpent = true
                        break walk
                    }
                }
                guard let (index, batch) = next else { break }
                position = index + 1
                try step(batch, epoch: epoch, run: &run, accumulator: accumulator)
                onProgress?(progress(epoch: epoch, batches: batches, run: run, since: epochStarted))
                if accumulator.pending == 0 { try periodicCheckpoint(epoch: epoch, position: position, run: run) }
                if let stop = stopAfterMicroBatches, run.ranHere == stop { return run.losses }
                if accumulator.pending == 0, let signal = try agreedSignal() {
                    try stop(by: signal, epoch: epoch, loader: LoaderState(epoch: epoch, batchesDone: position), run: run)
                }
                failpoints.pass("micro-batch")
                run.samplesSeen += batch.rows
                if accumulator.pending == 0, try agreedBudgetSpent(run) {
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

    /// Steps after `accumulationSteps` micro-batches, or in a distributed run after every
    /// rank's (N x k), with the reduction across ranks before each step.
    private func makeAccumulator() throws(FolioError) -> GradientAccumulator {
        guard communicator.isDistributed else { return GradientAccumulator(steps: options.accumulationSteps) }
        let loaderOptions = loader.options
        if !splitsBatches {
            guard loaderOptions.worldSize == 1 else {
                throw FolioError("rank \(communicator.rank): the embedding's rows are dealt between the ranks, so every rank runs every "
                                 + "micro-batch, but the loader is made for rank \(loaderOptions.rank) of \(loaderOptions.worldSize)")
            }
            let sharded = ShardedEmbedding(model, communicator: communicator)
            shardedEmbedding = sharded
            let accumulator = GradientAccumulator(steps: options.accumulationSteps * communicator.size)
            accumulator.afterStep = { arena in sharded.noteUpdated(arena) }
            return accumulator
        }
        guard loaderOptions.worldSize == communicator.size, loaderOptions.rank == communicator.rank,
              loaderOptions.groupSize == options.accumulationSteps else {
            throw FolioError("rank \(communicator.rank): the loader is made for rank \(loaderOptions.rank) of \(loaderOptions.worldSize) "
                             + "taking \(loaderOptions.groupSize) micro-batches a turn, not rank \(communicator.rank) of \(communicator.size) "
                             + "accumulating \(options.accumulationSteps)")
        }
        let accumulator = GradientAccumulator(steps: options.accumulationSteps * communicator.size)
        let reduction = GradientReduction(communicator: communicator)
        self.reduction = reduction
        reduction.splitsRowUpdates = optimizer.updatesEachRowAlone
        accumulator.beforeStep = { arena throws(FolioError) in try reduction.reduce(arena) }
        accumulator.afterStep = { arena throws(FolioError) in try reduction.shareUpdatedRows(arena) }
        return accumulator
    }

    /// At an optimizer-step boundary: the checkpoint every `checkpointEvery` steps, and in
    /// a distributed run the weight check every `weightCheckEvery` steps.
    private func periodicCheckpoint(epoch: Int, position: Int, run: Run) throws(FolioError) {
        if communicator.isDistributed && optimizer.iterations % max(1, options.weightCheckEvery) == 0 { try checkWeightsAgree() }
        guard options.checkpointEvery > 0 && optimizer.iterations % options.checkpointEvery == 0 else { return }
        if let shardedEmbedding {
            guard try writerCheckpointsNow() else { return }
            try shardedEmbedding.synchronize(model.arena)
        }
        try checkpoint(loader: LoaderState(epoch: epoch, batchesDone: position), microSteps: run.microSteps, sums: try summed(run.sums))
    }

    /// Whether rank 0 writes a checkpoint now, which its folder and clock decide and every
    /// rank hears: ranks that deal the embedding's rows gather them only for one it writes,
    /// as gathering costs a step or more. A checkpoint held back is counted here.
    private func writerCheckpointsNow() throws(FolioError) -> Bool {
        let writer = communicator.isWriter && options.checkpointFolder != nil
        var due = [writer && !checkpointWaits ? 1.0 : 0.0]
        try communicator.allReduceSum(&due)
        if writer && due[0] == 0 { checkpointsSkipped += 1 }
        return due[0] > 0
    }

    /// At an epoch's end, before anything reads the model: ranks that deal the embedding's
    /// rows gather each other's updated rows when validation, a callback, the last epoch's
    /// model or a checkpoint will read the whole table, and otherwise leave them dealt, the
    /// next gathering bringing this epoch's rows with the next's (the bag model's 0.15 s
    /// epochs on the shipped corpus spent a tenth of their time gathering rows that nothing
    /// read). Returns whether the table may be read: always, without dealt rows.
    private func gatherDealtRowsIfRead(lastEpoch: Bool, checkpoints: Bool) throws(FolioError) -> Bool {
        guard let shardedEmbedding else { return true }
        let read = validation != nil || callbacks.contains { $0.readsWeightsOrStops } || lastEpoch
        // `read` is every rank's alike, so every rank asks rank 0 or none does.
        if !read {
            guard checkpoints, try writerCheckpointsNow() else { return false }
        }
        try shardedEmbedding.synchronize(model.arena)
        return true
    }

    /// Whether ``TrainingOptions/checkpointSeconds`` holds back a checkpoint now: sooner than
    /// that after the last one. Only the writer (rank 0, with a folder) asks: its clock decides.
    private var checkpointWaits: Bool {
        guard let interval = options.checkpointSeconds else { return false }
        return (ContinuousClock.now - lastCheckpoint).seconds < interval
    }

    /// The stop signal, if any rank got one (every rank stops at the same step). Ranks that
    /// deal the embedding's rows read the notices that came with the step's last pooled
    /// sums: a signal after those is seen a step later.
    private func agreedSignal() throws(FolioError) -> Int32? {
        guard let request = options.stopRequest else { return nil }
        guard communicator.isDistributed else { return request.signal }
        if let shardedEmbedding {
            guard shardedEmbedding.heard.signal else { return nil }
            return request.signal ?? SIGTERM
        }
        var signals = [Double(request.signal ?? 0)]
        try communicator.allReduceSum(&signals)
        guard signals[0] > 0 else { return nil }
        return request.signal ?? SIGTERM
    }

    /// Whether the budgets are spent: samples counted over every rank, and the time by any
    /// rank's clock (the ranks decide together). Ranks that deal the embedding's rows each
    /// count every sample, and read the time from the notices of the step's last micro-batch
    /// (what the clocks said as it began).
    private func agreedBudgetSpent(_ run: Run) throws(FolioError) -> Bool {
        guard communicator.isDistributed else { return budgetIsSpent(run) }
        if let shardedEmbedding {
            return run.samplesSeen >= options.maxSamples ?? Int.max || shardedEmbedding.heard.outOfTime
        }
        guard options.maxSamples != nil || options.maxSeconds != nil else { return false }
        // Ranks that each run every batch count the samples once.
        var figures = [splitsBatches || communicator.isWriter ? Double(run.samplesSeen) : 0, timeIsSpent(run) ? 1 : 0]
        try communicator.allReduceSum(&figures)
        return Int(figures[0]) >= options.maxSamples ?? Int.max || figures[1] > 0
    }

    /// The epoch's running sums over every rank.
    private func summed(_ sums: EpochSums) throws(FolioError) -> EpochSums {
        guard splitsBatches else { return sums }
        var figures = [sums.loss, Double(sums.correct), Double(sums.examples), Double(sums.tokens)]
        try communicator.allReduceSum(&figures)
        return EpochSums(loss: figures[0], correct: Int(figures[1]), examples: Int(figures[2]), tokens: Int(figures[3]))
    }

    /// Every rank's weights hash the same, or an error naming the ranks that differ.
    private func checkWeightsAgree() throws(FolioError) {
        if Failpoints.perturbsWeights(rank: communicator.rank) { model.arena.values[0] += 1e-3 }
        let hashes = try communicator.allGather(GradientReduction.weightsHash(model.arena, excluding: shardedEmbedding?.table))
        let differing = hashes.indices.filter { hashes[$0] != hashes[0] }
        guard differing.isEmpty else {
            throw FolioError("the weights of rank \(differing.map(String.init).joined(separator: ", ")) differ from rank 0's after optimizer step "
                             + "\(optimizer.iterations): the ranks no longer train the same model; stopping, the last checkpoint is kept",
                             file: options.checkpointFolder)
        }
    }

    /// One micro-batch: forward, loss, backward (the accumulator decides when the optimizer
    /// steps), and the epoch's running sums.
    private func step(_ batch: LoaderBatch, epoch: Int, run: inout Run, accumulator: GradientAccumulator) throws(FolioError) {
        model.step = UInt64(run.microSteps)
        let tokens: TokenBatch
        if let shardedEmbedding {
            let notice = RankNotice(signal: options.stopRequest?.signal != nil, outOfTime: timeIsSpent(run))
            tokens = shardedEmbedding.features(batch, options.features, notice: notice)
        } else {
            tokens = options.features(batch)
        }
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
        run.samplesSeen >= options.maxSamples ?? Int.max || timeIsSpent(run)
    }

    private func timeIsSpent(_ run: Run) -> Bool {
        run.secondsBefore + (run.clock.now - run.started).seconds >= options.maxSeconds ?? .infinity
    }

    /// The epoch's logs (with validation), the callbacks, and the epoch-end checkpoint.
    /// Returns true when training stops here.
    private func endEpoch(
        _ epoch: Int, run: Run, since started: ContinuousClock.Instant, context: CallbackContext, budgetSpent: Bool,
        accumulator: GradientAccumulator
    ) throws(FolioError) -> Bool {
        let sums = try summed(run.sums)
        let lastEpoch = budgetSpent || epoch + 1 == options.epochs
        let tableReadable = try gatherDealtRowsIfRead(lastEpoch: lastEpoch, checkpoints: accumulator.pending == 0)
        // After the gathering: it is the epoch's work, which its seconds and tokens/s count.
        let seconds = (run.clock.now - started).seconds
        if communicator.isDistributed { try checkWeightsAgree() }
        var logs = EpochLogs(
            epoch: epoch + 1, loss: sums.loss / Double(max(1, sums.examples)), accuracy: Double(sums.correct) / Double(max(1, sums.examples)),
            learningRate: Double(optimizer.nextLearningRate), optimizerSteps: optimizer.iterations, samples: sums.examples, seconds: seconds,
            tokensPerSecond: seconds > 0 ? Double(splitsBatches ? sums.tokens : run.tokensThisEpoch) / seconds : 0)
        if let validation {
            let result = try Evaluation.evaluate(model, loader: validation, classes: nil, loss: options.loss, features: options.features,
                                                 communicator: communicator)
            logs.valLoss = result.loss
            logs.valAccuracy = result.accuracy
        }
        history.append(logs)
        for callback in callbacks { try callback.epochEnded(logs, history: history, context: context) }
        onEpochEnd?(logs)
        let finished = context.stopTraining || lastEpoch
        if finished {
            // Rank 0's files (the best weights to restore) are complete before any rank reads them.
            try communicator.barrier()
            for callback in callbacks { try callback.trainingEnded(context: context) }
        }
        // Half an accumulation carries into the next epoch; only a clean boundary is saved;
        // a table left dealt is not (rank 0 had been told so, and counted it held back).
        if (accumulator.pending == 0 || finished) && tableReadable {
            try checkpoint(loader: LoaderState(epoch: epoch + 1), microSteps: run.microSteps, sums: EpochSums(), finished: finished)
        }
        return context.stopTraining || budgetSpent
    }

    /// A signal's stop: the checkpoint of this boundary, then the error that ends `fit`.
    private func stop(by signal: Int32, epoch: Int, loader: LoaderState, run: Run) throws(FolioError) -> Never {
        try shardedEmbedding?.synchronize(model.arena)
        try checkpoint(loader: loader, microSteps: run.microSteps, sums: try summed(run.sums), always: true)
        try committed()
        let name = signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
        let saved = options.checkpointFolder == nil
            ? "no checkpoint folder, so nothing was saved" : "checkpoint saved at that step"
        throw FolioError("interrupted by \(name) in epoch \(epoch + 1) after optimizer step \(optimizer.iterations); \(saved)",
                         file: options.checkpointFolder, signal: signal)
    }

    /// Rank 0 writes (`sums` are every rank's); the other ranks write nothing, so its clock
    /// alone decides whether ``TrainingOptions/checkpointSeconds`` skips one (`always`: a stop's).
    /// The files are written here; their fsyncs and renames, and `checkpoint.json`, follow on
    /// another thread while training goes on (the last checkpoint's at once).
    private func checkpoint(loader: LoaderState, microSteps: Int, sums: EpochSums, finished: Bool = false, always: Bool = false)
        throws(FolioError)
    {
        guard let folder = options.checkpointFolder, communicator.isWriter else { return }
        if !finished && !always && checkpointWaits {
            checkpointsSkipped += 1
            return
        }
        lastCheckpoint = ContinuousClock.now
        checkpointsWritten += 1
        try committed()
        let pending = try PendingCheckpoint(
            model: model, optimizer: optimizer,
            state: Checkpoint.TrainingState(
                loader: loader, microSteps: microSteps, epochSums: sums, history: history,
                callbackStates: Dictionary(callbacks.map { ($0.name, $0.state) }, uniquingKeysWith: { first, _ in first }),
                finished: finished),
            to: folder, failpoints: &failpoints)
        // Killed here, the files wait under temporary names and the checkpoint before stands.
        failpoints.pass("checkpoint-commit")
        if finished { try pending.commit() } else { committing = BackgroundCommit(pending) }
    }
}
