import Glibc

/// Crash tests from outside: with `FOLIO_FAILPOINT=name:n` in the environment, the n-th
/// time an object holding these failpoints passes the point `name` it kills the process
/// with SIGKILL, as `kill -9` would (no cleanup, no flushing), so tests can prove that a
/// run killed at that point resumes exactly. `name:n:INT` or `name:n:TERM` sends itself
/// SIGINT or SIGTERM there instead (the path Ctrl-C and a scheduler's stop take). A value,
/// held by what passes the points (a ``Trainer``, the vocabulary and shard jobs), so two
/// jobs in one process count their own passes. Without the variable a pass costs one
/// comparison.
///
/// `FOLIO_FAILPOINT=enospc:NAME` is the disk-full fault instead: every ``AtomicFile`` whose
/// path ends with NAME fails its first write with ENOSPC, as a full disk would.
public struct Failpoints: Sendable, Hashable {
    /// The point to trip, how many more passes until it trips, and the signal it sends.
    private var name: String?
    private var remaining = 0
    private var signal = SIGKILL

    /// `spec` is `name:n` or `name:n:INT|TERM|KILL`; nil (or anything else) arms nothing.
    public init(_ spec: String?) {
        guard let parts = spec?.split(separator: ":", omittingEmptySubsequences: false), parts.count == 2 || parts.count == 3,
              let count = Int(parts[1]) else { return }
        if parts.count == 3 {
            switch parts[2] {
            case "INT": signal = SIGINT
            case "TERM": signal = SIGTERM
            case "KILL": signal = SIGKILL
            default: return
            }
        }
        name = String(parts[0])
        remaining = count
    }

    /// What `FOLIO_FAILPOINT` arms; with `FOLIO_FAILPOINT_RANK=R`, only in rank R of an
    /// `mpirun` launch (one rank killed while the others run on).
    public static func fromEnvironment() -> Failpoints {
        if let rank = getenv("FOLIO_FAILPOINT_RANK").map({ String(cString: $0) }),
           rank != getenv("OMPI_COMM_WORLD_RANK").map({ String(cString: $0) }) {
            return Failpoints(nil)
        }
        return Failpoints(environmentSpec)
    }

    static var environmentSpec: String? { getenv("FOLIO_FAILPOINT").map { String(cString: $0) } }

    public mutating func pass(_ point: String) {
        guard name == point else { return }
        remaining -= 1
        guard remaining == 0 else { return }
        kill(getpid(), signal)
        // A catchable signal is handled on another thread: give the handler time to ask
        // for the stop before this thread goes on.
        if signal != SIGKILL { usleep(100_000) }
    }

    /// Whether `FOLIO_FAILPOINT=perturb-weights:RANK` asks rank RANK of a distributed run to
    /// change a weight before the ranks compare their weights (the check must fire).
    public static func perturbsWeights(rank: Int) -> Bool {
        environmentSpec == "perturb-weights:\(rank)"
    }

    /// Whether `FOLIO_FAILPOINT=enospc:NAME` makes writes to `path` fail.
    static func writeFails(_ path: String) -> Bool {
        guard let spec = environmentSpec, spec.hasPrefix("enospc:") else { return false }
        return path.hasSuffix(String(spec.dropFirst("enospc:".count)))
    }
}
