import FolioCore
import FolioShards
import FuzzSupport

/// Any bytes as a shard file: its records or a FolioError naming the shard, never a crash,
/// a hang or an allocation beyond libFuzzer's -malloc_limit_mb. An input whose first byte
/// is odd has its checksums made right first (footer and blocks), so that mutations reach
/// the footer's fields, zstd and the records instead of stopping at a checksum.
let scratch = ScratchFolder()

@_cdecl("fuzz_shard_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let input = inputBytes(data, size)
    var bytes = Array(input.dropFirst())
    if input[0] & 1 == 1 { fixChecksums(&bytes) }
    return bytes.withUnsafeBytes { raw in
        scratch.readsCleanly(raw, as: "shard-00000.fol") { path throws(FolioError) in
            let reader = try ShardReader(path: path)
            var records = 0
            for block in 0..<reader.blocks.count {
                try reader.forEachRecord(inBlock: block) { _, _, _ throws(FolioError) in records += 1 }
            }
            check(records == reader.recordCount, "\(records) records read, the footer counts \(reader.recordCount)")
        }
    }
}

/// Layout (ShardFormat): header 16 bytes, blocks, footer (u32 block count, 28-byte entries
/// with the block checksum at +24, ...), trailer (u64 footer offset, u32 footer checksum,
/// u32, 8-byte magic).
func fixChecksums(_ bytes: inout [UInt8]) {
    guard bytes.count >= 40 else { return }
    func load<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
    }
    func store(_ value: UInt32, at: Int) {
        withUnsafeBytes(of: value.littleEndian) { for (i, byte) in $0.enumerated() { bytes[at + i] = byte } }
    }
    let trailer = bytes.count - 24
    let footer = load(trailer, UInt64.self)
    guard footer >= 16, footer <= UInt64(trailer - 4) else { return }
    let start = Int(footer)
    let blocks = Int(load(start, UInt32.self))
    for entry in 0..<min(blocks, (trailer - start - 4) / 28) {
        let at = start + 4 + entry * 28
        let offset = load(at, UInt64.self), length = UInt64(load(at + 8, UInt32.self))
        guard offset <= UInt64(start), length <= UInt64(start) - offset else { continue }
        let checksum = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset + length)])) }
        store(checksum, at: at + 24)
    }
    store(bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<trailer])) }, at: trailer + 8)
}
