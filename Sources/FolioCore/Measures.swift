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

/// The process's peak resident set size in megabytes (MiB): since it started, or since the
/// last ``restartPeakResident()`` that took effect.
public func peakResidentMegabytes() -> Double {
    // The kernel's high-water mark, the one `restartPeakResident` lowers; `ru_maxrss` also
    // keeps the peaks of threads that have exited, so it never comes down.
    if let line = firstLine(ofFile: "/proc/self/status", startingWith: "VmHWM:"),
       let kilobytes = Double(line.dropFirst("VmHWM:".count).split(separator: " ").first ?? "") {
        return kilobytes / 1024
    }
    return Double(processUsage().ru_maxrss) / 1024
}

/// Starts a new peak for ``peakResidentMegabytes()`` at the present resident size, so that a
/// stage run after others in one process (a tune's final model after its trials) reports its
/// own peak. Linux only (`/proc/self/clear_refs`); false where the peak could not be restarted.
@discardableResult
public func restartPeakResident() -> Bool {
    let file = open("/proc/self/clear_refs", O_WRONLY)
    guard file >= 0 else { return false }
    defer { close(file) }
    let code: [UInt8] = [UInt8(ascii: "5")]
    return write(file, code, 1) == 1
}

/// The first line of the file at `path` that starts with `prefix` (line end included; a
/// kernel's /proc file, whose lines may be long: /proc/cpuinfo's flags), or nil.
public func firstLine(ofFile path: String, startingWith prefix: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var line: UnsafeMutablePointer<CChar>?
    defer { free(line) }
    var capacity = 0
    while getline(&line, &capacity, file) > 0, let line {
        let text = String(cString: line)
        if text.hasPrefix(prefix) { return text }
    }
    return nil
}

private func processUsage() -> rusage {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage
}
