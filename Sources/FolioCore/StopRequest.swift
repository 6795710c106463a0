import Synchronization

/// A request to stop at the next safe point, made from outside (SIGINT, SIGTERM, a
/// service shutting down): a training checks it at optimizer-step boundaries, saves a
/// checkpoint there and throws an error carrying the signal.
///
/// Passed in like any other setting (``FolioError/signal`` says which signal stopped a
/// job); nothing here is process-wide. While no job is listening, ``request(signal:)``
/// returns false, so the caller can end the process at once instead of waiting for a
/// boundary that will not come.
public final class StopRequest: Sendable {
    private let requested = Atomic<Int32>(0)
    private let listeners = Atomic<Int>(0)

    public init() {}

    /// The signal that asked to stop, if one did.
    public var signal: Int32? {
        let value = requested.load(ordering: .acquiring)
        return value == 0 ? nil : value
    }

    /// Asks listening jobs to stop; false when no job is listening.
    @discardableResult
    public func request(signal: Int32) -> Bool {
        requested.store(signal, ordering: .releasing)
        return listeners.load(ordering: .acquiring) > 0
    }

    /// Runs `body` as a job that honours the request at its safe points.
    public func listening<Result>(_ body: () throws(FolioError) -> Result) throws(FolioError) -> Result {
        listeners.add(1, ordering: .acquiringAndReleasing)
        defer { listeners.subtract(1, ordering: .acquiringAndReleasing) }
        return try body()
    }
}
