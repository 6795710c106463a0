import Dispatch

/// A batch cut into a fixed number of lanes of consecutive rows, run on up to that many
/// threads. The cut never depends on the thread count, and neither do the results: what
/// lanes add up is summed in lane order afterwards.
///
/// LSTM rows are independent through the whole recurrence, so a lane runs its entire
/// time loop alone: no barrier per step (PyTorch's OpenMP threads meet at one every step,
/// which is what collapses when another process takes a core).
enum Lanes {
    static let count = 2

    static func range(_ lane: Int, rows: Int) -> Range<Int> {
        (rows * lane / count)..<(rows * (lane + 1) / count)
    }

    static func run(rows: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
        run(rows: rows, threads: threads) { range, _ in body(range) }
    }

    static func run(rows: Int, threads: Int, _ body: @Sendable (Range<Int>, Int) -> Void) {
        if threads <= 1 {
            for lane in 0..<count { body(range(lane, rows: rows), lane) }
        } else {
            DispatchQueue.concurrentPerform(iterations: count) { lane in body(range(lane, rows: rows), lane) }
        }
    }
}

extension Lanes {
    /// Adds the lanes' partial sums (`count` buffers of `gradient.count` floats, lane after
    /// lane) into `gradient`, in lane order, so the total does not depend on the thread count.
    static func add(_ partials: [Float], into gradient: UnsafeMutableBufferPointer<Float>) {
        partials.withUnsafeBufferPointer { partials in
            for lane in 0..<count { Gemm.add(partials.baseAddress! + lane * gradient.count, into: gradient.baseAddress!, count: gradient.count) }
        }
    }
}

/// Pointers handed to lane threads. Each lane writes only its own rows (and its own
/// gradient buffer), which is what makes sharing them sound.
struct Shared<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
