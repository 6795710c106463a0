import Foundation

/// Exponential, sigmoid and tanh on eight floats at a time (``Vector``), written with SIMD
/// types because the compiler does not vectorize them from scalar loops: the gate loops of
/// the recurrent layers ran one float at a time (measured: a third of an LSTM training
/// step). The GRU and the ``Activation`` layer use these; the LSTM's gate loops went on to
/// C kernels built for wider vectors (``LSTMRows``). The scalar forms run the same code
/// on one value, for the places that see few values (its other lanes are wasted: a concrete
/// vector type is what makes the compiler emit vector instructions; a generic over the
/// width ran element by element, at a third of the speed).
///
/// `exp(x) = 2^n * e^r` with `n = round(x / ln 2)`, `r = x - n ln 2` (ln 2 split in two
/// for exactness), `e^r` by its degree-6 Taylor polynomial on |r| <= ln 2 / 2: relative
/// error below 2e-7. ``referenceSigmoid(_:)`` and ``referenceTanh(_:)`` (libm) are the
/// twins the tests compare with.
enum Activations {
    typealias Vector = SIMD8<Float>

    @inline(__always)
    static func exp(_ x: Vector) -> Vector {
        // NaN fails both comparisons and stays NaN, so a diverging loss still shows.
        var clamped = x.replacing(with: 88.3, where: x .> 88.3)
        clamped.replace(with: -87.3, where: clamped .< -87.3)
        // Round to nearest by adding and removing 1.5 * 2^23 (plain SSE2 additions; there is
        // no rounding instruction in baseline x86-64). The sum's low mantissa bits then hold
        // n itself, which gives 2^n by integer arithmetic alone: no float-to-int conversion.
        let magic: Float = 12_582_912
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        let r = clamped - n * 0.693_145_751_953_125 - n * 1.428_606_765_330_187e-6
        var p = Vector(repeating: 1.0 / 720)
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // n is in -126...127 after the clamp: a normal exponent field, never 0 or 255.
        let nBits = unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- magic.bitPattern
        let scale = unsafeBitCast((nBits &+ 127) &<< 23, to: Vector.self)
        return p * scale
    }

    @inline(__always)
    static func sigmoid(_ x: Vector) -> Vector { 1 / (1 + exp(-x)) }

    /// `1 - 2 / (e^(2x) + 1)`: exact at saturation; absolute error about 1e-7 near 0.
    @inline(__always)
    static func tanh(_ x: Vector) -> Vector { 1 - 2 / (exp(2 * x) + 1) }

    @inline(__always) static func exp(_ x: Float) -> Float { exp(Vector(repeating: x))[0] }
    @inline(__always) static func sigmoid(_ x: Float) -> Float { sigmoid(Vector(repeating: x))[0] }
    @inline(__always) static func tanh(_ x: Float) -> Float { tanh(Vector(repeating: x))[0] }

    /// `count` (at most 8) floats from `pointer`; the lanes past `count` are 0.
    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>, count: Int = 8) -> Vector {
        if count == 8 { return UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self) }
        return loadPart(pointer, count: count)
    }

    /// Stores the first `count` (at most 8) lanes of `value` at `pointer`.
    @inline(__always)
    static func store(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>, count: Int = 8) {
        if count == 8 { return UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector.self) }
        storePart(value, pointer, count: count)
    }

    // Out of line: only a width that is not a multiple of 8 ends a row with a part.
    @inline(never)
    static func loadPart(_ pointer: UnsafePointer<Float>, count: Int) -> Vector {
        var value = Vector()
        for lane in 0..<count { value[lane] = pointer[lane] }
        return value
    }

    @inline(never)
    static func storePart(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>, count: Int) {
        for lane in 0..<count { pointer[lane] = value[lane] }
    }

    /// Applies `function` to every float of `values` in place, eight at a time.
    @inline(__always)
    static func apply(_ function: (Vector) -> Vector, to values: UnsafeMutableBufferPointer<Float>) {
        guard let base = values.baseAddress else { return }
        for start in stride(from: 0, to: values.count, by: 8) {
            let width = min(8, values.count - start)
            store(function(load(base + start, count: width)), base + start, count: width)
        }
    }

    static func referenceSigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
    static func referenceTanh(_ x: Float) -> Float { tanhf(x) }
}
