@testable import FolioCore
import FolioTestSupport
import Foundation
import Testing
@testable import FolioShards

@Suite struct ShardFileTests {
    @Test func crc32cMatchesTheStandardCheckValueAndItsReferenceTwin() {
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32C.checksum($0) } == 0xE306_9283)
        var generator = SplitMix64(seed: 1)
        // 12,288 bytes and more run the instruction's three-lane loop (12 KiB pieces).
        for length in [0, 1, 7, 8, 9, 63, 64, 1000, 12_287, 12_288, 12_295, 40_000] {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            #expect(bytes.withUnsafeBytes { CRC32C.checksum($0) } == CRC32C.reference(bytes))
            // The table loop too, where the instruction ran above; and both carried across
            // pieces that start at any alignment.
            var tables = CRC32C()
            bytes.withUnsafeBytes { tables.updateByTables($0) }
            #expect(tables.value == CRC32C.reference(bytes))
            for cut in Set([0, length / 3, length]) {
                var (crc, byTables) = (CRC32C(), CRC32C())
                bytes.withUnsafeBytes { raw in
                    for piece in [raw[..<cut], raw[cut...]] {
                        crc.update(UnsafeRawBufferPointer(rebasing: piece))
                        byTables.updateByTables(UnsafeRawBufferPointer(rebasing: piece))
                    }
                }
                #expect(crc.value == CRC32C.reference(bytes) && byTables.value == crc.value, "length \(length), cut \(cut)")
            }
        }
    }

    /// A checkpoint's checksums come from the bytes as they are written, not from reading
    /// the files back: buffered small writes and large ones straight through, in any order.
    @Test func anAtomicFilesChecksumIsThatOfTheFileItWrote() throws {
        let folder = TemporaryFolder()
        var generator = SplitMix64(seed: 2)
        let large = (0..<(3 << 20) + 5).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let file = try AtomicFile(path: folder.path + "/mixed.bin")
        try file.write("a header line\n")
        try large.withUnsafeBytes { raw in Swift.Result { () throws(FolioError) in try file.write(raw: raw) } }.get()
        try file.write(Array(large[..<100_000]))
        try file.commit()
        let written = try #require(FileManager.default.contents(atPath: folder.path + "/mixed.bin"))
        #expect(written.count == 14 + large.count + 100_000)
        #expect(file.checksum.value == CRC32C.reference([UInt8](written)))
    }

    @Test func fileChecksumStreamsAndEqualsTheInMemoryOne() throws {
        let folder = TemporaryFolder()
        var generator = SplitMix64(seed: 2)
        let bytes = (0..<(3 << 20) + 17).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let path = folder.write("big.bin", bytes)
        #expect(try CRC32C.checksum(ofFile: path) == bytes.withUnsafeBytes { CRC32C.checksum($0) })
        #expect(throws: FolioError.self) { try CRC32C.checksum(ofFile: folder.path + "/missing") }
    }

    func randomRecords(_ count: Int, seed: UInt64) -> [ShardRecord] {
        var generator = SplitMix64(seed: seed)
        var records = (0..<count).map { _ in
            ShardRecord(
                label: UInt32(generator.next() % 10),
                ids: (0..<Int(generator.next() % 300)).map { _ in UInt32(truncatingIfNeeded: generator.next() % 50_000) })
        }
        records.append(ShardRecord(label: 3, ids: []))
        records.append(ShardRecord(label: UInt32.max, ids: [UInt32.max, 0, 1 << 31]))
        records.append(ShardRecord(label: 1, ids: (0..<20_000).map { UInt32($0) }))  // larger than a block
        return records
    }

    func write(_ records: [ShardRecord], to path: String, blockBytes: Int = 4096) throws -> ShardSummary {
        let writer = try ShardWriter(path: path, blockBytes: blockBytes)
        for record in records { try writer.append(label: record.label, ids: record.ids) }
        return try writer.finish()
    }

    func readAll(_ path: String) throws -> [ShardRecord] {
        let reader = try ShardReader(path: path)
        var records: [ShardRecord] = []
        for block in reader.blocks.indices {
            try reader.forEachRecord(inBlock: block) { index, label, ids throws(FolioError) in
                #expect(index == records.count)
                records.append(ShardRecord(label: label, ids: Array(ids)))
            }
        }
        return records
    }

    @Test func roundTripAcrossManyBlocks() throws {
        let folder = TemporaryFolder()
        let records = randomRecords(2000, seed: 7)
        let summary = try write(records, to: folder.path + "/shard-00000.fol")
        #expect(summary.records == records.count)
        #expect(summary.tokens == records.reduce(0) { $0 + $1.ids.count })
        let reader = try ShardReader(path: folder.path + "/shard-00000.fol")
        #expect(reader.blocks.count > 100)
        #expect(reader.tokenCounts == records.map { UInt32($0.ids.count) })
        #expect(try readAll(folder.path + "/shard-00000.fol") == records)
        try reader.verify()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: folder.path + "/shard-00000.fol"))
        #expect(bytes.count == summary.bytes)
        #expect(bytes.withUnsafeBytes { CRC32C.checksum($0) } == summary.checksum)
        // The same records give the same bytes.
        _ = try write(records, to: folder.path + "/again.fol")
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.path + "/again.fol")) == bytes)
    }

    /// Records keep their unknown tokens' text (any UTF-8, empty too) across blocks, in a
    /// version 2 file with flag 1; readers that do not ask for it get the same ids and labels;
    /// a record given text for another number of unknown tokens is refused.
    @Test func unknownTextRoundTrips() throws {
        let folder = TemporaryFolder()
        var generator = SplitMix64(seed: 5)
        let words = ["été", "日本語", "", "x", String(repeating: "long", count: 100)]
        var records: [ShardRecord] = []
        for _ in 0..<500 {
            let ids = (0..<Int(generator.next() % 40)).map { _ in UInt32(generator.next() % 4) }
            let text = ids.filter { $0 == ShardFormat.unknownID }.map { _ in words[Int(generator.next() % UInt64(words.count))] }
            records.append(ShardRecord(label: UInt32(generator.next() % 3), ids: ids, unknownText: text))
        }
        let path = folder.path + "/text.fol"
        let writer = try ShardWriter(path: path, blockBytes: 512, keepsUnknownText: true)
        for record in records { try writer.append(label: record.label, ids: record.ids, unknownText: record.unknownText) }
        #expect(throws: FolioError.self) { try writer.append(label: 0, ids: [1, 1], unknownText: ["one"]) }
        _ = try writer.finish()
        let reader = try ShardReader(path: path)
        #expect(reader.version == 2 && reader.keepsUnknownText && reader.blocks.count > 5)
        var read: [ShardRecord] = []
        for block in reader.blocks.indices {
            try reader.forEachRecordWithText(inBlock: block) { _, label, ids, text throws(FolioError) in
                read.append(ShardRecord(label: label, ids: Array(ids), unknownText: text))
            }
        }
        #expect(read == records)
        #expect(try readAll(path) == records.map { ShardRecord(label: $0.label, ids: $0.ids) })
        try reader.verify()
        // Without the flag, the file is version 1 and the text is not written.
        _ = try write([ShardRecord(label: 0, ids: [1, 2])], to: folder.path + "/plain.fol")
        #expect(try ShardReader(path: folder.path + "/plain.fol").version == 1)
    }

    @Test func anUnfinishedWriterLeavesNoShard() throws {
        let folder = TemporaryFolder()
        do {
            let writer = try ShardWriter(path: folder.path + "/s.fol")
            try writer.append(label: 0, ids: [1, 2, 3])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    /// Writes a good shard, damages a copy with `damage`, and expects an error at `place`.
    func expectDamage(
        _ damage: (inout [UInt8], ShardReader) -> Void, message: String, place: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let folder = TemporaryFolder()
        let path = folder.path + "/shard.fol"
        _ = try write(randomRecords(300, seed: 3), to: path)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        damage(&bytes, try ShardReader(path: path))
        let damaged = folder.write("damaged.fol", bytes)
        do {
            try ShardReader(path: damaged).verify()
            Issue.record("damage went unnoticed", sourceLocation: sourceLocation)
        } catch {
            #expect(error.file == damaged, sourceLocation: sourceLocation)
            #expect(error.place == place, sourceLocation: sourceLocation)
            #expect(error.message.contains(message), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func corruptionIsFoundAndPlaced() throws {
        try expectDamage({ bytes, _ in bytes.removeLast(10) }, message: "truncated", place: "trailer")
        try expectDamage({ bytes, reader in bytes[Int(reader.blocks[5].offset) + 7] ^= 0x10 },
                         message: "checksum mismatch", place: "block 5")
        try expectDamage({ bytes, _ in bytes[bytes.count - 30] ^= 0x01 }, message: "footer checksum", place: "footer")
        try expectDamage({ bytes, _ in bytes[8] = 3 }, message: "newer than this Folio reads", place: "header")
        try expectDamage({ bytes, _ in bytes[10] = 1 }, message: "unknown shard flags 1 for format version 1", place: "header")
        try expectDamage({ bytes, _ in bytes[8] = 2; bytes[10] = 4 }, message: "unknown shard flags 4", place: "header")
        try expectDamage({ bytes, _ in bytes[0] = UInt8(ascii: "X") }, message: "not a Folio shard", place: "header")
        let folder = TemporaryFolder()
        let empty = folder.write("empty.fol", [])
        #expect(throws: FolioError("truncated shard: only 0 bytes", file: empty)) { try ShardReader(path: empty) }
    }
}

@Suite struct ShardManifestTests {
    @Test func aManifestFromANewerFolioIsRefusedNamingTheKey() throws {
        let folder = TemporaryFolder()
        var manifest = ShardManifest(vocabularyFingerprint: "fnv1a64:x", vocabularySize: 2, tokenizer: [:], labels: [], shards: [])
        manifest.formatVersion = 2
        try manifest.write(toFolder: folder.path)
        #expect(throws: FolioError(
            "format version 2 is newer than this Folio reads (1); update Folio",
            file: folder.path + "/manifest.json", place: "key format_version")) {
            try ShardSet(folder: folder.path)
        }
        folder.write("manifest.json", "{\"format_version\": 1")
        #expect(throws: FolioError.self) { try ShardSet(folder: folder.path) }
    }
}
