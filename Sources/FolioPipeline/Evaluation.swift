import FolioCore
import FolioNN
import FolioShards
import FolioText

/// Loss, accuracy, macro-F1 and the per-class report of a model on a shard set.
public struct EvaluationResult: Sendable, Codable {
    public var loss: Double
    public var examples: Int
    public var accuracy: Double
    /// Top-k accuracy for the k asked for (nil when not asked).
    public var topK: Double?
    /// With the class count known: precision, recall, F1 per class, confusion matrix.
    public var report: ClassificationReport?
}

public enum Evaluation {
    /// Runs `model` (inference mode) over one epoch of `loader`, in its order. With
    /// `classes`, also the per-class report.
    public static func evaluate(
        _ model: Sequential, loader: ShardLoader, classes: Int?, loss: Loss = .sparseCategoricalCrossentropy,
        features: InputFeatures = InputFeatures(), topK: Int? = nil
    ) throws(FolioError) -> EvaluationResult {
        var actual: [Int] = []
        var predicted: [Int] = []
        var total = 0.0
        var inTopK = 0
        let batches = loader.epoch(0)
        while let batch = try batches.next() {
            let output = try model.forward(features(batch), training: false)
            total += try loss.evaluate(output, labels: batch.labels).0 * Double(batch.rows)
            let width = output.count / max(1, batch.rows)
            for row in 0..<batch.rows {
                predicted.append(Metrics.argmax(output.values[row * width..<(row + 1) * width]))
                actual.append(Int(batch.labels[row]))
            }
            if let topK { inTopK += Int((Metrics.topK(output, labels: batch.labels, k: topK) * Double(batch.rows)).rounded()) }
        }
        let correct = zip(actual, predicted).filter { $0 == $1 }.count
        return EvaluationResult(
            loss: actual.isEmpty ? 0 : total / Double(actual.count), examples: actual.count,
            accuracy: actual.isEmpty ? 0 : Double(correct) / Double(actual.count),
            topK: topK.map { _ in actual.isEmpty ? 0 : Double(inTopK) / Double(actual.count) },
            report: classes.map { ClassificationReport(actual: actual, predicted: predicted, classes: $0) })
    }
}
