import FolioCore
import Foundation

/// Mean cross-entropy of integer labels against logits (`fromLogits: true`), computed
/// with the log-sum-exp shift so that large logits do not overflow.
public enum SparseCategoricalCrossentropy {
    /// The loss and its gradient with respect to the logits `[rows, classes]`. With
    /// `rowWeights` (class weights looked up per row), row r's loss and gradient are scaled
    /// by its weight and the sum still divided by the row count, as Keras's `class_weight`.
    public static func lossAndGradient(logits: Tensor, labels: [UInt32], rowWeights: [Float]? = nil) throws(FolioError) -> (Double, Tensor) {
        let rows = logits.shape[0]
        let classes = logits.shape[1]
        var gradient = Tensor(zeros: logits.shape)
        var total = 0.0
        for row in 0..<rows {
            let label = Int(labels[row])
            guard label < classes else {
                throw FolioError("SparseCategoricalCrossentropy: label \(label) at row \(row) is outside 0..<\(classes)")
            }
            let slice = logits.values[row * classes..<(row + 1) * classes]
            let shift = Double(slice.max() ?? 0)
            let sum = slice.reduce(0.0) { $0 + exp(Double($1) - shift) }
            let logSum = log(sum) + shift
            let weight = Double(rowWeights?[row] ?? 1)
            total += weight * (logSum - Double(logits.values[row * classes + label]))
            for j in 0..<classes {
                let probability = exp(Double(logits.values[row * classes + j]) - logSum)
                gradient.values[row * classes + j] = Float(weight * (probability - (j == label ? 1 : 0)) / Double(rows))
            }
        }
        let loss = total / Double(rows)
        guard loss.isFinite else { throw FolioError("SparseCategoricalCrossentropy: the loss is not finite (\(loss))") }
        return (loss, gradient)
    }
}
