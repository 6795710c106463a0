import CFolioKernels
import Dispatch
import FolioCore
import Foundation

/// Which of Folio's own kernels (the LSTM's packed products and gate loops, Adam's update)
/// an object computes with: one path per instruction set (CFolioKernels' header).
///
/// - `avx512`: AVX-512F, where the CPU has it;
/// - `avx2`: AVX2 + FMA, the common x86 CPU since 2013;
/// - `generic`: portable C vectors (NEON on arm64, SSE2 on any x86-64).
///
/// ``selected`` is the widest the CPU runs, or what `FOLIO_ISA` names; layers and
/// optimizers take it by default and can be given another (tests run every path the
/// machine has). The plain twins the tests compare every path with are ``LSTMRows`` and
/// ``Gemm/referenceSgemm``.
public struct KernelSet: Sendable, Equatable, CustomStringConvertible {
    public enum Path: String, CaseIterable, Sendable {
        case avx512, avx2, generic

        var isa: folio_isa {
            switch self {
            case .avx512: FOLIO_ISA_AVX512
            case .avx2: FOLIO_ISA_AVX2
            case .generic: FOLIO_ISA_GENERIC
            }
        }
    }

    public let path: Path
    // Static tables in the C library: never freed or written, so safe to share.
    nonisolated(unsafe) let table: UnsafePointer<folio_kernels>

    /// The kernels of `path`, or nil when this CPU cannot run them.
    public init?(_ path: Path) {
        guard let table = folio_kernels_for(path.isa) else { return nil }
        self.path = path
        self.table = table
    }

    public var description: String { path.rawValue }

    public static func == (left: KernelSet, right: KernelSet) -> Bool { left.path == right.path }

    /// Every path this CPU runs, widest first.
    public static var available: [KernelSet] { Path.allCases.compactMap { KernelSet($0) } }

    /// The widest path this CPU runs.
    public static var widest: KernelSet { available[0] }

    /// The environment variable that forces a path.
    public static let environmentVariable = "FOLIO_ISA"

    /// The path `FOLIO_ISA` names (`avx512`, `avx2`, `generic`), or the widest when it is
    /// unset or empty; an error naming the variable when it names no path or one this CPU
    /// cannot run.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(FolioError) -> KernelSet {
        guard let name = environment[environmentVariable], !name.isEmpty else { return widest }
        let runs = available.map(\.path.rawValue).joined(separator: ", ")
        guard let path = Path(rawValue: name.lowercased()) else {
            throw FolioError("\(environmentVariable)=\(name) names no kernel path; use one of avx512, avx2, generic (this CPU runs \(runs))")
        }
        guard let kernels = KernelSet(path) else {
            throw FolioError("\(environmentVariable)=\(name): this CPU cannot run the \(name) kernels (it runs \(runs))")
        }
        return kernels
    }

    /// What layers and optimizers compute with unless told otherwise: ``fromEnvironment(_:)``
    /// read once. A bad `FOLIO_ISA` leaves the widest path here and its error in
    /// ``environmentError``, which the `folio` command refuses to start with.
    public static var selected: KernelSet { selection.kernels }

    /// The error a bad `FOLIO_ISA` gave, if any.
    public static var environmentError: FolioError? { selection.error }

    private static let selection: (kernels: KernelSet, error: FolioError?) = {
        do throws(FolioError) { return (try fromEnvironment(), nil) } catch { return (widest, error) }
    }()

    /// This CPU's multiply-add peak on this path, in FLOP/s, with `threads` threads each
    /// running independent FMA chains on the path's widest vectors for about `seconds`
    /// (the best of three rounds, so that a round started while the core clocked up does
    /// not count). What a benchmark divides its own FLOP rate by.
    public func fmaPeak(threads: Int, seconds: Double = 0.1) -> Double {
        let chains = table.pointee.fma_chains!
        // Calibrate a round's length on one thread.
        var iterations = 1 << 16
        while true {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = chains(iterations)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if elapsed > seconds / 10 || iterations > 1 << 34 {
                iterations = Int(Double(iterations) * seconds / max(elapsed, 1e-9))
                break
            }
            iterations *= 4
        }
        let roundIterations = iterations
        let rounds = (0..<3).map { _ -> Double in
            let rates = UnsafeMutableBufferPointer<Double>.allocate(capacity: threads)
            defer { rates.deallocate() }
            let shared = Shared(rates)
            DispatchQueue.concurrentPerform(iterations: threads) { thread in
                let start = DispatchTime.now().uptimeNanoseconds
                let flops = chains(roundIterations)
                shared.value[thread] = flops / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return rates.reduce(0, +)
        }
        return rounds.max() ?? 0
    }

    func multiply(
        m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int, packed: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
    ) {
        table.pointee.gemm_packed(Int32(m), Int32(n), Int32(k), a, Int32(lda), packed, bias, c, Int32(ldc), accumulate ? 1 : 0)
    }

    /// C += Aᵀ · B (a weight gradient): A is `k x m` (row i at `a + i * lda`), B is `k x n`
    /// (row i at `b + i * ldb`), C is `m x n` (row r at `c + r * ldc`); each element's sum
    /// goes on from C over k in order. ``Gemm/referenceSgemm`` with `transposeA` is its twin.
    func multiplyTransposed(
        m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
        into c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        table.pointee.gemm_at(Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb), c, Int32(ldc))
    }

    func lstmForwardRow(
        _ gates: UnsafeMutablePointer<Float>, cPrevious: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
        h: UnsafeMutablePointer<Float>, units: Int
    ) {
        table.pointee.lstm_forward_row(gates, cPrevious, c, h, Int32(units))
    }

    func lstmBackwardRow(
        _ gates: UnsafeMutablePointer<Float>, c: UnsafePointer<Float>, cPrevious: UnsafePointer<Float>, dh: UnsafePointer<Float>,
        dc: UnsafeMutablePointer<Float>, units: Int
    ) {
        table.pointee.lstm_backward_row(gates, c, cPrevious, dh, dc, Int32(units))
    }

    func adamUpdate(
        _ w: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
        count: Int, alpha: Float, beta1: Float, beta2: Float, epsilon: Float
    ) {
        table.pointee.adam_update(w, g, m, v, count, alpha, beta1, beta2, epsilon)
    }

    /// word2vec's update of `input` against `count` output rows (the true word first):
    /// CFolioKernels' header says what it computes; ``NegativeSampling/referenceUpdate`` is its
    /// plain twin.
    @inline(__always)
    func negativeSampling(
        input: UnsafePointer<Float>, rows: UnsafePointer<UnsafeMutablePointer<Float>?>, count: Int, dim: Int, rate: Float,
        gradient: UnsafeMutablePointer<Float>
    ) {
        table.pointee.negative_sampling(input, rows, Int32(count), Int32(dim), rate, gradient)
    }

    /// y += a · x over `count` floats.
    @inline(__always)
    func addScaled(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ a: Float, count: Int) {
        table.pointee.add_scaled(y, x, a, Int32(count))
    }
}
