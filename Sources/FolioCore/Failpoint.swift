import Glibc

/// Crash tests from outside: with `FOLIO_FAILPOINT=name:n` in the environment, the n-th
/// time the process passes the failpoint `name` it kills itself with SIGKILL, as `kill -9`
/// would (no cleanup, no flushing), so tests can prove that a run killed at that point
/// resumes exactly. Without the variable a failpoint costs one comparison.
public enum Failpoint {
    /// The failpoint to trip and how many more passes until it trips (main thread only).
    nonisolated(unsafe) private static var target: (name: String, remaining: Int)? = {
        guard let raw = getenv("FOLIO_FAILPOINT") else { return nil }
        let text = String(cString: raw)
        guard let colon = text.lastIndex(of: ":"), let count = Int(text[text.index(after: colon)...]) else { return nil }
        return (String(text[..<colon]), count)
    }()

    public static func pass(_ point: String) {
        guard let current = target, current.name == point else { return }
        if current.remaining <= 1 { kill(getpid(), SIGKILL) }
        target = (current.name, current.remaining - 1)
    }
}
