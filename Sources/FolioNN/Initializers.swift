import FolioCore

/// Uniform draws for initialization: one named stream of the model's seed.
public struct SplitMixSource {
    var generator: SplitMix64
    public init(seed: UInt64) { generator = SplitMix64(seed: seed) }
    public mutating func unit() -> Double { generator.nextUnit() }
    /// A standard normal draw (Box-Muller).
    public mutating func normal() -> Double {
        let u = max(unit(), 1e-300)
        return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * unit())
    }
}

enum Initializers {
    /// Keras's `orthogonal` for a `rows` x `columns` matrix: the orthonormal factor of a
    /// normal matrix, by modified Gram-Schmidt over the longer side.
    static func orthogonal(rows: Int, columns: Int, random: inout SplitMixSource) -> [Float] {
        let long = max(rows, columns)
        let short = min(rows, columns)
        // `short` orthonormal vectors of length `long`.
        var vectors = (0..<short).map { _ in (0..<long).map { _ in random.normal() } }
        for index in 0..<short {
            for previous in 0..<index {
                let dot = zip(vectors[index], vectors[previous]).reduce(0) { $0 + $1.0 * $1.1 }
                for k in 0..<long { vectors[index][k] -= dot * vectors[previous][k] }
            }
            let norm = vectors[index].reduce(0) { $0 + $1 * $1 }.squareRoot()
            for k in 0..<long { vectors[index][k] /= norm }
        }
        var result = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            for c in 0..<columns {
                result[r * columns + c] = Float(rows <= columns ? vectors[r][c] : vectors[c][r])
            }
        }
        return result
    }
}

import Foundation

extension String {
    /// FNV-1a of the UTF-8 bytes: a hash that, unlike `hashValue`, is the same in every run.
    var hashValueStable: UInt64 {
        FNV1a64.hash(utf8).value
    }
}
