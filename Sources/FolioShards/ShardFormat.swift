/// The byte layout of a shard file, version 1 or 2. All integers are little-endian.
///
/// ```
/// header   16 bytes   "FOLIOSHD" | version u16 | flags u16 | reserved u32 (0)
/// blocks   ...        one zstd frame each (level 3), back to back; decompressed, a block
///                     is records, each: label LEB128 | token count LEB128 | ids LEB128...
///                     and, with flag 1 (version 2): unknown count LEB128 | per unknown
///                     token, in order: byte length LEB128 | its UTF-8 bytes
///                     (about 1 MiB decompressed; a record never spans two blocks)
/// footer   ...        block count u32
///                     per block (28 bytes): offset u64 | compressed size u32 |
///                       decompressed size u32 | records u32 | first record u32 |
///                       CRC-32C of the compressed bytes u32
///                     record count u64
///                     per record: token count, LEB128
/// trailer  24 bytes   footer offset u64 | CRC-32C of the footer u32 | version u16 |
///                     reserved u16 (0) | "FOLIOEND"
/// ```
///
/// A reader starts from the trailer: a file without "FOLIOEND" at its end is truncated
/// (or not a shard), and a footer whose CRC does not match is corrupt. The per-record
/// token counts let a loader bucket by length without decompressing anything. CRC-32C is
/// the Castagnoli polynomial (``CRC32C``).
///
/// Flag 1, *unknown text*, keeps the text of every token written as `<oov>` (id 1), so that
/// features made from a word's letters (fastText's character n-grams) reach words outside
/// the vocabulary too; the count must equal the record's `<oov>` ids. A file without it is
/// written as version 1, byte for byte as before the flag existed.
public enum ShardFormat {
    /// The newest version this Folio reads and writes.
    public static let version: UInt16 = 2
    public static let unknownTextFlag: UInt16 = 1
    /// The id of a token outside the vocabulary (FolioText's `Vocabulary.oovID`).
    public static let unknownID: UInt32 = 1
    static let headerMagic = Array("FOLIOSHD".utf8)
    static let trailerMagic = Array("FOLIOEND".utf8)
    static let headerBytes = 16
    static let trailerBytes = 24
    static let blockEntryBytes = 28
    public static let defaultBlockBytes = 1 << 20
    /// The most a block may decompress to: the reader refuses a footer that states more,
    /// so a corrupt or hostile shard cannot make it allocate beyond this, and the writer
    /// refuses a record that would need a larger block.
    public static let maxBlockBytes: UInt32 = 256 << 20
    public static let compressionLevel: Int32 = 3
}

/// Where a block lies and what it holds.
public struct ShardBlock: Sendable, Equatable {
    public var offset: UInt64
    public var compressedBytes: UInt32
    public var decompressedBytes: UInt32
    public var records: UInt32
    public var firstRecord: UInt32
    public var checksum: UInt32
}

/// One record: a document's label and token ids (and, in a shard that keeps it, the text
/// of its unknown tokens, in order).
public struct ShardRecord: Sendable, Equatable {
    public var label: UInt32
    public var ids: [UInt32]
    public var unknownText: [String]

    public init(label: UInt32, ids: [UInt32], unknownText: [String] = []) {
        self.label = label
        self.ids = ids
        self.unknownText = unknownText
    }
}

/// Little-endian fixed-width integers into and out of byte arrays.
extension Array where Element == UInt8 {
    mutating func appendLittleEndian<Value: FixedWidthInteger>(_ value: Value) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension UnsafeRawBufferPointer {
    /// Every caller checks the length of what it parses first (a shard's bytes come from
    /// outside); the precondition turns a missed check into a trap instead of a read past
    /// the buffer, which `loadUnaligned` does not check in an optimized build.
    func littleEndian<Value: FixedWidthInteger>(at offset: Int, as: Value.Type) -> Value {
        precondition(offset >= 0 && offset <= count - MemoryLayout<Value>.size, "read past a checked buffer")
        return Value(littleEndian: loadUnaligned(fromByteOffset: offset, as: Value.self))
    }
}
