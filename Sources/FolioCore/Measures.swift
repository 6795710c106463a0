import Glibc

extension Duration {
    /// The duration in seconds, for reports.
    public var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) * 1e-18
    }
}

/// The size of a file in bytes, or nil when it cannot be read.
public func fileSize(_ path: String) -> Int? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return Int(info.st_size)
}

/// Size and modification time (nanoseconds since 1970) of a regular file; nil for anything
/// else or an unreadable path.
public func regularFileStamp(_ path: String) -> (size: Int, modified: Int64)? {
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    return (Int(info.st_size), Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
}

/// Minor page faults of the process so far: pages the kernel had to map (and zero) for it.
public func minorPageFaults() -> Int { processUsage().ru_minflt }

/// The process's peak resident set size so far, in megabytes (MiB).
public func peakResidentMegabytes() -> Double { Double(processUsage().ru_maxrss) / 1024 }

private func processUsage() -> rusage {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage
}
