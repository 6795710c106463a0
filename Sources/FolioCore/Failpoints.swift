import Glibc

/// Crash tests from outside: with `FOLIO_FAILPOINT=name:n` in the environment, the n-th
/// time an object holding these failpoints passes the point `name` it kills the process
/// with SIGKILL, as `kill -9` would (no cleanup, no flushing), so tests can prove that a
/// run killed at that point resumes exactly. A value, held by what passes the points (a
/// ``Trainer``), so two trainings in one process count their own passes. Without the
/// variable a pass costs one comparison.
public struct Failpoints: Sendable {
    /// The point to trip and how many more passes until it trips.
    private var target: (name: String, remaining: Int)?

    /// `spec` is `name:n`; nil (or anything else) arms nothing.
    public init(_ spec: String?) {
        guard let text = spec, let colon = text.lastIndex(of: ":"), let count = Int(text[text.index(after: colon)...]) else { return }
        target = (String(text[..<colon]), count)
    }

    /// What `FOLIO_FAILPOINT` arms.
    public static func fromEnvironment() -> Failpoints { Failpoints(getenv("FOLIO_FAILPOINT").map { String(cString: $0) }) }

    public mutating func pass(_ point: String) {
        guard let current = target, current.name == point else { return }
        if current.remaining <= 1 { kill(getpid(), SIGKILL) }
        target = (current.name, current.remaining - 1)
    }
}
