import FolioCore
import Glibc

/// A file of (token, count) records in a fixed order, written when a ``TokenCounter``
/// spills and read back by ``CountRunMerger``.
///
/// Record: LEB128 byte length, the token's bytes, LEB128 count. The file is private to
/// one run of the builder; no other program reads it.
final class CountRunWriter {
    let path: String
    private let file: UnsafeMutablePointer<FILE>
    private var scratch = [UInt8](repeating: 0, count: 10)

    init(path: String) throws(FolioError) {
        self.path = path
        guard let file = fopen(path, "wb") else {
            throw FolioError("cannot create spill file: \(FolioError.systemMessage(errno))", file: path)
        }
        self.file = file
        setvbuf(file, nil, _IOFBF, 1 << 16)
    }

    deinit { fclose(file) }

    func append(_ token: UnsafeRawBufferPointer, _ count: Int) throws(FolioError) {
        try writeLEB128(UInt64(token.count))
        if token.count > 0 && fwrite_unlocked(token.baseAddress!, 1, token.count, file) != token.count {
            throw FolioError("cannot write spill file: \(FolioError.systemMessage(errno))", file: path)
        }
        try writeLEB128(UInt64(count))
    }

    private func writeLEB128(_ value: UInt64) throws(FolioError) {
        var value = value
        var length = 0
        repeat {
            var byte = UInt8(value & 0x7F)
            value >>= 7
            if value != 0 { byte |= 0x80 }
            scratch[length] = byte
            length += 1
        } while value != 0
        let written = scratch.withUnsafeBytes { fwrite_unlocked($0.baseAddress!, 1, length, file) }
        if written != length {
            throw FolioError("cannot write spill file: \(FolioError.systemMessage(errno))", file: path)
        }
    }

    func finish() throws(FolioError) {
        if fflush(file) != 0 {
            throw FolioError("cannot write spill file: \(FolioError.systemMessage(errno))", file: path)
        }
    }
}

/// Reads a run file record by record; the current record is ``token``, ``count``.
///
/// A struct of plain pointers and integers, closed explicitly: the merge heap compares
/// these millions of times, and class references or arrays there would cost a retain and
/// a release per comparison (a quarter of the merge time when they were used).
struct CountRunReader {
    let file: UnsafeMutablePointer<FILE>
    private var key: UnsafeMutableRawPointer
    private var keyCapacity: Int
    private(set) var keyLength = 0
    private(set) var count = 0

    init(path: String) throws(FolioError) {
        guard let file = fopen(path, "rb") else {
            throw FolioError("cannot open spill file: \(FolioError.systemMessage(errno))", file: path)
        }
        self.file = file
        setvbuf(file, nil, _IOFBF, 1 << 16)
        keyCapacity = 64
        key = .allocate(byteCount: keyCapacity, alignment: 8)
    }

    func close() {
        fclose(file)
        key.deallocate()
    }

    var token: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: key, count: keyLength) }

    /// Moves to the next record; false at the end.
    mutating func advance(path: @autoclosure () -> String) throws(FolioError) -> Bool {
        guard let length = try readLEB128(allowEnd: true, path: path()) else { return false }
        if Int(length) > keyCapacity {
            key.deallocate()
            keyCapacity = Int(length) * 2
            key = .allocate(byteCount: keyCapacity, alignment: 8)
        }
        keyLength = Int(length)
        if keyLength > 0 && fread(key, 1, keyLength, file) != keyLength {
            throw FolioError("truncated spill file", file: path())
        }
        guard let value = try readLEB128(allowEnd: false, path: path()) else {
            throw FolioError("truncated spill file", file: path())
        }
        count = Int(value)
        return true
    }

    private func readLEB128(allowEnd: Bool, path: @autoclosure () -> String) throws(FolioError) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = getc_unlocked(file)
            if byte == EOF {
                if allowEnd && shift == 0 { return nil }
                throw FolioError("truncated spill file", file: path())
            }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
            if shift > 63 { throw FolioError("corrupt spill file", file: path()) }
        }
    }
}

/// The orders runs are kept in.
enum CountOrder {
    /// Ascending UTF-8 bytes: how counts are spilled and summed.
    case token
    /// Count descending, then bytes ascending: vocabulary id order.
    case rank

    @inline(__always)
    func precedes(_ a: UnsafeRawBufferPointer, _ aCount: Int, _ b: UnsafeRawBufferPointer, _ bCount: Int) -> Bool {
        if self == .rank && aCount != bCount { return aCount > bCount }
        return compareBytes(a.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, a.count,
                            b.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, b.count) < 0
    }
}

