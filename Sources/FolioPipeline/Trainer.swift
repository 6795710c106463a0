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
    public var checkpointFolder: String
    public var loss = Loss.sparseCategoricalCrossentropy
    /// Hashed word n-grams appended to every batch (the model's embedding must cover them).
    public var ngrams: NgramHashing?

    public init(checkpointFolder: String) { self.checkpointFolder = checkpointFolder }
}

/// Trains a ``Sequential`` model on a ``ShardLoader``, checkpointing so that a run killed at
/// any moment and resumed ends with bit-identical weights.
///
/// Checkpoints are taken only on optimizer-step boundaries (no half-accumulated gradient to
/// save); a resumed run redoes the micro-batches after the last one. Everything random is a
/// function of seeds and counters: the loader's order of (seed, epoch), dropout masks of
/// (seed, micro-step). So weights, optimizer state, loader state and the step counters
/// are the whole state.
public final class Trainer {
    public let model: Sequential
    public let optimizer: any Optimizer
    public let loader: ShardLoader
    public let options: TrainingOptions
    /// Tests: stop (as if killed) after this many micro-batches in this process.
    public var stopAfterMicroBatches: Int?

    public init(model: Sequential, optimizer: any Optimizer, loader: ShardLoader, options: TrainingOptions) {
        self.model = model
        self.optimizer = optimizer
        self.loader = loader
        self.options = options
    }

    /// Trains to the end of the last epoch, from the folder's checkpoint when `resume`.
    /// Returns the loss of every micro-batch run in this call.
    @discardableResult
    public func fit(resume: Bool = false) throws(FolioError) -> [Double] {
        var start = LoaderState(epoch: 0)
        var microSteps = 0
        if resume, let checkpoint = try Checkpoint.read(folder: options.checkpointFolder) {
            try checkpoint.restore(model: model, optimizer: optimizer, folder: options.checkpointFolder)
            start = checkpoint.loader
            microSteps = checkpoint.microSteps
        }
        let accumulator = GradientAccumulator(steps: options.accumulationSteps)
        model.arena.zeroGradients()
        var losses: [Double] = []
        var ranHere = 0
        for epoch in start.epoch..<options.epochs {
            let batches = loader.epoch(epoch, resumingFrom: epoch == start.epoch ? start : nil)
            while let batch = try batches.next() {
                model.step = UInt64(microSteps)
                let tokens = tokenBatch(batch, ngrams: options.ngrams)
                let loss = try model.trainStep(tokens, labels: batch.labels, loss: options.loss, optimizer: optimizer,
                                               accumulator: accumulator)
                guard loss.isFinite else {
                    throw FolioError("loss is \(loss) at micro-batch \(microSteps + 1): stopping; the last checkpoint is kept",
                                     file: options.checkpointFolder)
                }
                losses.append(loss)
                microSteps += 1
                ranHere += 1
                if accumulator.pending == 0 && options.checkpointEvery > 0 && optimizer.iterations % options.checkpointEvery == 0 {
                    try Checkpoint.write(model: model, optimizer: optimizer, loader: batches.state, microSteps: microSteps,
                                         to: options.checkpointFolder)
                }
                if let stop = stopAfterMicroBatches, ranHere == stop { return losses }
            }
            if accumulator.pending == 0 {
                try Checkpoint.write(model: model, optimizer: optimizer, loader: LoaderState(epoch: epoch + 1), microSteps: microSteps,
                                     to: options.checkpointFolder)
            }
        }
        return losses
    }
}

/// A loader batch as model input, with hashed n-grams appended when asked for.
func tokenBatch(_ batch: Batch, ngrams: NgramHashing?) -> TokenBatch {
    guard let ngrams else { return TokenBatch(rows: batch.rows, length: batch.length, ids: batch.ids, lengths: batch.lengths) }
    let expanded = ngrams.expand(ids: batch.ids, rows: batch.rows, length: batch.length, lengths: batch.lengths)
    return TokenBatch(rows: batch.rows, length: expanded.length, ids: expanded.ids, lengths: expanded.lengths)
}
