/// `y = x W + b` over `rows` rows of `inputDim` floats and its gradients, on Folio's kernels
/// (``PackedMatrix`` and ``KernelSet/multiplyTransposed``): what Dense does over its rows
/// and Conv1D over its windows laid out as rows. OpenBLAS's products, which these replace,
/// order their sums by the kernel family it loads for the CPU; these order them the same on
/// every machine that runs the same path, and the AVX2 and AVX-512 paths alike.
enum AffineProduct {
    /// y (`rows x units`) = x (`rows x inputDim`) · kernel (`inputDim x units`) + bias;
    /// writes every element of y.
    static func forward(
        rows: Int, inputDim: Int, units: Int, _ x: UnsafePointer<Float>, kernel: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        into y: UnsafeMutablePointer<Float>, kernels: KernelSet
    ) {
        let packed = PackedMatrix(kernel, k: inputDim, n: units, ldb: units)
        packed.multiply(m: rows, x, lda: inputDim, bias: bias, into: y, ldc: units, accumulate: false, kernels: kernels)
    }

    /// kernelGradient += xᵀ · dy; dx (`rows x inputDim`) = dy · kernelᵀ, every element written.
    /// The bias gradient (dy's column sums) is the caller's.
    static func backward(
        rows: Int, inputDim: Int, units: Int, _ x: UnsafePointer<Float>, dy: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
        kernelGradient: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>, kernels: KernelSet
    ) {
        kernels.multiplyTransposed(m: inputDim, n: units, k: rows, x, lda: inputDim, dy, ldb: units, into: kernelGradient, ldc: units)
        let transposed = PackedMatrix(kernel, k: units, n: inputDim, ldb: units, transposed: true)
        transposed.multiply(m: rows, dy, lda: units, into: dx, ldc: inputDim, accumulate: false, kernels: kernels)
    }
}
