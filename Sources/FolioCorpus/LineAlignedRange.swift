import FolioCore
import Glibc

/// One part's share of a plain file cut at line ends: part i of n holds the lines that start
/// in bytes [size·i/n, size·(i+1)/n), so the parts are disjoint, cover every line and need
/// no agreement between ranks. A rank parses only its range; before it, it counts the
/// newlines of the bytes in front (a `memchr` pass, no parsing) so that its line numbers are
/// the file's.
struct LineAlignedRange {
    /// The part's bytes: from the start of its first line to the start of the next part's.
    var bytes: Range<Int>
    /// Lines before the range, so that the part's line numbers are the file's.
    var linesBefore: Int

    init(path: String, part: CorpusPart) throws(FolioError) {
        guard let size = fileSize(path) else { throw FolioError("cannot read the file's size", file: path) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        let start = try Self.lineStart(atOrAfter: size * part.index / part.count, size: size, path: path, buffer: buffer)
        let end = part.index + 1 == part.count
            ? size : try Self.lineStart(atOrAfter: size * (part.index + 1) / part.count, size: size, path: path, buffer: buffer)
        bytes = start..<max(start, end)
        linesBefore = try Self.newlines(before: start, path: path, buffer: buffer)
    }

    /// The first line start at or after `boundary`: 0, or the byte after a newline.
    private static func lineStart(
        atOrAfter boundary: Int, size: Int, path: String, buffer: UnsafeMutableRawBufferPointer
    ) throws(FolioError) -> Int {
        guard boundary > 0 else { return 0 }
        guard boundary < size else { return size }
        // A line starting exactly at the boundary has its newline one byte before.
        let source = try FileByteSource(path: path, range: (boundary - 1)..<size)
        var position = boundary - 1
        while true {
            let count = try source.read(into: buffer)
            if count == 0 { return size }
            if let found = memchr(buffer.baseAddress!, 0x0A, count) {
                return position + (UnsafeRawPointer(found) - UnsafeRawPointer(buffer.baseAddress!)) + 1
            }
            position += count
        }
    }

    private static func newlines(before end: Int, path: String, buffer: UnsafeMutableRawBufferPointer) throws(FolioError) -> Int {
        guard end > 0 else { return 0 }
        let source = try FileByteSource(path: path, range: 0..<end)
        var lines = 0
        while true {
            let count = try source.read(into: buffer)
            if count == 0 { return lines }
            var from = UnsafeRawPointer(buffer.baseAddress!)
            let stop = from + count
            while from < stop, let found = memchr(from, 0x0A, stop - from) {
                lines += 1
                from = UnsafeRawPointer(found) + 1
            }
        }
    }
}
