import Glibc

/// The temporary names Folio writes carry the writing process's id and machine:
/// `NAME.tmp-PID@HOST` for an ``AtomicFile`` and `.folio-spill-PID@HOST-XXXXXX` for a
/// spill folder. A run killed by `kill -9` or a power cut leaves them behind; the next job
/// writing into the same folder calls ``removeStaleTemporaries(in:)`` first.
///
/// Only those two kinds of name are touched, and only when they are this machine's and
/// their process is gone: a temporary of a run still going (this process, another one
/// here, or any process of another machine writing the same shared folder, as the ranks of
/// a distributed run do: DESIGN.md section 9) stays. A process id reused since by an
/// unrelated live process keeps its stale file until that process ends: the safe side.
public enum StaleTemporaries {
    /// This machine's name as temporary names carry it (`@` and `/` cannot occur in it).
    public static let host: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = string(fromCBuffer: buffer).filter { $0 != "@" && $0 != "/" }
        return name.isEmpty ? "localhost" : name
    }()

    /// `PID@HOST`: what a temporary name of this process carries.
    public static var writerTag: String { "\(getpid())@\(host)" }

    /// What a name is, if it is one of ours: the writer's process id and machine, and
    /// whether it is a spill folder.
    static func writer(of name: String) -> (pid: pid_t, host: String, isSpillFolder: Bool)? {
        let spillPrefix = ".folio-spill-"
        if name.hasPrefix(spillPrefix) {
            // PID@HOST-XXXXXX: the host may hold dashes, the random suffix does not.
            let rest = name.dropFirst(spillPrefix.count)
            guard let dash = rest.lastIndex(of: "-"), let tag = parseTag(rest[..<dash]) else { return nil }
            return (tag.pid, tag.host, true)
        }
        // NAME.tmp-PID@HOST: the tag after the last ".tmp-", with a non-empty NAME before it.
        let bytes = Array(name.utf8)
        let marker = Array(".tmp-".utf8)
        guard bytes.count > marker.count + 1 else { return nil }
        var start = bytes.count - marker.count - 1
        while start > 0 && !bytes[start..<(start + marker.count)].elementsEqual(marker) { start -= 1 }
        guard start > 0, let tag = parseTag(Substring(decoding: bytes[(start + marker.count)...], as: UTF8.self)) else { return nil }
        return (tag.pid, tag.host, false)
    }

    private static func parseTag(_ tag: Substring) -> (pid: pid_t, host: String)? {
        guard let at = tag.firstIndex(of: "@") else { return nil }
        let digits = tag[..<at]
        let host = tag[tag.index(after: at)...]
        guard !digits.isEmpty, digits.count <= 10, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let value = Int32(digits), value > 0, !host.isEmpty else { return nil }
        return (value, String(host))
    }

    /// Whether a process with this id exists here (EPERM: it exists but belongs to someone else).
    static func isRunning(_ pid: pid_t) -> Bool {
        pid == getpid() || kill(pid, 0) == 0 || errno == EPERM
    }

    /// Removes this machine's temporaries of processes that are gone from `folder` (a
    /// spill folder with its files) and returns their names. A folder that cannot be read
    /// is left alone: the job that follows reports it when it writes.
    @discardableResult
    public static func removeStaleTemporaries(in folder: String) -> [String] {
        var removed: [String] = []
        for name in sortedDirectoryEntries(of: folder) ?? [] {
            guard let writer = writer(of: name), writer.host == host, !isRunning(writer.pid) else { continue }
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
