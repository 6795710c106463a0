import Foundation

/// The negative-sampling objective of one input vector `x` against output rows `o_0`
/// (the true word) and `o_1 ... o_k` (noise words):
/// `L = −log σ(x·o_0) − Σ_{i≥1} log σ(−x·o_i)`.
///
/// The plain twins of the word2vec kernels (CFolioKernels): the tests check this against
/// finite differences, and every kernel path against this.
public enum NegativeSampling {
    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    /// L at `input` and `rows` (the first the true word).
    public static func loss(input: [Float], rows: [[Float]]) -> Double {
        var total = 0.0
        for (index, row) in rows.enumerated() {
            let f = zip(input, row).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            total -= log(sigmoid(index == 0 ? f : -f))
        }
        return total
    }

    /// word2vec's update, step by step as the kernel takes it: for each row in order,
    /// `g = rate · (label − σ(x·o))`, gradient += g·o, o += g·x. Returns the gradient
    /// (`−rate · ∂L/∂x` with every row's contribution taken before that row moved).
    public static func referenceUpdate(input: [Float], rows: inout [[Float]], rate: Float) -> [Float] {
        var gradient = [Float](repeating: 0, count: input.count)
        for index in rows.indices {
            let f = zip(input, rows[index]).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let g = Float(Double(rate) * ((index == 0 ? 1 : 0) - sigmoid(f)))
            for j in input.indices {
                gradient[j] += g * rows[index][j]
                rows[index][j] += g * input[j]
            }
        }
        return gradient
    }

    /// The update with `kernels` (for the tests that hold every path to the twin).
    public static func update(input: [Float], rows: inout [[Float]], rate: Float, kernels: KernelSet) -> [Float] {
        var gradient = [Float](repeating: 0, count: input.count)
        var storage = rows.flatMap { $0 }
        let dim = input.count
        storage.withUnsafeMutableBufferPointer { flat in
            let pointers = (0..<rows.count).map { Optional(flat.baseAddress! + $0 * dim) }
            input.withUnsafeBufferPointer { x in
                gradient.withUnsafeMutableBufferPointer { out in
                    kernels.negativeSampling(input: x.baseAddress!, rows: pointers, count: rows.count, dim: dim, rate: rate,
                                             gradient: out.baseAddress!)
                }
            }
        }
        rows = (0..<rows.count).map { Array(storage[$0 * dim..<($0 + 1) * dim]) }
        return gradient
    }
}
