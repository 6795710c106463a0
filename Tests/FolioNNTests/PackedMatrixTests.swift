import FolioCore
import Testing
@testable import FolioNN

@Suite struct PackedMatrixTests {
    /// Every path this CPU runs (an AVX-512 machine tests AVX2 and generic too) against the
    /// Double reference: partial panels (n not a multiple of 32, or of 16), partial row
    /// blocks (m not a multiple of 8 or 6), k of one and odd k, strided rows of A and C
    /// whose other columns must stay as they were, a bias, accumulation, and B given
    /// transposed. (40, 48, 200) is two chunks of rows for the AVX2 and generic paths, (13, 20,
    /// 700) one chunk larger than their L1 budget.
    @Test(arguments: [(1, 1, 1), (6, 33, 3), (7, 16, 5), (8, 32, 16), (13, 44, 11), (15, 40, 9), (17, 70, 37), (9, 128, 512), (32, 512, 128),
                      (40, 48, 200), (13, 20, 700)],
          [false, true])
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
            for kernels in KernelSet.available {
                var c = start
                a.withUnsafeBufferPointer { a in
                    bias.withUnsafeBufferPointer { bias in
                        c.withUnsafeMutableBufferPointer { c in
                            packed.multiply(m: m, a.baseAddress!, lda: lda, bias: withBias ? bias.baseAddress : nil, into: c.baseAddress!,
                                            ldc: ldc, accumulate: accumulate, kernels: kernels)
                        }
                    }
                }
                let found = (0..<m * n).map { c[($0 / n) * ldc + $0 % n] }
                expectClose(found, expected, 2e-5, "m \(m) n \(n) k \(k) accumulate \(accumulate) bias \(withBias) path \(kernels)")
                let untouched = (0..<m).allSatisfy { row in (n..<ldc).allSatisfy { c[row * ldc + $0] == start[row * ldc + $0] } }
                #expect(untouched, "columns past n were written")
            }
        }
    }
}

@Suite struct TransposedProductTests {
    /// The weight gradients' product C += Aᵀ · B on every path against the Double reference:
    /// partial row tiles (m not a multiple of 8 or 6) and column blocks (n not a multiple of
    /// 32 or 16), k of one, k across blocks of 128 rows (129, 300), strided A, B and C whose
    /// other columns must stay as they were. The AVX2 and AVX-512 paths give the same bits.
    @Test(arguments: [(1, 1, 1), (7, 16, 5), (9, 17, 3), (8, 32, 300), (13, 44, 129), (128, 512, 260)])
    func matchesTheReference(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var generator = SplitMix64(seed: UInt64(m * 1000 + n * 10 + k))
        func randoms(_ count: Int) -> [Float] { (0..<count).map { _ in Float(generator.nextUnit() * 2 - 1) } }
        let (lda, ldb, ldc) = (m + 3, n + 2, n + 5)
        let a = randoms(k * lda), b = randoms((k - 1) * ldb + n), start = randoms(m * ldc)
        let compactA = (0..<k * m).map { a[($0 / m) * lda + $0 % m] }
        let compactB = (0..<k * n).map { b[($0 / n) * ldb + $0 % n] }
        var expected = (0..<m * n).map { start[($0 / n) * ldc + $0 % n] }
        Gemm.referenceSgemm(transposeA: true, m: m, n: n, k: k, compactA, compactB, beta: 1, &expected)
        var results: [KernelSet.Path: [Float]] = [:]
        for kernels in KernelSet.available {
            var c = start
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        kernels.multiplyTransposed(m: m, n: n, k: k, a.baseAddress!, lda: lda, b.baseAddress!, ldb: ldb, into: c.baseAddress!,
                                                   ldc: ldc)
                    }
                }
            }
            let found = (0..<m * n).map { c[($0 / n) * ldc + $0 % n] }
            expectClose(found, expected, 2e-5, "m \(m) n \(n) k \(k) path \(kernels)")
            let untouched = (0..<m).allSatisfy { row in (n..<ldc).allSatisfy { c[row * ldc + $0] == start[row * ldc + $0] } }
            #expect(untouched, "columns past n were written")
            results[kernels.path] = found
        }
        if let wide = results[.avx512], let avx2 = results[.avx2] {
            #expect(wide.map(\.bitPattern) == avx2.map(\.bitPattern), "the AVX2 path rounds differently from the AVX-512 path")
        }
    }
}

@Suite struct KernelSetTests {
    @Test func everyMachineRunsTheGenericPathAndListsTheWidestFirst() throws {
        let available = KernelSet.available.map(\.path)
        #expect(available.last == .generic)
        #expect(KernelSet.widest.path == available.first)
        #expect(available == KernelSet.Path.allCases.filter { available.contains($0) }, "widest first: \(available)")
        #expect(KernelSet(.avx512) == nil || available.contains(.avx2), "an AVX-512 CPU runs the AVX2 path too")
    }

    @Test func folioISAForcesAPathAndRefusesWhatItCannotRun() throws {
        #expect(try KernelSet.fromEnvironment([:]) == KernelSet.widest)
        #expect(try KernelSet.fromEnvironment(["FOLIO_ISA": ""]) == KernelSet.widest)
        for kernels in KernelSet.available {
            #expect(try KernelSet.fromEnvironment(["FOLIO_ISA": kernels.path.rawValue]) == kernels)
            #expect(try KernelSet.fromEnvironment(["FOLIO_ISA": kernels.path.rawValue.uppercased()]) == kernels)
        }
        let unknown = #expect(throws: FolioError.self) { try KernelSet.fromEnvironment(["FOLIO_ISA": "neon"]) }
        #expect(unknown?.description.contains("FOLIO_ISA=neon") == true, "\(String(describing: unknown))")
        for path in KernelSet.Path.allCases where KernelSet(path) == nil {
            let missing = #expect(throws: FolioError.self) { try KernelSet.fromEnvironment(["FOLIO_ISA": path.rawValue]) }
            #expect(missing?.description.contains("FOLIO_ISA=\(path.rawValue)") == true && missing?.description.contains("cannot run") == true)
        }
    }

    /// The peak measure does work on every path (a timing is never asserted: it is the
    /// benchmark's figure, not a test's).
    @Test func fmaPeakIsAPositiveRate() {
        for kernels in KernelSet.available {
            let peak = kernels.fmaPeak(threads: 1, seconds: 0.005)
            #expect(peak.isFinite && peak > 0, "\(kernels): \(peak)")
        }
    }

    /// Adam's common update on every path against its formula, in Double.
    @Test func adamUpdateOnEveryPathMatchesTheFormula() throws {
        var generator = SplitMix64(seed: 5)
        let count = 1037  // a part left over on every vector width
        let start = (0..<count).map { _ in Float(generator.nextUnit() * 2 - 1) }
        for kernels in KernelSet.available {
            let arena = ParameterArena(layout: [("w", [count])])
            for index in 0..<count {
                arena.values[index] = start[index]
                arena.gradients[index] = start[(index * 7) % count]
            }
            let adam = Adam(arena: arena, learningRate: 0.01)
            adam.kernels = kernels
            try adam.step(arena: arena, gradientScale: 1)
            let alpha = 0.01 * (1 - 0.999).squareRoot() / (1 - 0.9)
            let expected = (0..<count).map { index -> Float in
                let g = Double(start[(index * 7) % count])
                let (m, v) = (g * 0.1, g * g * (1 - 0.999))
                return Float(Double(start[index]) - alpha * m / (v.squareRoot() + 1e-7))
            }
            expectClose(Array(arena.values), expected, 1e-5, "path \(kernels)")
        }
    }
}
