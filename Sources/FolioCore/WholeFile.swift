import Glibc

/// Reads a whole (small) file; for vocabularies and configuration, never corpora.
public func readWholeFile(_ path: String) throws(FolioError) -> [UInt8] {
    guard let file = fopen(path, "rb") else {
        throw FolioError("cannot open: \(FolioError.systemMessage(errno))", file: path)
    }
    defer { fclose(file) }
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = buffer.withUnsafeMutableBytes { fread($0.baseAddress!, 1, $0.count, file) }
        if count == 0 { break }
        result.append(contentsOf: buffer[0..<count])
    }
    if ferror(file) != 0 { throw FolioError("read failed: \(FolioError.systemMessage(errno))", file: path) }
    return result
}
