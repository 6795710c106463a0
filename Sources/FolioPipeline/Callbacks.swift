import FolioCore
import FolioNN
import Foundation

/// One epoch's figures, as Keras's `logs` (and one line of `metrics.jsonl`).
public struct EpochLogs: Codable, Sendable, Equatable {
    public var epoch: Int
    public var loss: Double
    public var accuracy: Double
    public var valLoss: Double?
    public var valAccuracy: Double?
    public var learningRate: Double
    public var optimizerSteps: Int
    /// Training examples in the epoch.
    public var samples: Int
    /// Wall time and speed of the epoch (the only figures a resumed run does not repeat
    /// exactly).
    public var seconds: Double
    public var tokensPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case epoch, loss, accuracy, seconds, samples
        case valLoss = "val_loss", valAccuracy = "val_accuracy", learningRate = "learning_rate"
        case optimizerSteps = "optimizer_steps", tokensPerSecond = "tokens_per_s"
    }

    /// A monitored quantity by its Keras name: `loss`, `accuracy`, `val_loss`, `val_accuracy`.
    public func value(of monitor: String) -> Double? {
        switch monitor {
        case "loss": loss
        case "accuracy": accuracy
        case "val_loss": valLoss
        case "val_accuracy": valAccuracy
        default: nil
        }
    }
}

/// What a callback may look at and change at an epoch's end.
public final class CallbackContext {
    public let model: Sequential
    public let optimizer: any Optimizer
    /// Where a callback keeps files that must survive a kill (beside the checkpoint).
    public let folder: String?
    /// Set to end training after this epoch (EarlyStopping).
    public var stopTraining = false
    /// Whether this process writes files (rank 0 of a distributed run; the others decide
    /// the same from the same figures, but leave the files to it).
    public let writes: Bool

    init(model: Sequential, optimizer: any Optimizer, folder: String?, writes: Bool = true) {
        self.model = model
        self.optimizer = optimizer
        self.folder = folder
        self.writes = writes
    }
}

/// Called at each epoch's end with that epoch's logs, in the order given to `fit`.
///
/// A callback's decisions depend on earlier epochs (a best value, a wait count); those
/// live in ``state``, which checkpoints save, so that a resumed run decides exactly as an
/// uninterrupted one.
public protocol Callback: AnyObject {
    var name: String { get }
    var state: [String: Double] { get set }
    func epochEnded(_ logs: EpochLogs, history: [EpochLogs], context: CallbackContext) throws(FolioError)
    /// After the last epoch (or an early stop).
    func trainingEnded(context: CallbackContext) throws(FolioError)
    /// Whether ``epochEnded(_:history:context:)`` may read the model's weights or stop
    /// training: then the ranks of a run that deal an embedding table's rows gather each
    /// other's rows before it runs. True unless the callback reads only the logs.
    var readsWeightsOrStops: Bool { get }
}

extension Callback {
    public func trainingEnded(context: CallbackContext) throws(FolioError) {}
    public var readsWeightsOrStops: Bool { true }
}

/// Tracks the best value of a monitored quantity: lower is better for losses, higher for
/// accuracies (Keras's `mode="auto"`).
struct MonitoredBest {
    let monitor: String
    let minDelta: Double

    var higherIsBetter: Bool { monitor.hasSuffix("accuracy") }

    func improves(_ value: Double, on best: Double?) -> Bool {
        guard let best else { return true }
        return higherIsBetter ? value > best + minDelta : value < best - minDelta
    }

    func value(_ logs: EpochLogs) throws(FolioError) -> Double {
        guard let value = logs.value(of: monitor) else {
            throw FolioError("'\(monitor)' is not in the epoch's logs (is there a validation split?)")
        }
        return value
    }
}

/// Stops training when `monitor` has not improved by `minDelta` for `patience` epochs;
/// with `restoreBestWeights`, the model ends with the best epoch's weights (kept in a file
/// beside the checkpoint, so a resumed run has them too; in memory without a checkpoint
/// folder, as Keras keeps them).
public final class EarlyStopping: Callback {
    public let name = "early_stopping"
    public var state: [String: Double] = [:]
    let tracker: MonitoredBest
    public let patience: Int
    public let restoreBestWeights: Bool
    private var bestWeights: WeightsSnapshot?

    public init(monitor: String = "val_loss", patience: Int = 0, minDelta: Double = 0, restoreBestWeights: Bool = false) {
        tracker = MonitoredBest(monitor: monitor, minDelta: minDelta)
        self.patience = patience
        self.restoreBestWeights = restoreBestWeights
    }

    /// The epoch training stopped after, if it stopped early.
    public var stoppedEpoch: Int? { state["stopped_epoch"].map(Int.init) }

    private func bestFile(_ context: CallbackContext) -> String? { context.folder.map { $0 + "/early-stopping-best.safetensors" } }

