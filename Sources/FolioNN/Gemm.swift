import CBLAS

/// Matrix products: C = alpha * op(A) * op(B) + beta * C, row-major Float32.
///
/// ``sgemm`` goes to OpenBLAS; ``referenceSgemm`` is its plain twin (three loops, Double
/// accumulation) that tests compare it with.
public enum Gemm {
    /// OpenBLAS threads for every product that follows; set once, explicitly (DESIGN.md:
    /// never left to fight with our own threads).
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The kernel family OpenBLAS chose at load time (`Prescott`, `Haswell`, `SkylakeX`, ...).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "" }
        return String(cString: name)
    }

    /// - Parameters: A is m x k (k x m when `transposeA`), B is k x n (n x k when
    ///   `transposeB`), C is m x n; `lda`, `ldb`, `ldc` are their row strides, packed
    ///   rows when nil (a stride lets a product read or write every n-th row of a
    ///   buffer, such as one sequence's steps in a time-major one).
    @inline(__always)
    public static func sgemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: UnsafePointer<Float>, lda: Int? = nil, _ b: UnsafePointer<Float>, ldb: Int? = nil, beta: Float = 0,
        _ c: UnsafeMutablePointer<Float>, ldc: Int? = nil
    ) {
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda ?? (transposeA ? m : k)), b, Int32(ldb ?? (transposeB ? k : n)),
            beta, c, Int32(ldc ?? n))
    }

    /// `y += x` over `count` floats (BLAS saxpy).
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        cblas_saxpy(Int32(count), 1, x, 1, y, 1)
    }

    public static func referenceSgemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: [Float], _ b: [Float], beta: Float = 0, _ c: inout [Float]
    ) {
        for row in 0..<m {
            for column in 0..<n {
                var sum = 0.0
                for inner in 0..<k {
                    let left = transposeA ? a[inner * m + row] : a[row * k + inner]
                    let right = transposeB ? b[column * k + inner] : b[inner * n + column]
                    sum += Double(left) * Double(right)
                }
                c[row * n + column] = Float(Double(alpha) * sum + Double(beta) * Double(c[row * n + column]))
            }
        }
    }
}
