import Glibc

/// The temporary names Folio writes carry the writing process's id: `NAME.tmp-PID` for an
/// ``AtomicFile`` and `.folio-spill-PID-XXXXXX` for a ``SpillFolder``. A run killed by
/// `kill -9` or a power cut leaves them behind; the next job writing into the same folder
/// calls ``removeStaleTemporaries(in:)`` first.
///
/// Only those two kinds of name are touched, and only when their process is gone: a
/// temporary of a run still going (this process or another one writing the same folder)
/// stays. A process id reused since by an unrelated live process keeps its stale file
/// until that process ends: the safe side. Process ids are per machine, so on a folder
/// shared between machines a file another machine's run is writing could look stale; the
/// jobs of one run never share an output folder across machines (DESIGN.md section 9).
public enum StaleTemporaries {
    /// What a name is, if it is one of ours: the writer's process id and whether it is a
    /// spill folder.
    static func writer(of name: String) -> (pid: pid_t, isSpillFolder: Bool)? {
        let spillPrefix = ".folio-spill-"
        if name.hasPrefix(spillPrefix) {
            let rest = name.dropFirst(spillPrefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = processID(rest[..<dash]) else { return nil }
            return (pid, true)
        }
        // NAME.tmp-PID: the digits after the last ".tmp-", with a non-empty NAME before it.
        let bytes = Array(name.utf8)
        let marker = Array(".tmp-".utf8)
        guard bytes.count > marker.count + 1 else { return nil }
        var start = bytes.count - marker.count - 1
        while start > 0 && !bytes[start..<(start + marker.count)].elementsEqual(marker) { start -= 1 }
        guard start > 0, let pid = processID(Substring(decoding: bytes[(start + marker.count)...], as: UTF8.self))
        else { return nil }
        return (pid, false)
    }

    private static func processID(_ digits: Substring) -> pid_t? {
        guard !digits.isEmpty, digits.count <= 10, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let value = Int32(digits), value > 0 else { return nil }
        return value
    }

    /// Whether a process with this id exists (EPERM: it exists but belongs to someone else).
    static func isRunning(_ pid: pid_t) -> Bool {
        pid == getpid() || kill(pid, 0) == 0 || errno == EPERM
    }

    /// Removes the temporaries of processes that are gone from `folder` (not recursively
    /// beyond a spill folder's own files) and returns their names. A folder that cannot be
    /// read is left alone: the job that follows reports it when it writes.
    @discardableResult
    public static func removeStaleTemporaries(in folder: String) -> [String] {
        var removed: [String] = []
        for name in sortedDirectoryEntries(of: folder) ?? [] {
            guard let writer = writer(of: name), !isRunning(writer.pid) else { continue }
            let path = folder + "/" + name
            if writer.isSpillFolder {
                for entry in sortedDirectoryEntries(of: path) ?? [] { unlink(path + "/" + entry) }
                if rmdir(path) == 0 { removed.append(name) }
            } else if unlink(path) == 0 {
                removed.append(name)
            }
        }
        return removed
    }
}
