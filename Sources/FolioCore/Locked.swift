import Glibc

/// A value shared between threads, behind a pthread mutex.
///
/// Folio's cross-thread state uses this instead of Synchronization's `Mutex` so that
/// ThreadSanitizer can check it. On Linux a contended `Mutex` hands over in its slow paths
/// (`_lockSlow`, `_unlockSlow`: futex waits), which live in libswiftSynchronization.so,
/// built without TSan: the ordering they give is invisible to it, and every contended
/// hand-over in ``BoundedQueue`` was reported as a race (14 reports in the suite; none
/// left with this lock, whose `pthread_mutex_lock`/`unlock` TSan intercepts). An
/// uncontended lock costs the same two atomic operations either way.
public final class Locked<Value: Sendable>: @unchecked Sendable {
    // @unchecked: every access to `value` happens inside `withLock`, under `mutex`.
    private var value: Value
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock.
    public func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
