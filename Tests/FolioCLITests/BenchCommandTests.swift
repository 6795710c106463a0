import Foundation
import Testing

@Suite struct BenchCommandTests {
    /// A training step frees and allocates its large buffers again (layer caches, gradients):
    /// with glibc's defaults every buffer over 32 MiB is mapped anew and faulted in each
    /// step. Here one layer's gate cache alone is 256 x 40 x 1024 floats = 40 MiB (10,240
    /// pages); freed memory reused, a step faults in a small fraction of that.
    @Test func trainingStepsReuseFreedBuffers() throws {
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
