import CFuzzDriver
import FolioCore
import Glibc
import Glibc

/// A folder of this fuzzing process's own in memory (`/dev/shm`), where the readers that
/// take a path find each input written as a file.
public final class ScratchFolder: Sendable {
    public let path: String

    public init() {
        var template = Array("/dev/shm/folio-fuzz-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            fatalError("cannot create a scratch folder in /dev/shm")  // the harness's own set-up, not input
        }
        path = String(cString: made)
    }

    /// Writes `bytes` to `name` inside the folder (replacing it) and returns its path.
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer, as name: String) -> String {
        let file = path + "/" + name
        let descriptor = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        precondition(descriptor >= 0, "cannot write \(file)")
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            precondition(written > 0, "cannot write \(file)")
            offset += written
        }
        close(descriptor)
        return file
    }

    /// Copies a file of the seed set into the folder (the fixed parts of a bundle).
    public func copy(_ source: String, as name: String) {
        guard let bytes = try? readWholeFile(source) else { fatalError("missing harness file \(source)") }
        bytes.withUnsafeBytes { _ = write($0, as: name) }
    }
}

/// The input as a buffer, for the entry point's pointer and size.
public func inputBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size)
}

/// The target's `main` (renamed by SwiftPM, so libFuzzer's own cannot be used): hands the
/// command line to libFuzzer's driver.
public func runFuzzer(
    _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ one: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, one)
}

/// A property every input must keep; on failure the message goes to standard error (an
/// optimized build drops `precondition`'s) and libFuzzer records the input as a crash.
public func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if condition() { return }
    var text = Array(("property failed: " + message() + "\n").utf8)
    _ = text.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    abort()
}

extension ScratchFolder {
    /// Writes the input as `name` and hands its path to `read`, which may fail only with a
    /// FolioError naming a file in this folder (the one written, or one beside it). The
    /// property every file reader shares.
    public func readsCleanly(_ input: UnsafeRawBufferPointer, as name: String, _ read: (String) throws(FolioError) -> Void) -> Int32 {
        let file = write(input, as: name)
        do {
            try read(file)
        } catch {
            check(error.file?.hasPrefix(path) == true, "error without the file's name: \(error)")
        }
        return 0
    }
}
