import FolioCore
import Glibc

/// A stream of bytes read front to back in chunks: a plain file or a decompressor over one.
public protocol ByteSource {
    /// The path shown in errors.
    var path: String { get }
    /// Fills up to `buffer.count` bytes; returns 0 at the end.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(FolioError) -> Int
    /// Bytes of the file on disk consumed so far (compressed bytes for a decompressor),
    /// for progress against the file's size.
    var consumedBytes: Int { get }
}

/// A file, or a byte range of one, read with POSIX `read`, so that no more than one chunk is
/// ever held.
public final class FileByteSource: ByteSource {
    public let path: String
    private var descriptor: Int32
    /// The file's offset of the next byte, for error places.
    public private(set) var offset: Int
    private let start: Int
    private let end: Int
    public var consumedBytes: Int { offset - start }

    /// The whole file, or the bytes `range` of it.
    public init(path: String, range: Range<Int>? = nil) throws(FolioError) {
        self.path = path
        (start, end) = (range?.lowerBound ?? 0, range?.upperBound ?? Int.max)
        offset = start
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            throw FolioError("cannot open: \(FolioError.systemMessage(errno))", file: path)
        }
        if start > 0 && lseek(descriptor, off_t(start), SEEK_SET) < 0 {
            let message = FolioError.systemMessage(errno)
            close(descriptor)
            throw FolioError("cannot seek: \(message)", file: path, place: "byte \(start)")
        }
    }

    deinit { close(descriptor) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FolioError) -> Int {
        let wanted = min(buffer.count, end - offset)
        guard wanted > 0 else { return 0 }
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, wanted)
            if count >= 0 {
                offset += count
                return count
            }
            if errno == EINTR { continue }
            throw FolioError("read failed: \(FolioError.systemMessage(errno))", file: path, place: "byte \(offset)")
        }
    }
}

/// Opens a file, through ``ZstdByteSource`` when its name ends in `.zst`.
public func openByteSource(path: String) throws(FolioError) -> any ByteSource {
    let file = try FileByteSource(path: path)
    if path.hasSuffix(".zst") { return try ZstdByteSource(wrapping: file) }
    return file
}
