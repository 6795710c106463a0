import CZstd
import FolioCore
import Glibc

/// Reads a shard file (``ShardFormat``): the footer on opening, blocks on demand, every
/// checksum checked. Errors name the shard and the place: `header`, `footer`, `block N`.
/// Immutable after opening and read with `pread`, so threads may share one.
public final class ShardReader: Sendable {
    public let path: String
    public let version: UInt16
    /// Whether records carry their unknown tokens' text (``ShardFormat/unknownTextFlag``).
    public let keepsUnknownText: Bool
    public let blocks: [ShardBlock]
    /// Token count of every record, in order: enough to bucket by length without
    /// decompressing a block.
    public let tokenCounts: [UInt32]
    public let fileBytes: Int
    private let descriptor: Int32

    public var recordCount: Int { tokenCounts.count }

    public init(path: String) throws(FolioError) {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw FolioError("cannot open shard: \(FolioError.systemMessage(errno))", file: path)
        }
        var info = stat()
        fstat(descriptor, &info)
        fileBytes = Int(info.st_size)
        do throws(FolioError) {
            guard fileBytes >= ShardFormat.headerBytes + ShardFormat.trailerBytes else {
                throw FolioError("truncated shard: only \(fileBytes) bytes", file: path)
            }
            let header = try ShardReader.read(descriptor, path: path, offset: 0, count: ShardFormat.headerBytes, place: "header")
            guard Array(header[0..<8]) == ShardFormat.headerMagic else {
                throw FolioError("not a Folio shard (no FOLIOSHD header)", file: path, place: "header")
            }
            version = header.withUnsafeBytes { $0.littleEndian(at: 8, as: UInt16.self) }
            guard version <= ShardFormat.version else {
                throw FolioError(
                    "shard format version \(version) is newer than this Folio reads (\(ShardFormat.version)); update Folio",
                    file: path, place: "header")
            }
            let flags = header.withUnsafeBytes { $0.littleEndian(at: 10, as: UInt16.self) }
            guard flags & ~ShardFormat.unknownTextFlag == 0, version >= 2 || flags == 0 else {
                throw FolioError("unknown shard flags \(flags) for format version \(version)", file: path, place: "header")
            }
            keepsUnknownText = flags & ShardFormat.unknownTextFlag != 0
            let trailer = try ShardReader.read(
                descriptor, path: path, offset: fileBytes - ShardFormat.trailerBytes, count: ShardFormat.trailerBytes,
                place: "trailer")
            guard Array(trailer[16..<24]) == ShardFormat.trailerMagic else {
                throw FolioError("truncated shard (no FOLIOEND trailer): an interrupted write?", file: path, place: "trailer")
            }
            let (storedOffset, footerChecksum) = trailer.withUnsafeBytes {
                ($0.littleEndian(at: 0, as: UInt64.self), $0.littleEndian(at: 8, as: UInt32.self))
            }
            let footerEnd = fileBytes - ShardFormat.trailerBytes
            guard storedOffset >= UInt64(ShardFormat.headerBytes) && storedOffset <= UInt64(footerEnd) else {
                throw FolioError("footer offset \(storedOffset) outside the file", file: path, place: "trailer")
            }
            let footerOffset = Int(storedOffset)
            let footer = try ShardReader.read(descriptor, path: path, offset: footerOffset, count: footerEnd - footerOffset, place: "footer")
            guard footer.withUnsafeBytes({ CRC32C.checksum($0) }) == footerChecksum else {
                throw FolioError("footer checksum mismatch (corrupt shard)", file: path, place: "footer")
            }
            (blocks, tokenCounts) = try ShardReader.parseFooter(footer, blocksEnd: footerOffset, path: path)
        } catch {
            close(descriptor)
            throw error
        }
    }

    deinit { close(descriptor) }

    private static func parseFooter(_ footer: [UInt8], blocksEnd: Int, path: String) throws(FolioError)
        -> ([ShardBlock], [UInt32])
    {
        let bad = FolioError("malformed footer", file: path, place: "footer")
        return try footer.withBytes { bytes throws(FolioError) in
            guard bytes.count >= 4 else { throw bad }
            let blockCount = Int(bytes.littleEndian(at: 0, as: UInt32.self))
            var index = 4
            guard bytes.count >= index + blockCount * ShardFormat.blockEntryBytes + 8 else { throw bad }
            var blocks: [ShardBlock] = []
            var expectedOffset = UInt64(ShardFormat.headerBytes)
            var recordsSoFar: UInt32 = 0
            for _ in 0..<blockCount {
                let block = ShardBlock(
                    offset: bytes.littleEndian(at: index, as: UInt64.self),
                    compressedBytes: bytes.littleEndian(at: index + 8, as: UInt32.self),
                    decompressedBytes: bytes.littleEndian(at: index + 12, as: UInt32.self),
                    records: bytes.littleEndian(at: index + 16, as: UInt32.self),
                    firstRecord: bytes.littleEndian(at: index + 20, as: UInt32.self),
                    checksum: bytes.littleEndian(at: index + 24, as: UInt32.self))
                guard block.offset == expectedOffset, block.firstRecord == recordsSoFar,
                      block.decompressedBytes <= ShardFormat.maxBlockBytes else { throw bad }
                expectedOffset += UInt64(block.compressedBytes)
                let (records, overflow) = recordsSoFar.addingReportingOverflow(block.records)
                guard !overflow else { throw bad }
                recordsSoFar = records
                blocks.append(block)
                index += ShardFormat.blockEntryBytes
            }
            guard expectedOffset == UInt64(blocksEnd) else { throw bad }
            let storedCount = bytes.littleEndian(at: index, as: UInt64.self)
            index += 8
            // Each token count takes at least one byte: the count is bounded by the footer
            // before anything is reserved for it.
            guard storedCount == UInt64(recordsSoFar), Int(storedCount) <= bytes.count - index else { throw bad }
            let recordCount = Int(storedCount)
            var counts: [UInt32] = []
            counts.reserveCapacity(recordCount)
            for _ in 0..<recordCount {
                guard let count = LEB128.read(bytes, at: &index), count <= UInt32.max else { throw bad }
                counts.append(UInt32(count))
            }
            guard index == bytes.count else { throw bad }
            return (blocks, counts)
        }
    }

    private static func read(_ descriptor: Int32, path: String, offset: Int, count: Int, place: String) throws(FolioError)
        -> [UInt8]
    {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                throw FolioError(
                    got == 0 ? "unexpected end of file" : "read failed: \(FolioError.systemMessage(errno))",
                    file: path, place: place)
            }
            done += got
        }
        return buffer
    }

    /// The decompressed bytes of block `index`, after checking its checksum.
    public func decompressedBlock(_ index: Int) throws(FolioError) -> [UInt8] {
        let block = blocks[index]
        let place = "block \(index)"
        let compressed = try ShardReader.read(
            descriptor, path: path, offset: Int(block.offset), count: Int(block.compressedBytes), place: place)
        guard compressed.withUnsafeBytes({ CRC32C.checksum($0) }) == block.checksum else {
            throw FolioError("checksum mismatch (corrupt data)", file: path, place: place)
        }
        var output = [UInt8](repeating: 0, count: Int(block.decompressedBytes))
        let size = output.withUnsafeMutableBytes { out in
            compressed.withUnsafeBytes { ZSTD_decompress(out.baseAddress, out.count, $0.baseAddress, $0.count) }
        }
        guard ZSTD_isError(size) == 0, size == output.count else {
            throw FolioError("block does not decompress to its stated size", file: path, place: place)
        }
        return output
    }

    /// Calls `body(record index, label, ids)` for every record of block `index`, checking
    /// each against the footer's token counts (unknown text, if kept, checked and skipped).
    public func forEachRecord(
        inBlock index: Int, _ body: (Int, UInt32, UnsafeBufferPointer<UInt32>) throws(FolioError) -> Void
    ) throws(FolioError) {
        try parseRecords(inBlock: index, text: false) { record, label, ids, _ throws(FolioError) in try body(record, label, ids) }
    }

    /// ``forEachRecord(inBlock:_:)`` with each record's unknown tokens' text, in order (empty
    /// in a shard that does not keep it).
    public func forEachRecordWithText(
        inBlock index: Int, _ body: (Int, UInt32, UnsafeBufferPointer<UInt32>, [String]) throws(FolioError) -> Void
    ) throws(FolioError) {
        try parseRecords(inBlock: index, text: true, body)
    }

    private func parseRecords(
        inBlock index: Int, text: Bool, _ body: (Int, UInt32, UnsafeBufferPointer<UInt32>, [String]) throws(FolioError) -> Void
    ) throws(FolioError) {
        let block = blocks[index]
        let bytes = try decompressedBlock(index)
        let bad = FolioError("malformed records", file: path, place: "block \(index)")
        var ids: [UInt32] = []
        var unknownText: [String] = []
        try bytes.withBytes { raw throws(FolioError) in
            var position = 0
            for recordIndex in Int(block.firstRecord)..<Int(block.firstRecord + block.records) {
                guard let label = LEB128.read(raw, at: &position), label <= UInt32.max,
                    let count = LEB128.read(raw, at: &position), count == UInt64(tokenCounts[recordIndex])
                else { throw bad }
                ids.removeAll(keepingCapacity: true)
                var unknown = 0
                for _ in 0..<count {
                    guard let id = LEB128.read(raw, at: &position), id <= UInt32.max else { throw bad }
                    ids.append(UInt32(id))
                    if id == ShardFormat.unknownID { unknown += 1 }
                }
                unknownText.removeAll(keepingCapacity: true)
                if keepsUnknownText {
                    guard let stored = LEB128.read(raw, at: &position), stored == UInt64(unknown) else {
                        throw FolioError("record \(recordIndex) keeps text for a different number of unknown tokens than its ids hold",
                                         file: path, place: "block \(index)")
                    }
                    for _ in 0..<unknown {
                        guard let length = LEB128.read(raw, at: &position), length <= UInt64(raw.count - position) else { throw bad }
                        let end = position + Int(length)
                        // Text is only decoded for callers that want it; the bounds are checked always.
                        if text { unknownText.append(String(decoding: UnsafeRawBufferPointer(rebasing: raw[position..<end]), as: UTF8.self)) }
                        position = end
                    }
                }
                try ids.withUnsafeBufferPointer { buffer throws(FolioError) in try body(recordIndex, UInt32(label), buffer, unknownText) }
            }
            guard position == raw.count else { throw bad }
        }
    }

    /// Reads and checks every block and record; throws at the first problem.
    public func verify() throws(FolioError) {
        for index in blocks.indices { try forEachRecord(inBlock: index) { _, _, _ throws(FolioError) in } }
    }
}
