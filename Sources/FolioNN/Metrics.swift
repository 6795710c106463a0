/// Classification metrics with scikit-learn's definitions (`zero_division = 0`).
public struct ClassificationReport: Sendable, Codable, Equatable {
    public var accuracy: Double
    public var macroF1: Double
    public var precision: [Double]
    public var recall: [Double]
    public var f1: [Double]
    public var support: [Int]
    /// `confusion[actual][predicted]`, as scikit-learn's `confusion_matrix`.
    public var confusion: [[Int]]

    public init(actual: [Int], predicted: [Int], classes: Int) {
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (a, p) in zip(actual, predicted) { confusion[a][p] += 1 }
        self.init(confusion: confusion)
    }

    /// From counts alone (`confusion[actual][predicted]`, square), so that a stream of
    /// any length is reported in memory of its class count.
    public init(confusion: [[Int]]) {
        let classes = confusion.count
        let total = confusion.reduce(0) { $0 + $1.reduce(0, +) }
        let correct = (0..<classes).reduce(0) { $0 + confusion[$1][$1] }
        let support = confusion.map { $0.reduce(0, +) }
        let predictedCounts = (0..<classes).map { column in confusion.reduce(0) { $0 + $1[column] } }
        let precision = (0..<classes).map { predictedCounts[$0] == 0 ? 0 : Double(confusion[$0][$0]) / Double(predictedCounts[$0]) }
        let recall = (0..<classes).map { support[$0] == 0 ? 0 : Double(confusion[$0][$0]) / Double(support[$0]) }
        let f1 = (0..<classes).map { precision[$0] + recall[$0] == 0 ? 0 : 2 * precision[$0] * recall[$0] / (precision[$0] + recall[$0]) }
        self.support = support
        self.precision = precision
        self.recall = recall
        self.f1 = f1
        macroF1 = classes == 0 ? 0 : f1.reduce(0, +) / Double(classes)
        accuracy = total == 0 ? 0 : Double(correct) / Double(total)
        self.confusion = confusion
    }

    enum CodingKeys: String, CodingKey {
        case accuracy, precision, recall, f1, support, confusion
        case macroF1 = "macro_f1"
    }
}

public enum Metrics {
    /// Accuracy as the loss implies it, which is the pitfall Keras's docs warn about: a
    /// binary loss on one output per row thresholds it (at 0 for logits, 0.5 for
    /// probabilities) against 0/1 targets; the categorical losses compare the arg-max with
    /// the label (or the target's arg-max).
    public static func accuracy(_ output: Tensor, loss: Loss, targets: [Float] = [], labels: [UInt32] = []) -> Double {
        switch loss {
        case .binaryCrossentropy(let fromLogits):
            let threshold: Float = fromLogits ? 0 : 0.5
            let hits = zip(output.values, targets).filter { ($0 > threshold) == ($1 > 0.5) }.count
            return output.count == 0 ? 0 : Double(hits) / Double(output.count)
        case .sparseCategoricalCrossentropy, .categoricalCrossentropy, .meanSquaredError:
            let (rows, classes) = (output.shape[0], output.count / max(1, output.shape[0]))
            var hits = 0
            for row in 0..<rows {
                let predicted = argmax(output.values[row * classes..<(row + 1) * classes])
                let actual = labels.isEmpty ? argmax(targets[row * classes..<(row + 1) * classes]) : Int(labels[row])
                if predicted == actual { hits += 1 }
            }
            return rows == 0 ? 0 : Double(hits) / Double(rows)
        }
    }

    /// Share of rows whose label is among the `k` highest scores; ties count against, as
    /// scikit-learn's `top_k_accuracy_score` breaks them by class order.
    public static func topK(_ scores: Tensor, labels: [UInt32], k: Int) -> Double {
        let (rows, classes) = (scores.shape[0], scores.shape[1])
        var hits = 0
        for row in 0..<rows {
            let label = Int(labels[row])
            let own = scores.values[row * classes + label]
            let above = (0..<classes).filter { j in
                let other = scores.values[row * classes + j]
                return other > own || (other == own && j < label)
            }.count
            if above < k { hits += 1 }
        }
        return rows == 0 ? 0 : Double(hits) / Double(rows)
    }

    /// Index of the largest value; the first on ties.
    public static func argmax(_ values: ArraySlice<Float>) -> Int {
        var best = values.startIndex
        for index in values.indices where values[index] > values[best] { best = index }
        return best - values.startIndex
    }
}
