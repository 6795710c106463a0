import CFolioKernels

/// A weight matrix B (`k x n`) packed once for many products `A · B` with small blocks of
/// rows: a recurrent layer multiplies each step's rows, or each sequence's steps, by the
/// same kernel, and a general GEMM would pack it again on every call (`folio_pack` and each
/// path's `gemm_packed` in CFolioKernels; ``Gemm/referenceSgemm`` is the twin tests
/// compare every path with). One layout serves every ``KernelSet`` path.
///
/// Immutable once packed, so lanes share it.
final class PackedMatrix: @unchecked Sendable {
    let k: Int
    let n: Int
    let storage: UnsafeMutablePointer<Float>
    /// Panels start on a cache line, so that none of the kernels' vector loads of B spans two
    /// lines: from malloc's 16-byte alignment the AVX-512 product ran at 86 % of the FMA peak
    /// against 95-100 % (Xeon, `make check-kernels` with `--bench`).
    static let alignment = 64

    /// Packs B, whose row r starts at `b + r * ldb`, or, when `transposed`, Bᵀ (`n x k`,
    /// row j at `b + j * ldb`: the transpose of a stored kernel, for a backward product).
    init(_ b: UnsafePointer<Float>, k: Int, n: Int, ldb: Int, transposed: Bool = false) {
        self.k = k
        self.n = n
        let count = max(1, folio_packed_count(Int32(k), Int32(n)))
        storage = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: Self.alignment)
            .bindMemory(to: Float.self, capacity: count)
        folio_pack(b, Int32(k), Int32(n), Int32(ldb), transposed ? 1 : 0, storage)
    }

    deinit { UnsafeMutableRawPointer(storage).deallocate() }

    /// C = [C] + [bias] + A · B for `m` rows: A's row r at `a + r * lda`, C's at `c + r * ldc`;
    /// C's old values are kept and added to when `accumulate`.
    func multiply(
        m: Int, _ a: UnsafePointer<Float>, lda: Int, bias: UnsafePointer<Float>? = nil, into c: UnsafeMutablePointer<Float>, ldc: Int,
        accumulate: Bool, kernels: KernelSet
    ) {
        kernels.multiply(m: m, n: n, k: k, a, lda: lda, packed: storage, bias: bias, into: c, ldc: ldc, accumulate: accumulate)
    }
}
