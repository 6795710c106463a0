import FolioCore
import FolioTestSupport
import Foundation
import Testing

/// Only Folio's own temporary names of processes that are gone are removed.
@Suite struct StaleTemporariesTests {
    /// The id of a process that has ended.
    static func endedProcessID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func removesOnlyTheTemporariesOfEndedProcesses() throws {
        let folder = TemporaryFolder()
        let ended = try Self.endedProcessID()
        let mine = getpid()
        let names = [
            "shard-00000.fol.tmp-\(ended)",     // a killed run's shard: removed
            "vocabulary.tsv.tmp-\(ended)",      // removed
            "shard-00001.fol.tmp-\(mine)",      // this live process's: kept
            "notes.tmp-abc",                    // not a process id: kept
            ".tmp-\(ended)",                    // no name before the marker: kept
            "shard-00002.fol",                  // not a temporary: kept
        ]
        for name in names { folder.write(name, "x") }
        folder.makeFolder(".folio-spill-\(ended)-AbC123")
        folder.write(".folio-spill-\(ended)-AbC123/run-1", "counts")
        folder.makeFolder(".folio-spill-\(mine)-XyZ789")

        let removed = StaleTemporaries.removeStaleTemporaries(in: folder.path)
        #expect(removed == [".folio-spill-\(ended)-AbC123", "shard-00000.fol.tmp-\(ended)", "vocabulary.tsv.tmp-\(ended)"])
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(left == [".folio-spill-\(mine)-XyZ789", ".tmp-\(ended)", "notes.tmp-abc", "shard-00001.fol.tmp-\(mine)", "shard-00002.fol"])
    }
}
