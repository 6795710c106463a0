import FolioTestSupport
import Foundation
import Testing

@Suite struct BenchCommandTests {
    /// A training step frees and allocates its large buffers again (layer caches, gradients):
    /// with glibc's defaults every buffer over 32 MiB is mapped anew and faulted in each
    /// step. Here one layer's gate cache alone is 256 x 40 x 1024 floats = 40 MiB (10,240
    /// pages); freed memory reused, a step faults in a small fraction of that. A sanitizer
    /// replaces malloc with its own allocator, so what this measures does not exist there.
    @Test(.disabled(if: runsUnderSanitizer, "a sanitizer's allocator replaces glibc's, whose reuse this measures"))
    func trainingStepsReuseFreedBuffers() throws {
        let run = try FolioProcess([
            "bench", "lstm", "--batch", "256", "--seq-len", "40", "--vocab", "1000", "--embed", "32", "--units", "256",
            "--layers", "1", "--classes", "4", "--threads", "2", "--steps", "3", "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let last = try #require(run.stdout.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        let faults = try #require(json["minor_page_faults_per_step"] as? Double)
        #expect(faults < 2_000, "\(faults) page faults per step")
        #expect((json["train_tokens_per_s"] as? Double ?? 0) > 0)
    }
}

@Suite struct KernelPathCommandTests {
    static let tinyBench = ["bench", "lstm", "--batch", "4", "--seq-len", "6", "--vocab", "50", "--embed", "8", "--units", "12",
                            "--layers", "1", "--classes", "3", "--steps", "2", "--json"]

    /// `FOLIO_ISA=generic` runs the portable kernels on any CPU, and `bench lstm` says so
    /// with its peak and the fraction of it reached.
    @Test func folioISAForcesTheGenericPath() throws {
        let run = try FolioProcess(Self.tinyBench, environment: ["FOLIO_ISA": "generic"])
        #expect(run.status == 0, "\(run.stderr)")
        let last = try #require(run.stdout.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        #expect(json["kernels"] as? String == "generic")
        #expect((json["fma_peak_gflops"] as? Double ?? 0) > 0)
        let fraction = json["train_peak_fraction"] as? Double ?? -1
        #expect(fraction > 0 && fraction < 1.5, "\(fraction)")
    }

    /// A path that does not exist, or that this CPU cannot run, stops `folio` before any
    /// work with one line naming the variable.
    @Test(arguments: ["neon", "avx512", "avx2"])
    func folioISAThatCannotBeHonouredIsRefused(value: String) throws {
        let run = try FolioProcess(Self.tinyBench, environment: ["FOLIO_ISA": value])
        let runnable = ["avx512": "avx512f", "avx2": "avx2"][value].map { flag in
            (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" \(flag)") ?? false
        } ?? false
        if runnable {
            #expect(run.status == 0, "\(run.stderr)")
        } else {
            #expect(run.status == 2)
            #expect(run.stderr.hasPrefix("folio: error: FOLIO_ISA=\(value)"), "\(run.stderr)")
            #expect(run.stdout.isEmpty)
        }
    }
}
