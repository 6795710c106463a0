import FolioCore
import Glibc

/// Lines of a ``ByteSource``, read in 1 MiB pieces so that about one line is held at a
/// time; a line longer than `maxLineBytes` is an error naming it.
struct LineReader {
    private(set) var source: any ByteSource
    let maxLineBytes: Int
    /// Lines returned so far: the number of the last one.
    private(set) var lineNumber = 0
    /// Bytes read from the source (after decompression).
    private(set) var bytesRead = 0
    private var readBuffer: UnsafeMutableRawBufferPointer
    private var pending: [UInt8] = []     // bytes read but not yet cut into lines
    private var pendingStart = 0
    private var sourceFinished = false

    /// `linesBefore`: lines of the file before the source's first byte (a part's range).
    init(source: any ByteSource, maxLineBytes: Int, linesBefore: Int = 0) {
        self.source = source
        self.maxLineBytes = maxLineBytes
        lineNumber = linesBefore
        readBuffer = .allocate(byteCount: 1 << 20, alignment: 16)
    }

    /// Frees the read buffer; the owner calls it once, from its `deinit`.
    func deallocate() { readBuffer.deallocate() }

    /// The next line without its newline, or nil at the end.
    mutating func next() throws(FolioError) -> ArraySlice<UInt8>? {
        var searchFrom = pendingStart
        while true {
            let newline: Int? = pending.withUnsafeBytes { raw in
                guard searchFrom < raw.count,
                    let found = memchr(raw.baseAddress! + searchFrom, 0x0A, raw.count - searchFrom)
                else { return nil }
                return UnsafeRawPointer(found) - raw.baseAddress!
            }
            if let newline {
                let line = pending[pendingStart..<newline]
                pendingStart = newline + 1
                lineNumber += 1
                return line
            }
            if pending.count - pendingStart > maxLineBytes {
                throw FolioError("line longer than \(maxLineBytes) bytes", file: source.path, place: "line \(lineNumber + 1)")
            }
            if sourceFinished {
                guard pendingStart < pending.count else { return nil }
                let line = pending[pendingStart...]
                pendingStart = pending.count
                lineNumber += 1
                return line
            }
            // Drop consumed bytes before reading more, so the buffer holds about one line.
            if pendingStart > 0 {
                pending.removeFirst(pendingStart)
                pendingStart = 0
            }
            searchFrom = pending.count
            let count = try source.read(into: readBuffer)
            if count == 0 { sourceFinished = true }
            bytesRead += count
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: readBuffer[0..<count]))
        }
    }
}
