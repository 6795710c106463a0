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
    /// `classes`, also the per-class report. Counts, never per-example lists, so memory does
    /// not grow with the shard set. Distributed (a loader made for this rank of
    /// `communicator`'s), each rank evaluates its batches and the counts and loss sums are
    /// added across ranks: every rank gets the figures of the whole set.
    public static func evaluate(
        _ model: Sequential, loader: ShardLoader, classes: Int?, loss: Loss = .sparseCategoricalCrossentropy,
        features: InputFeatures = InputFeatures(), topK: Int? = nil, communicator: any Communicator = SingleProcess()
    ) throws(FolioError) -> EvaluationResult {
        guard loader.options.worldSize == communicator.size, loader.options.rank == communicator.rank else {
            throw FolioError("rank \(communicator.rank): the evaluation loader is made for rank \(loader.options.rank) of \(loader.options.worldSize)")
        }
        let size = classes ?? 0
        // [loss sum, examples, correct, in top k, confusion[actual][predicted]...]: doubles,
        // exact for counts below 2^53, so that one reduction carries them all.
        var figures = [Double](repeating: 0, count: 4 + size * size)
        let batches = loader.epoch(0)
        while let batch = try batches.next() {
            let output = try model.forward(features(batch), training: false)
            figures[0] += try loss.evaluate(output, labels: batch.labels).0 * Double(batch.rows)
            figures[1] += Double(batch.rows)
            let width = output.count / max(1, batch.rows)
            for row in 0..<batch.rows {
                let predicted = Metrics.argmax(output.values[row * width..<(row + 1) * width])
                let actual = Int(batch.labels[row])
                if predicted == actual { figures[2] += 1 }
                if actual < size && predicted < size { figures[4 + actual * size + predicted] += 1 }
            }
            if let topK { figures[3] += (Metrics.topK(output, labels: batch.labels, k: topK) * Double(batch.rows)).rounded() }
        }
        try communicator.allReduceSum(&figures)
        let examples = Int(figures[1])
        let confusion = (0..<size).map { actual in (0..<size).map { Int(figures[4 + actual * size + $0]) } }
        return EvaluationResult(
            loss: examples == 0 ? 0 : figures[0] / Double(examples), examples: examples,
            accuracy: examples == 0 ? 0 : figures[2] / Double(examples),
            topK: topK.map { _ in examples == 0 ? 0 : figures[3] / Double(examples) },
            report: classes.map { _ in ClassificationReport(confusion: confusion) })
    }
}
