import CFolioKernels
import FolioCore
import Testing
@testable import FolioNN

@Suite struct PackedMatrixTests {
    /// Both paths (AVX-512 where the CPU has it, and the plain one) against the Double
    /// reference: partial panels (n not a multiple of 32), partial row blocks (m not a
    /// multiple of 8), k of one, strided rows of A and C whose other columns must stay as
    /// they were, a bias, accumulation, and B given transposed.
    @Test(arguments: [(1, 1, 1), (6, 33, 3), (8, 32, 16), (13, 44, 11), (15, 40, 9), (17, 70, 37), (9, 128, 512), (32, 512, 128)], [false, true])
    func matchesTheReference(shape: (Int, Int, Int), transposed: Bool) {
        let (m, n, k) = shape
        var generator = SplitMix64(seed: UInt64(m * 1000 + n * 10 + k))
        func randoms(_ count: Int) -> [Float] { (0..<count).map { _ in Float(generator.nextUnit() * 2 - 1) } }
        let b = randoms(k * n)  // B row-major, k x n
        let bTransposed = (0..<n * k).map { b[($0 % k) * n + $0 / k] }  // n x k
        let bias = randoms(n)
        let (lda, ldc) = (k + 3, n + 5)
        let a = randoms(m * lda)
        let start = randoms(m * ldc)
        let packed = transposed
            ? PackedMatrix(bTransposed, k: k, n: n, ldb: k, transposed: true) : PackedMatrix(b, k: k, n: n, ldb: n)
        let compactA = (0..<m * k).map { a[($0 / k) * lda + $0 % k] }
        for (accumulate, withBias) in [(false, false), (true, false), (false, true), (true, true)] {
            var expected = (0..<m * n).map { withBias ? bias[$0 % n] : 0 }
            if accumulate { for index in expected.indices { expected[index] += start[(index / n) * ldc + index % n] } }
            Gemm.referenceSgemm(m: m, n: n, k: k, compactA, b, beta: 1, &expected)
            for generic in [false, true] {
                var c = start
                a.withUnsafeBufferPointer { a in
                    bias.withUnsafeBufferPointer { bias in
                        c.withUnsafeMutableBufferPointer { c in
                            let biasPointer = withBias ? bias.baseAddress : nil
                            if generic {
                                folio_gemm_packed_generic(Int32(m), Int32(n), Int32(k), a.baseAddress!, Int32(lda), packed.storage,
                                                          biasPointer, c.baseAddress!, Int32(ldc), accumulate ? 1 : 0)
                            } else {
                                packed.multiply(m: m, a.baseAddress!, lda: lda, bias: biasPointer, into: c.baseAddress!, ldc: ldc,
                                                accumulate: accumulate)
                            }
                        }
                    }
                }
                let found = (0..<m * n).map { c[($0 / n) * ldc + $0 % n] }
                expectClose(found, expected, 2e-5, "m \(m) n \(n) k \(k) accumulate \(accumulate) bias \(withBias) generic \(generic)")
                let untouched = (0..<m).allSatisfy { row in (n..<ldc).allSatisfy { c[row * ldc + $0] == start[row * ldc + $0] } }
                #expect(untouched, "columns past n were written")
            }
        }
    }
}