    public func epochEnded(_ logs: EpochLogs, history: [EpochLogs], context: CallbackContext) throws(FolioError) {
        let value = try tracker.value(logs)
        if tracker.improves(value, on: state["best"]) {
            state["best"] = value
            state["best_epoch"] = Double(logs.epoch)
            state["wait"] = 0
            if restoreBestWeights {
                if let file = bestFile(context) {
                    if context.writes { try context.model.save(to: file) }
                } else {
                    context.model.snapshot(into: &bestWeights)
                }
            }
            return
        }
        state["wait", default: 0] += 1
        if state["wait", default: 0] >= Double(patience) {
            state["stopped_epoch"] = Double(logs.epoch)
            context.stopTraining = true
        }
    }

    public func trainingEnded(context: CallbackContext) throws(FolioError) {
        guard restoreBestWeights else { return }
        if let bestWeights { return context.model.restore(bestWeights) }
        guard let file = bestFile(context), FileManager.default.fileExists(atPath: file) else { return }
        try context.model.load(from: file)
    }
}

/// Saves the model to `path` at each epoch's end, or with `saveBestOnly` only when
/// `monitor` improved (Keras's ModelCheckpoint).
public final class ModelCheckpoint: Callback {
    public let name = "model_checkpoint"
    public var state: [String: Double] = [:]
    public let path: String
    let tracker: MonitoredBest
    public let saveBestOnly: Bool

    public init(path: String, monitor: String = "val_loss", saveBestOnly: Bool = true) {
        self.path = path
        tracker = MonitoredBest(monitor: monitor, minDelta: 0)
        self.saveBestOnly = saveBestOnly
    }

    public func epochEnded(_ logs: EpochLogs, history: [EpochLogs], context: CallbackContext) throws(FolioError) {
        if saveBestOnly {
            let value = try tracker.value(logs)
            guard tracker.improves(value, on: state["best"]) else { return }
            state["best"] = value
            state["best_epoch"] = Double(logs.epoch)
        }
        if context.writes { try context.model.save(to: path) }
    }
}

/// Multiplies the learning rate by `factor` when `monitor` has not improved for `patience`
/// epochs, then waits `cooldown` epochs; never below `minLearningRate` (Keras's
/// ReduceLROnPlateau). With a schedule, the schedule's rate is scaled.
public final class ReduceLROnPlateau: Callback {
    public let name = "reduce_lr_on_plateau"
    public var state: [String: Double] = [:]
    public var readsWeightsOrStops: Bool { false }
    let tracker: MonitoredBest
    public let factor: Double
    public let patience: Int
    public let cooldown: Int
    public let minLearningRate: Double

    public init(monitor: String = "val_loss", factor: Double = 0.1, patience: Int = 10, minDelta: Double = 1e-4, cooldown: Int = 0,
                minLearningRate: Double = 0) {
        tracker = MonitoredBest(monitor: monitor, minDelta: minDelta)
        self.factor = factor
        self.patience = patience
        self.cooldown = cooldown
        self.minLearningRate = minLearningRate
    }

    public func epochEnded(_ logs: EpochLogs, history: [EpochLogs], context: CallbackContext) throws(FolioError) {
        let value = try tracker.value(logs)
        if state["cooldown", default: 0] > 0 {
            state["cooldown", default: 0] -= 1
            state["wait"] = 0
        }
        if tracker.improves(value, on: state["best"]) {
            state["best"] = value
            state["wait"] = 0
            return
        }
        guard state["cooldown", default: 0] == 0 else { return }
        state["wait", default: 0] += 1
        guard state["wait", default: 0] >= Double(patience) else { return }
        let current = logs.learningRate
        let reduced = max(current * factor, minLearningRate)
        if current > 0 && reduced < current {
            context.optimizer.learningRateFactor = Float(Double(context.optimizer.learningRateFactor) * reduced / current)
        }
        state["cooldown"] = Double(cooldown)
        state["wait"] = 0
    }
}

/// Writes the history so far, one row per epoch, as CSV (Keras's CSVLogger) or JSON
/// lines. The whole file is rewritten atomically at each epoch's end from the history
/// the checkpoint carries, so a resumed run never leaves a row twice.
public final class MetricsLogger: Callback {
    public enum Format: Sendable { case csv, jsonLines }
    public let name = "metrics_logger"
    public var state: [String: Double] = [:]
    public var readsWeightsOrStops: Bool { false }
    public let path: String
    public let format: Format

    public init(path: String, format: Format) {
        self.path = path
        self.format = format
    }

    public func epochEnded(_ logs: EpochLogs, history: [EpochLogs], context: CallbackContext) throws(FolioError) {
        if context.writes { try writeText(Self.render(history, format: format), to: path) }
    }

    static func render(_ history: [EpochLogs], format: Format) -> String {
        switch format {
        case .jsonLines:
            return jsonLines(history)
        case .csv:
            let number = { (value: Double?) in value.map { String($0) } ?? "" }
            return "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,optimizer_steps,seconds,tokens_per_s\n" + history.map {
                [String($0.epoch), number($0.loss), number($0.accuracy), number($0.valLoss), number($0.valAccuracy), number($0.learningRate),
                 String($0.optimizerSteps), number($0.seconds), number($0.tokensPerSecond)].joined(separator: ",") + "\n"
            }.joined()
        }
    }
}
