import FolioCore
import Glibc
import Testing

/// A tune reports its final model's peak memory, not its trials': the peak restarts.
@Suite struct PeakResidentTests {
    @Test func aRestartedPeakForgetsAnEarlierOne() throws {
        try #require(restartPeakResident(), "Linux restarts the peak through /proc/self/clear_refs")
        let bytes = 256 << 20
        let before = peakResidentMegabytes()
        // Mapped and unmapped directly: malloc may keep a freed block resident.
        let mapping = try #require(mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        try #require(mapping != MAP_FAILED)
        let pages = mapping.bindMemory(to: UInt8.self, capacity: bytes)
        for offset in stride(from: 0, to: bytes, by: 4096) { pages[offset] = 1 }
        munmap(mapping, bytes)
        let risen = peakResidentMegabytes()
        // The kernel's counters of resident pages are approximate (per-CPU): a margin.
        #expect(risen > before + 100, "touching 256 MB raised the peak from \(before) to \(risen) MB")
        #expect(restartPeakResident())
        let restarted = peakResidentMegabytes()
        #expect(restarted < risen - 100, "the restarted peak \(restarted) MB forgot the earlier \(risen) MB")
    }
}
