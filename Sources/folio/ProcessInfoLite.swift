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
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { return }
            offset += written
        }
    }
}
