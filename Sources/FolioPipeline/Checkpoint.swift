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

    /// Writes a checkpoint of `model` and `optimizer` into `folder`.
    static func write(
        model: Sequential, optimizer: any Optimizer, state: TrainingState, to folder: String, failpoints: inout Failpoints
    ) throws(FolioError) {
        let microSteps = state.microSteps
        if mkdir(folder, 0o755) != 0 && errno != EEXIST {
            throw FolioError("cannot create the checkpoint folder: \(FolioError.systemMessage(errno))", file: folder)
        }
        let weights = "weights-\(microSteps).safetensors"
        let optimizerName = "optimizer-\(microSteps).safetensors"
        let weightsChecksum = try model.save(to: folder + "/" + weights)
        failpoints.pass("checkpoint-write")
        let optimizerChecksum = try optimizer.state.save(to: folder + "/" + optimizerName, metadata: ["iterations": String(optimizer.iterations)])
        let checkpoint = Checkpoint(
            weightsFile: weights, weightsChecksum: weightsChecksum,
            optimizerFile: optimizerName, optimizerChecksum: optimizerChecksum,
            optimizerSteps: optimizer.iterations, learningRateFactor: optimizer.learningRateFactor, training: state)
        try writeJSON(checkpoint, to: folder + "/" + fileName)
        // Only now are the older pairs unneeded.
        for name in sortedDirectoryEntries(of: folder) ?? []
        where (name.hasPrefix("weights-") || name.hasPrefix("optimizer-")) && name != weights && name != optimizerName {
            unlink(folder + "/" + name)
        }
    }

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
