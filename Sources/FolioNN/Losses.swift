import FolioCore
import Foundation

/// Losses with Keras's names and arguments. Each returns the mean loss and its gradient
/// with respect to the model's output (logits or probabilities), computed stably: softmax
/// and sigmoid cross-entropies go through log-sum-exp and log1p(exp(-|x|)).
public enum Loss: Sendable, Hashable, Codable {
    /// Integer labels against `[rows, classes]` logits.
    case sparseCategoricalCrossentropy
    /// One-hot (or soft) targets `[rows, classes]` against logits; targets are smoothed to
    /// `y (1 - s) + s / classes`.
    case categoricalCrossentropy(labelSmoothing: Double)
    /// 0/1 targets against one output per target: logits, or probabilities clipped to
    /// [1e-7, 1 - 1e-7] as Keras does.
    case binaryCrossentropy(fromLogits: Bool)
    case meanSquaredError

    /// - Parameter targets: one value per output for the categorical, binary and squared
    ///   losses; ignored for the sparse loss (it takes `labels`).
    ///   `rowWeights` weigh the sparse loss's rows (class weights).
    public func evaluate(_ output: Tensor, targets: [Float] = [], labels: [UInt32] = [], rowWeights: [Float]? = nil) throws(FolioError) -> (Double, Tensor) {
        switch self {
        case .sparseCategoricalCrossentropy:
            return try SparseCategoricalCrossentropy.lossAndGradient(logits: output, labels: labels, rowWeights: rowWeights)
        case .categoricalCrossentropy(let smoothing):
            try checkTargets(output, targets)
            let (rows, classes) = (output.shape[0], output.shape[1])
            var gradient = Tensor(zeros: output.shape)
            var total = 0.0
            for row in 0..<rows {
                let slice = output.values[row * classes..<(row + 1) * classes]
                let shift = Double(slice.max() ?? 0)
                let logSum = log(slice.reduce(0.0) { $0 + exp(Double($1) - shift) }) + shift
                for j in 0..<classes {
                    let target = Double(targets[row * classes + j]) * (1 - smoothing) + smoothing / Double(classes)
                    let logProbability = Double(output.values[row * classes + j]) - logSum
                    total -= target * logProbability
                    gradient.values[row * classes + j] = Float((exp(logProbability) - target) / Double(rows))
                }
            }
            return try finite(total / Double(rows), gradient)
        case .binaryCrossentropy(let fromLogits):
            try checkTargets(output, targets)
            let count = Double(output.count)
            var gradient = Tensor(zeros: output.shape)
            var total = 0.0
            for index in 0..<output.count {
                let y = Double(targets[index])
                let x = Double(output.values[index])
                if fromLogits {
                    // max(x, 0) - x y + log(1 + e^-|x|)
                    total += max(x, 0) - x * y + log1p(exp(-abs(x)))
                    gradient.values[index] = Float((1 / (1 + exp(-x)) - y) / count)
                } else {
                    let p = min(max(x, 1e-7), 1 - 1e-7)
                    total -= y * log(p) + (1 - y) * log(1 - p)
                    gradient.values[index] = x == p ? Float((p - y) / (p * (1 - p)) / count) : 0
                }
            }
            return try finite(total / count, gradient)
        case .meanSquaredError:
            try checkTargets(output, targets)
            var gradient = Tensor(zeros: output.shape)
            var total = 0.0
            for index in 0..<output.count {
                let difference = Double(output.values[index]) - Double(targets[index])
                total += difference * difference
                gradient.values[index] = Float(2 * difference / Double(output.count))
            }
            return try finite(total / Double(output.count), gradient)
        }
    }

    private func checkTargets(_ output: Tensor, _ targets: [Float]) throws(FolioError) {
        guard targets.count == output.count else {
            throw FolioError("\(self): \(targets.count) targets for an output of shape \(output.shape)")
        }
    }

    private func finite(_ loss: Double, _ gradient: Tensor) throws(FolioError) -> (Double, Tensor) {
        guard loss.isFinite else { throw FolioError("\(self): the loss is not finite (\(loss))") }
        return (loss, gradient)
    }
}
