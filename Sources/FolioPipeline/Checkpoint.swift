import FolioCore
import FolioNN
import FolioShards
import Foundation

/// A training checkpoint in a folder: `weights-<step>.safetensors`,
/// `optimizer-<step>.safetensors`, then `checkpoint.json` naming them with their CRC-32C and
/// the rest of the training state (loader position, step counters, the epoch's running
/// sums, the history, the callbacks' states). `checkpoint.json` is written last and atomically,
/// so it always names a complete pair: a run killed at any moment, even mid-write, resumes
/// from the last complete checkpoint; older pairs are removed after it.
public struct Checkpoint: Codable, Sendable, Equatable {
    public static let fileName = "checkpoint.json"

    /// Everything but the weights and the optimizer's buffers.
    struct TrainingState: Codable, Sendable, Equatable {
        /// Where the loader resumes.
        var loader: LoaderState
        /// Micro-batches trained so far (the dropout step of the next one).
        var microSteps: Int
        var epochSums: Trainer.EpochSums
        var history: [EpochLogs]
        var callbackStates: [String: [String: Double]]
        /// Training ended (last epoch or early stop): resuming has nothing to do.
        var finished: Bool
    }

    public var weightsFile: String
    public var weightsChecksum: UInt32
    public var optimizerFile: String
    public var optimizerChecksum: UInt32
    public var optimizerSteps: Int
    public var learningRateFactor: Float
    var training: TrainingState

    var loader: LoaderState { training.loader }
    var microSteps: Int { training.microSteps }
    var epochSums: Trainer.EpochSums { training.epochSums }
    var history: [EpochLogs] { training.history }
    var callbackStates: [String: [String: Double]] { training.callbackStates }
    public var finished: Bool { training.finished }

    /// The folder's checkpoint, or nil when there is none; a corrupt one is an error.
    public static func read(folder: String) throws(FolioError) -> Checkpoint? {
        let path = folder + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let checkpoint = try readJSON(Checkpoint.self, from: path, what: "checkpoint")
        // The file names come from the JSON: only names inside this folder are followed.
        for name in [checkpoint.weightsFile, checkpoint.optimizerFile]
        where name.isEmpty || name.contains("/") || name == "." || name == ".." || name.utf8.contains(0) {
            throw FolioError("'\(name)' is not a file name in the checkpoint folder", file: path)
        }
        for (name, expected) in [(checkpoint.weightsFile, checkpoint.weightsChecksum), (checkpoint.optimizerFile, checkpoint.optimizerChecksum)] {
            guard try CRC32C.checksum(ofFile: folder + "/" + name) == expected else {
                throw FolioError("checksum does not match checkpoint.json (corrupt checkpoint)", file: folder + "/" + name)
            }
        }
        return checkpoint
    }

    /// Loads the checkpoint's weights and optimizer state.
    func restore(model: Sequential, optimizer: any Optimizer, folder: String) throws(FolioError) {
        try model.load(from: folder + "/" + weightsFile)
        let metadata = try optimizer.state.load(from: folder + "/" + optimizerFile)
        optimizer.restore(iterations: Int(metadata["iterations"] ?? "") ?? optimizerSteps)
        optimizer.learningRateFactor = learningRateFactor
    }
}

/// A checkpoint whose files are written but not yet durable: the weights and the optimizer's
/// state are with the kernel under temporary names (so training may change the model
/// again), and ``commit()`` does the rest: fsync and rename both, write `checkpoint.json`
/// naming them, remove older pairs. The fsyncs of a large table take longer than writing
/// it (0.16 s against 0.04-0.1 s for 100 MB here), so the trainer commits on another thread.
///
/// `@unchecked Sendable`: the trainer hands it whole to the thread that commits it and
/// touches it no more until that thread is done.
final class PendingCheckpoint: @unchecked Sendable {
    private let folder: String
    private let weights: AtomicFile
    private let optimizerState: AtomicFile
    private let checkpoint: Checkpoint

    init(model: Sequential, optimizer: any Optimizer, state: Checkpoint.TrainingState, to folder: String, failpoints: inout Failpoints)
        throws(FolioError)
    {
        self.folder = folder
        let microSteps = state.microSteps
        if mkdir(folder, 0o755) != 0 && errno != EEXIST {
            throw FolioError("cannot create the checkpoint folder: \(FolioError.systemMessage(errno))", file: folder)
        }
        let weightsName = "weights-\(microSteps).safetensors"
        let optimizerName = "optimizer-\(microSteps).safetensors"
        weights = try model.saveUncommitted(to: folder + "/" + weightsName)
        failpoints.pass("checkpoint-write")
        optimizerState = try optimizer.state.saveUncommitted(to: folder + "/" + optimizerName, metadata: ["iterations": String(optimizer.iterations)])
        checkpoint = Checkpoint(
            weightsFile: weightsName, weightsChecksum: weights.checksum.value,
            optimizerFile: optimizerName, optimizerChecksum: optimizerState.checksum.value,
            optimizerSteps: optimizer.iterations, learningRateFactor: optimizer.learningRateFactor, training: state)
    }

    func commit() throws(FolioError) {
        try weights.commit()
        try optimizerState.commit()
        try writeJSON(checkpoint, to: folder + "/" + Checkpoint.fileName)
        // Only now are the older pairs unneeded.
        for name in sortedDirectoryEntries(of: folder) ?? []
        where (name.hasPrefix("weights-") || name.hasPrefix("optimizer-")) && name != checkpoint.weightsFile && name != checkpoint.optimizerFile {
            unlink(folder + "/" + name)
        }
    }
}

/// A ``PendingCheckpoint`` committing on its own thread; ``wait()`` returns once it is done,
/// with its error if it failed.
final class BackgroundCommit: Sendable {
    private let done = DispatchGroup()
    private let failure = Locked<FolioError?>(nil)

    init(_ pending: PendingCheckpoint) {
        done.enter()
        DispatchQueue.global().async { [done, failure] in
            do throws(FolioError) { try pending.commit() } catch { failure.withLock { $0 = error } }
            done.leave()
        }
    }

    func wait() throws(FolioError) {
        done.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
