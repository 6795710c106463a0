import FolioCore
import Glibc

/// Debian's OpenBLAS 0.3.21 does not recognise some recent CPUs (virtual ones among them)
/// and falls back to its SSE3 "Prescott" kernels: half the LSTM's speed here. OpenBLAS
/// reads `OPENBLAS_CORETYPE` only when it loads, so `folio` re-executes itself once with
/// it set, and only when all of these hold:
/// - OpenBLAS reports Prescott and the user set no `OPENBLAS_CORETYPE`;
/// - /proc/cpuinfo lists avx512f (then SkylakeX) or avx2 and fma (then Haswell);
/// - `FOLIO_BLAS_AUTO` is not `0`.
/// The tests check OpenBLAS's products against a reference with every core type used.
public enum BLASCoreSelection {
    public static func reexecIfNeeded() {
        guard getenv("OPENBLAS_CORETYPE") == nil, getenv("FOLIO_BLAS_AUTO").map({ String(cString: $0) }) != "0",
              Gemm.coreName.lowercased() == "prescott", let flags = cpuFlags()
        else { return }
        let core: String
        if flags.contains("avx512f") { core = "SkylakeX" } else if flags.contains("avx2") && flags.contains("fma") { core = "Haswell" } else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        var arguments = CommandLine.arguments.map { strdup($0) }
        arguments.append(nil)
        execv("/proc/self/exe", &arguments)
        // Only reached if exec failed: carry on with the kernels we have.
    }

    private static func cpuFlags() -> Set<Substring>? {
        firstLine(ofFile: "/proc/cpuinfo", startingWith: "flags").map { Set($0.split(separator: " ").map { Substring($0.trimmed("\n")) }) }
    }
}
