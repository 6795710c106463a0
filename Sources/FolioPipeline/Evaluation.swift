import FolioCore
import FolioNN
import FolioShards
import FolioText

/// Loss, accuracy, macro-F1 and the per-class report of a model on a shard set.
public struct EvaluationResult: Sendable, Codable {
    public var loss: Double
    public var examples: Int
    public var report: ClassificationReport
}

public enum Evaluation {
    /// Runs `model` (inference mode) over one epoch of `loader`, in its order.
    public static func evaluate(
        _ model: Sequential, loader: ShardLoader, classes: Int, loss: Loss = .sparseCategoricalCrossentropy,
        ngrams: NgramHashing? = nil
    ) throws(FolioError) -> EvaluationResult {
        var actual: [Int] = []
        var predicted: [Int] = []
        var total = 0.0
        let batches = loader.epoch(0)
        while let batch = try batches.next() {
            let output = try model.forward(tokenBatch(batch, ngrams: ngrams), training: false)
            total += try loss.evaluate(output, labels: batch.labels).0 * Double(batch.rows)
            let width = output.count / max(1, batch.rows)
            for row in 0..<batch.rows {
                predicted.append(Metrics.argmax(output.values[row * width..<(row + 1) * width]))
                actual.append(Int(batch.labels[row]))
            }
        }
        return EvaluationResult(
            loss: actual.isEmpty ? 0 : total / Double(actual.count), examples: actual.count,
            report: ClassificationReport(actual: actual, predicted: predicted, classes: classes))
    }
}
