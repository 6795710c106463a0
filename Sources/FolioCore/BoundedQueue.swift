import Dispatch
import Synchronization

/// A first-in first-out queue of at most `capacity` items between threads: producers
/// block while it is full, consumers while it is empty. ``close()`` ends it.
///
/// This is the shape DESIGN.md section 8 recommends under Swift 6: state in a `Mutex`,
/// waiting on two semaphores.
public final class BoundedQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var head = 0
        var closed = false
    }

    private let state = Mutex(State())
    private let freeSlots: DispatchSemaphore
    private let filledSlots = DispatchSemaphore(value: 0)

    public init(capacity: Int) {
        freeSlots = DispatchSemaphore(value: max(1, capacity))
    }

    /// Adds an item, waiting for room. Items pushed after ``close()`` are dropped.
    public func push(_ item: sending Element) {
        freeSlots.wait()
        state.withLock { state in
            if !state.closed { state.items.append(item) }
        }
        filledSlots.signal()
    }

    /// The next item, waiting for one; nil once the queue is closed and empty.
    public func pop() -> Element? {
        filledSlots.wait()
        let item: Element? = state.withLock { state in
            guard state.head < state.items.count else { return nil }
            let item = state.items[state.head]
            state.head += 1
            if state.head > 64 && state.head * 2 > state.items.count {
                state.items.removeFirst(state.head)
                state.head = 0
            }
            return item
        }
        if item != nil {
            freeSlots.signal()
        } else {
            // Closed and empty: pass the wake-up on so every other consumer sees it too.
            filledSlots.signal()
        }
        return item
    }

    /// No more items will come; consumers drain what is left, then get nil.
    public func close() {
        state.withLock { $0.closed = true }
        filledSlots.signal()
    }
}
