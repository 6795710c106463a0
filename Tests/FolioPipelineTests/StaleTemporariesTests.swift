@testable import FolioCore
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

    @Test func removesOnlyThisMachinesTemporariesOfEndedProcesses() throws {
        let folder = TemporaryFolder()
        let host = StaleTemporaries.host
        let ended = "\(try Self.endedProcessID())@\(host)"
        let mine = StaleTemporaries.writerTag
        let elsewhere = "\(try Self.endedProcessID())@another-node-7"
        let names = [
            "shard-00000.fol.tmp-\(ended)",     // a killed run's shard here: removed
            "vocabulary.tsv.tmp-\(ended)",      // removed
            "shard-00001.fol.tmp-\(mine)",      // this live process's: kept
            "shard-00002.fol.tmp-\(elsewhere)", // another machine's (a rank writing the shared folder): kept
            "notes.tmp-abc",                    // not a process tag: kept
            "notes.tmp-123",                    // no machine: kept
            ".tmp-\(ended)",                    // no name before the marker: kept
            "shard-00003.fol",                  // not a temporary: kept
        ]
        for name in names { folder.write(name, "x") }
        folder.makeFolder(".folio-spill-\(ended)-AbC123")
        folder.write(".folio-spill-\(ended)-AbC123/run-1", "counts")
        folder.makeFolder(".folio-spill-\(mine)-XyZ789")
        folder.makeFolder(".folio-spill-\(elsewhere)-QrS456")

        let removed = StaleTemporaries.removeStaleTemporaries(in: folder.path)
        #expect(removed == [".folio-spill-\(ended)-AbC123", "shard-00000.fol.tmp-\(ended)", "vocabulary.tsv.tmp-\(ended)"])
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: folder.path))
        #expect(left == Set(names.filter { !$0.hasPrefix("shard-00000") && !$0.hasPrefix("vocabulary") }
                            + [".folio-spill-\(mine)-XyZ789", ".folio-spill-\(elsewhere)-QrS456"]))
    }

    /// What AtomicFile and the spill folders write is what the cleanup recognizes.
    @Test func writersUseTheRecognizedNames() throws {
        let folder = TemporaryFolder()
        let file = try AtomicFile(path: folder.path + "/out.txt")
        try file.write("x")
        let temporary = try #require(try FileManager.default.contentsOfDirectory(atPath: folder.path).first)
        #expect(temporary == "out.txt.tmp-" + StaleTemporaries.writerTag)
        #expect(StaleTemporaries.writer(of: temporary)?.pid == getpid())
        #expect(StaleTemporaries.writer(of: ".folio-spill-" + StaleTemporaries.writerTag + "-aB3dE9")?.isSpillFolder == true)
    }
}
