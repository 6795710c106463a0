import Foundation

/// The LSTM's per-row gate arithmetic: the fast kernels (C, `CFolioKernels`, one per
/// ``KernelSet`` path) and their plain twins here, which compute the same with libm's
/// `expf` and `tanhf` one float at a time; tests compare every path with them.
///
/// A row's gates are `[4 * units]`, i, f, g, o in order.
enum LSTMRows {
    /// Activates `gates` in place; `c = f * cPrevious + i * g`, `h = o * tanh(c)`.
    static func referenceForward(
        gates: UnsafeMutablePointer<Float>, cPrevious: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
        h: UnsafeMutablePointer<Float>, units: Int
    ) {
        for j in 0..<units {
            let i = Activations.referenceSigmoid(gates[j]), f = Activations.referenceSigmoid(gates[units + j])
            let g = Activations.referenceTanh(gates[2 * units + j]), o = Activations.referenceSigmoid(gates[3 * units + j])
            (gates[j], gates[units + j], gates[2 * units + j], gates[3 * units + j]) = (i, f, g, o)
            c[j] = f * cPrevious[j] + i * g
            h[j] = o * Activations.referenceTanh(c[j])
        }
    }

    /// Replaces the activated `gates` by the gradients of their pre-activations, and `dc`
    /// (the gradient reaching c) by the one reaching `cPrevious`; `dh` reaches h.
    static func referenceBackward(
        gates: UnsafeMutablePointer<Float>, c: UnsafePointer<Float>, cPrevious: UnsafePointer<Float>,
        dh: UnsafePointer<Float>, dc: UnsafeMutablePointer<Float>, units: Int
    ) {
        for j in 0..<units {
            let (i, f, g, o) = (gates[j], gates[units + j], gates[2 * units + j], gates[3 * units + j])
            let tanhC = Activations.referenceTanh(c[j])
            let dcj = dc[j] + dh[j] * o * (1 - tanhC * tanhC)
            gates[j] = dcj * g * i * (1 - i)
            gates[units + j] = dcj * cPrevious[j] * f * (1 - f)
            gates[2 * units + j] = dcj * i * (1 - g * g)
            gates[3 * units + j] = dh[j] * tanhC * o * (1 - o)
            dc[j] = dcj * f
        }
    }
}
