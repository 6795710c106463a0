import CZstd
import FolioCore

/// What a finished shard holds, for the manifest.
public struct ShardSummary: Sendable, Codable, Equatable {
    public var file: String
    public var records: Int
    public var tokens: Int
    public var bytes: Int
    /// CRC-32C of the whole file.
    public var checksum: UInt32
}

/// Writes one shard file (``ShardFormat``) record by record, under a temporary name that
/// becomes the real one only in ``finish()``: a killed writer leaves no partial shard.
///
/// Memory: one block being filled (about ``ShardFormat/defaultBlockBytes``), its compressed
/// copy, and the footer: 28 bytes per block plus about 2 bytes per record.
public final class ShardWriter {
    public let path: String
    private let file: AtomicFile
    private let blockBytes: Int
    private let context: OpaquePointer
    private var offset = 0
    private var block: [UInt8] = []
    private var blockRecords = 0
    private var compressed: [UInt8] = []
    private var blocks: [ShardBlock] = []
    private var tokenCounts: [UInt8] = []
    private var record: [UInt8] = []
    private var records = 0
    private var tokens = 0
    /// Whether records carry their unknown tokens' text (``ShardFormat/unknownTextFlag``).
    public let keepsUnknownText: Bool

    public init(path: String, blockBytes: Int = ShardFormat.defaultBlockBytes, keepsUnknownText: Bool = false) throws(FolioError) {
        guard let context = ZSTD_createCCtx() else { throw FolioError("cannot create a zstd compressor", file: path) }
        self.context = context
        self.path = path
        self.blockBytes = blockBytes
        self.keepsUnknownText = keepsUnknownText
        file = try AtomicFile(path: path)
        var header = ShardFormat.headerMagic
        header.appendLittleEndian(formatVersion)
        header.appendLittleEndian(keepsUnknownText ? ShardFormat.unknownTextFlag : 0)
        header.appendLittleEndian(UInt32(0))
        try write(header)
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Bytes written so far (blocks compressed so far, not the block being filled).
    public var bytesWritten: Int { offset }

    /// Version 1 unless a flag needs 2: a shard set written without unknown text stays
    /// readable by every Folio that reads version 1.
    private var formatVersion: UInt16 { keepsUnknownText ? 2 : 1 }

    /// Appends a record. `unknownText`: the text of its `<oov>` tokens, in order (one per
    /// `<oov>` id), kept when the writer keeps unknown text and ignored otherwise.
    public func append(label: UInt32, ids: some Collection<UInt32>, unknownText: some Collection<String> = [String]()) throws(FolioError) {
        record.removeAll(keepingCapacity: true)
        LEB128.append(UInt64(label), to: &record)
        LEB128.append(UInt64(ids.count), to: &record)
        for id in ids { LEB128.append(UInt64(id), to: &record) }
        if keepsUnknownText {
            let unknown = ids.count { $0 == ShardFormat.unknownID }
            guard unknownText.count == unknown else {
                throw FolioError("a record with \(unknown) unknown tokens given the text of \(unknownText.count)", file: path, place: "record \(records)")
            }
            LEB128.append(UInt64(unknownText.count), to: &record)
            for text in unknownText {
                LEB128.append(UInt64(text.utf8.count), to: &record)
                record.append(contentsOf: text.utf8)
            }
        }
        if !block.isEmpty && block.count + record.count > blockBytes { try flushBlock() }
        guard block.count + record.count <= Int(ShardFormat.maxBlockBytes) else {
            throw FolioError("a record of \(ids.count) tokens is larger than a shard block may be (\(ShardFormat.maxBlockBytes >> 20) MiB)",
                             file: path, place: "record \(records)")
        }
        block.append(contentsOf: record)
        blockRecords += 1
        LEB128.append(UInt64(ids.count), to: &tokenCounts)
        records += 1
        tokens += ids.count
    }

    private func write(_ bytes: [UInt8]) throws(FolioError) {
        try file.write(bytes)
        offset += bytes.count
    }

    private func flushBlock() throws(FolioError) {
        guard !block.isEmpty else { return }
        let bound = ZSTD_compressBound(block.count)
        if compressed.count < bound { compressed = [UInt8](repeating: 0, count: bound) }
        let size = compressed.withUnsafeMutableBytes { out in
            block.withUnsafeBytes { input in
                ZSTD_compressCCtx(context, out.baseAddress, out.count, input.baseAddress, input.count, ShardFormat.compressionLevel)
            }
        }
        if ZSTD_isError(size) != 0 {
            throw FolioError("zstd compression failed: \(String(cString: ZSTD_getErrorName(size)))", file: path)
        }
        let frame = Array(compressed[0..<size])
        let checksum = frame.withUnsafeBytes { CRC32C.checksum($0) }
        blocks.append(ShardBlock(
            offset: UInt64(offset), compressedBytes: UInt32(size), decompressedBytes: UInt32(block.count),
            records: UInt32(blockRecords), firstRecord: UInt32(records - blockRecords), checksum: checksum))
        try write(frame)
        block.removeAll(keepingCapacity: true)
        blockRecords = 0
    }

    /// Writes the last block, the footer and the trailer, then makes the file durable
    /// under its name.
    public func finish() throws(FolioError) -> ShardSummary {
        try flushBlock()
        let footerOffset = offset
        var footer: [UInt8] = []
        footer.appendLittleEndian(UInt32(blocks.count))
        for block in blocks {
            footer.appendLittleEndian(block.offset)
            footer.appendLittleEndian(block.compressedBytes)
            footer.appendLittleEndian(block.decompressedBytes)
            footer.appendLittleEndian(block.records)
            footer.appendLittleEndian(block.firstRecord)
            footer.appendLittleEndian(block.checksum)
        }
        footer.appendLittleEndian(UInt64(records))
        footer.append(contentsOf: tokenCounts)
        let footerChecksum = footer.withUnsafeBytes { CRC32C.checksum($0) }
        try write(footer)
        var trailer: [UInt8] = []
        trailer.appendLittleEndian(UInt64(footerOffset))
        trailer.appendLittleEndian(footerChecksum)
        trailer.appendLittleEndian(formatVersion)
        trailer.appendLittleEndian(UInt16(0))
        trailer.append(contentsOf: ShardFormat.trailerMagic)
        try write(trailer)
        try file.commit()
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return ShardSummary(file: name, records: records, tokens: tokens, bytes: offset, checksum: file.checksum.value)
    }
}