/// Merges sorted runs into one sorted stream, summing the counts of equal tokens.
///
/// A binary heap over the runs' current records; runs beyond ``fanIn`` are first merged
/// in groups into bigger runs, so the number of open files stays bounded.
struct CountRunMerger {
    static let fanIn = 64

    /// Merges `paths` (each sorted in `order`) and calls `body` once per distinct token;
    /// the bytes are valid only during the call.
    static func merge(
        _ paths: [String], order: CountOrder, scratch: SpillFolder,
        _ body: (UnsafeRawBufferPointer, Int) throws(FolioError) -> Void
    ) throws(FolioError) {
        var paths = paths
        while paths.count > fanIn {
            var merged: [String] = []
            for start in stride(from: 0, to: paths.count, by: fanIn) {
                let group = Array(paths[start..<min(start + fanIn, paths.count)])
                let writer = try CountRunWriter(path: scratch.newPath())
                try mergeOnce(group, order: order) { (token, count) throws(FolioError) in
                    try writer.append(token, count)
                }
                try writer.finish()
                merged.append(writer.path)
                for path in group { unlink(path) }
            }
            paths = merged
        }
        try mergeOnce(paths, order: order, body)
    }

    private static func mergeOnce(
        _ paths: [String], order: CountOrder, _ body: (UnsafeRawBufferPointer, Int) throws(FolioError) -> Void
    ) throws(FolioError) {
        var readers: [CountRunReader] = []
        defer { for reader in readers { reader.close() } }
        for path in paths { readers.append(try CountRunReader(path: path)) }
        var heap: [Int] = []  // indices into `readers`
        for index in readers.indices where try readers[index].advance(path: paths[index]) { heap.append(index) }

        try readers.withUnsafeMutableBufferPointer { readers throws(FolioError) in
            func less(_ a: Int, _ b: Int) -> Bool {
                order.precedes(readers[a].token, readers[a].count, readers[b].token, readers[b].count)
            }
            func siftDown(_ start: Int) {
                var parent = start
                while true {
                    let left = 2 * parent + 1
                    guard left < heap.count else { return }
                    var child = left
                    if left + 1 < heap.count && less(heap[left + 1], heap[left]) { child = left + 1 }
                    guard less(heap[child], heap[parent]) else { return }
                    heap.swapAt(child, parent)
                    parent = child
                }
            }
            for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }

            // Equal tokens are adjacent in `.token` order; `.rank` runs hold distinct tokens,
            // so summing never triggers there. `pending` is a copy: readers reuse their keys.
            var pending: [UInt8] = []
            var hasPending = false
            var pendingCount = 0
            while let top = heap.first {
                let token = readers[top].token
                if hasPending && pending.elementsEqual(token) {
                    pendingCount += readers[top].count
                } else {
                    if hasPending { try pending.withBytes { bytes throws(FolioError) in try body(bytes, pendingCount) } }
                    pending.removeAll(keepingCapacity: true)
                    pending.append(contentsOf: token)
                    hasPending = true
                    pendingCount = readers[top].count
                }
                if try readers[top].advance(path: paths[top]) {
                    siftDown(0)
                } else {
                    heap.swapAt(0, heap.count - 1)
                    heap.removeLast()
                    siftDown(0)
                }
            }
            if hasPending { try pending.withBytes { bytes throws(FolioError) in try body(bytes, pendingCount) } }
        }
    }
}

/// A private folder for spill files, removed with everything in it when released.
public final class SpillFolder: Sendable {
    public let path: String
    private let runsCreated = Locked(0)

    /// Creates a fresh folder inside `parent`, named with this process's id so that a
    /// later run can tell a killed run's folder from a live one's (``StaleTemporaries``).
    public init(inside parent: String) throws(FolioError) {
        var template = Array((parent + "/.folio-spill-" + StaleTemporaries.writerTag + "-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw FolioError("cannot create a spill folder: \(FolioError.systemMessage(errno))", file: parent)
        }
        path = String(cString: made)
    }

    deinit {
        for name in sortedDirectoryEntries(of: path) ?? [] { unlink(path + "/" + name) }
        rmdir(path)
    }

    func newPath() -> String {
        let number = runsCreated.withLock { count in
            count += 1
            return count
        }
        return path + "/run-\(number)"
    }
}
