import Foundation
@_exported import FolioCore

/// A fresh temporary folder, removed when the value goes away. A suite that keeps one as a
/// stored property gets a folder per test (Swift Testing makes a suite value per test), and
/// the folder goes when the test's value does: a suite that kept a bare path left its
/// folders behind, about 6 MB a test run.
public final class TemporaryFolder: Sendable {
    public let path: String

    public init(prefix: String = "folio-test-") {
        path = NSTemporaryDirectory() + prefix + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    public func write(_ relative: String, _ bytes: [UInt8]) -> String {
        let full = path + "/" + relative
        let folder = (full as NSString).deletingLastPathComponent
        try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: full, contents: Data(bytes))
        return full
    }

    @discardableResult
    public func write(_ relative: String, _ text: String) -> String { write(relative, Array(text.utf8)) }

    public func makeFolder(_ relative: String) {
        try! FileManager.default.createDirectory(atPath: path + "/" + relative, withIntermediateDirectories: true)
    }
}
