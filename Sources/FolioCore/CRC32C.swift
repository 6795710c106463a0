import CFolioKernels
import Glibc

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI, ext4 and LevelDB use it.
///
/// The CPU's crc32 instruction where there is one (x86-64 with SSE 4.2,
/// `folio_crc32c_update`); elsewhere slicing-by-8 in software, eight table lookups per eight
/// bytes. ``reference(_:)`` is the bit-at-a-time twin the tests compare both with.
public struct CRC32C: Sendable {
    public private(set) var value: UInt32 = 0

    public init() {}

    static let tables: [[UInt32]] = {
        var tables = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            tables[0][byte] = crc
        }
        for byte in 0..<256 {
            for slice in 1..<8 {
                let previous = tables[slice - 1][byte]
                tables[slice][byte] = (previous >> 8) ^ tables[0][Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    /// Whether ``update(_:)`` runs on the CPU's instruction.
    static let usesInstruction = folio_crc32c_hardware() != 0

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard Self.usesInstruction, let base = bytes.baseAddress else { return updateByTables(bytes) }
        value = ~folio_crc32c_update(~value, base, bytes.count)
    }

    /// Slicing-by-8: where the CPU has no crc32 instruction, and the twin tests hold it to.
    mutating func updateByTables(_ bytes: UnsafeRawBufferPointer) {
        var crc = ~value
        var index = 0
        let count = bytes.count
        CRC32C.tables.withUnsafeBufferPointer { tables in
            let t0 = tables[0], t1 = tables[1], t2 = tables[2], t3 = tables[3]
            let t4 = tables[4], t5 = tables[5], t6 = tables[6], t7 = tables[7]
            while index + 8 <= count {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                let low = UInt32(truncatingIfNeeded: word) ^ crc
                let high = UInt32(truncatingIfNeeded: word >> 32)
                crc = t7[Int(low & 0xFF)] ^ t6[Int((low >> 8) & 0xFF)] ^ t5[Int((low >> 16) & 0xFF)]
                    ^ t4[Int(low >> 24)] ^ t3[Int(high & 0xFF)] ^ t2[Int((high >> 8) & 0xFF)]
                    ^ t1[Int((high >> 16) & 0xFF)] ^ t0[Int(high >> 24)]
                index += 8
            }
            while index < count {
                crc = (crc >> 8) ^ t0[Int((crc ^ UInt32(bytes[index])) & 0xFF)]
                index += 1
            }
        }
        value = ~crc
    }

    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    /// The checksum of a whole file, read in 1 MiB pieces (never held whole).
    public static func checksum(ofFile path: String) throws(FolioError) -> UInt32 {
        guard let file = fopen(path, "rb") else {
            throw FolioError("cannot open: \(FolioError.systemMessage(errno))", file: path)
        }
        defer { fclose(file) }
        var crc = CRC32C()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { fread($0.baseAddress!, 1, $0.count, file) }
            if count == 0 { break }
            buffer.withUnsafeBytes { crc.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        if ferror(file) != 0 { throw FolioError("read failed: \(FolioError.systemMessage(errno))", file: path) }
        return crc.value
    }

    /// Bit at a time, straight from the definition.
    public static func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }
}
