import Glibc

enum ProcessInfoLite {
    /// Cores this process may run on (sched_getaffinity), at least 1.
    static var activeProcessorCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    static var stderrIsTerminal: Bool { isatty(2) != 0 }

    /// Writes a line to standard error without buffering.
    static func printError(_ text: String) {
        writeError(text + "\n")
    }

    /// Writes text to standard error as it is (file descriptor 2: no shared FILE state).
    static func writeError(_ text: String) {
        write(Array(text.utf8), to: 2)
    }

    /// Writes bytes to standard output unbuffered (bulk prediction's lines, from its writer
    /// thread; nothing else in that command prints to standard output meanwhile).
    static func writeOutput(_ bytes: [UInt8]) {
        write(bytes, to: 1)
    }

    private static func write(_ bytes: [UInt8], to descriptor: Int32) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
    }
}
