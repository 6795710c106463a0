import Dispatch

/// A first-in first-out queue of at most `capacity` items between threads: producers
/// block while it is full, consumers while it is empty. ``close()`` ends it.
///
/// This is the shape DESIGN.md section 8 recommends under Swift 6: state behind a lock
/// (``Locked``, which ThreadSanitizer can check), waiting on two semaphores. The items sit in a ring of `capacity` slots, each cleared
/// as it is taken, so the queue never keeps a reference to an item it handed out.
public final class BoundedQueue<Element: Sendable>: Sendable {
    private struct Ring {
        var slots: [Element?]
        var head = 0
        var count = 0
        var closed = false

        mutating func append(_ item: Element) {
            slots[(head + count) % slots.count] = item
            count += 1
        }

        mutating func removeFirst() -> Element? {
            guard count > 0 else { return nil }
            let item = slots[head]
            slots[head] = nil
            head = (head + 1) % slots.count
            count -= 1
            return item
        }
    }

    private let state: Locked<Ring>
    private let freeSlots: DispatchSemaphore
    private let filledSlots = DispatchSemaphore(value: 0)

    public init(capacity: Int) {
        let capacity = max(1, capacity)
        state = Locked(Ring(slots: Array(repeating: nil, count: capacity)))
        // libdispatch traps when a semaphore is freed below the value it was created with,
        // which a queue dropped while holding items would be. Created at 0 and signalled
        // up to capacity, it never is.
        freeSlots = DispatchSemaphore(value: 0)
        for _ in 0..<capacity { freeSlots.signal() }
    }

    /// Adds an item, waiting for room. Items pushed after ``close()`` are dropped.
    public func push(_ item: sending Element) {
        freeSlots.wait()
        insert(item)
    }

    /// Adds an item if there is room now; false (the item dropped) when the queue is full.
    @discardableResult
    public func tryPush(_ item: sending Element) -> Bool {
        guard freeSlots.wait(timeout: .now()) == .success else { return false }
        insert(item)
        return true
    }

    private func insert(_ item: sending Element) {
        let accepted = state.withLock { ring in
            guard !ring.closed else { return false }
            ring.append(item)
            return true
        }
        if accepted { filledSlots.signal() } else { freeSlots.signal() }
    }

    /// The next item, waiting for one; nil once the queue is closed and empty.
    public func pop() -> Element? {
        filledSlots.wait()
        return take()
    }

    /// The next item if one is waiting, without blocking.
    public func tryPop() -> Element? {
        guard filledSlots.wait(timeout: .now()) == .success else { return nil }
        return take()
    }

    private func take() -> Element? {
        if let item = state.withLock({ $0.removeFirst() }) {
            freeSlots.signal()
            return item
        }
        // Closed and empty: pass the wake-up on so every other consumer sees it too.
        filledSlots.signal()
        return nil
    }

    /// No more items will come; consumers drain what is left, then get nil.
    public func close() {
        state.withLock { $0.closed = true }
        filledSlots.signal()
    }
}
