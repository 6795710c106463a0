import CZstd
import FolioCore

/// Decompresses a zstd stream (any number of frames) as it is read.
public final class ZstdByteSource: ByteSource {
    public var path: String { base.path }
    public var consumedBytes: Int { base.consumedBytes }
    private var base: any ByteSource
    private let stream: OpaquePointer
    private var input: UnsafeMutableRawBufferPointer
    private var inputStart = 0
    private var inputEnd = 0
    private var baseFinished = false
    private var frameOpen = false
    private var compressedOffset = 0

    public init(wrapping base: any ByteSource) throws(FolioError) {
        self.base = base
        guard let stream = ZSTD_createDStream() else {
            throw FolioError("cannot create a zstd decompressor", file: base.path)
        }
        self.stream = stream
        ZSTD_initDStream(stream)
        input = .allocate(byteCount: ZSTD_DStreamInSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeDStream(stream)
        input.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FolioError) -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            if inputStart == inputEnd && !baseFinished {
                inputEnd = try base.read(into: input)
                inputStart = 0
                if inputEnd == 0 { baseFinished = true }
            }
            if inputStart == inputEnd && baseFinished {
                if frameOpen {
                    throw FolioError("truncated zstd stream", file: path, place: "byte \(compressedOffset)")
                }
                return 0
            }
            var inBuffer = ZSTD_inBuffer(src: input.baseAddress! + inputStart, size: inputEnd - inputStart, pos: 0)
            var outBuffer = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
            let hint = ZSTD_decompressStream(stream, &outBuffer, &inBuffer)
            if ZSTD_isError(hint) != 0 {
                let reason = String(cString: ZSTD_getErrorName(hint))
                throw FolioError("corrupt zstd data: \(reason)", file: path, place: "byte \(compressedOffset)")
            }
            inputStart += inBuffer.pos
            compressedOffset += inBuffer.pos
            // hint 0 means a frame just ended; anything else means one is still open.
            frameOpen = hint != 0
            if outBuffer.pos > 0 { return outBuffer.pos }
        }
    }
}
