import ArgumentParser
import FolioCore

/// A size on the command line: `64MB`, `1.5GB`, `512KiB`, `1000000` (bytes); see
/// ``parseByteSize(_:)``.
struct ByteSize: ExpressibleByArgument, Sendable {
    var bytes: Int

    init(bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        guard let bytes = parseByteSize(argument) else { return nil }
        self.bytes = bytes
    }

    static var defaultCompletionKind: CompletionKind { .default }
}
