/// Exponential, sigmoid and tanh as inlinable straight-line Float code, so that the LSTM's
/// gate loops vectorize; libm's `expf` and `tanhf` are calls the compiler cannot.
///
/// `exp(x) = 2^n * e^r` with `n = round(x / ln 2)`, `r = x - n ln 2` (ln 2 split in two
/// for exactness), `e^r` by its degree-6 Taylor polynomial on |r| <= ln 2 / 2: relative
/// error below 2e-7. ``referenceSigmoid(_:)`` and ``referenceTanh(_:)`` (libm) are the
/// twins the tests compare with.
enum Activations {
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let clamped = min(max(x, -87.3), 88.3)
        // Round to nearest by adding and removing 1.5 * 2^23: plain SSE2 additions, where
        // `rounded()` needs SSE4.1 (not in baseline x86-64) and becomes a libm call per value,
        // which stops the gate loops from vectorizing. Exact for |x| < 2^22 (here < 128).
        let magic: Float = 12_582_912
        let n = (clamped * 1.442_695_04 + magic) - magic
        let r = clamped - n * 0.693_145_751_953_125 - n * 1.428_606_765_330_187e-6
        var p: Float = 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // NaN passes the clamp (so it reaches the loss check) but must not reach Int32(_:),
        // which traps: it fails this comparison and takes -127 (the product stays NaN).
        let exponent = n > -127 ? n : -127
        let scale = Float(bitPattern: UInt32(bitPattern: Int32(exponent) + 127) << 23)
        return p * scale
    }

    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    /// `1 - 2 / (e^(2x) + 1)`: exact at saturation; absolute error about 1e-7 near 0.
    @inline(__always)
    static func tanh(_ x: Float) -> Float { 1 - 2 / (exp(2 * x) + 1) }

    static func referenceSigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
    static func referenceTanh(_ x: Float) -> Float { tanhf(x) }
}

import Foundation
