import FolioCore
import Foundation

/// The ranks of a distributed run as threads of one process: what the library's tests
/// of distributed training use (the `mpirun` tests cover Open MPI itself). Sums run in
/// rank order, so a run is deterministic.
public final class ThreadCommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    private let exchange: Exchange

    /// Runs `body` on `size` threads, one per rank, and returns their results in rank order.
    public static func run<Result: Sendable>(ranks size: Int, _ body: @escaping @Sendable (ThreadCommunicator) throws -> Result) throws -> [Result] {
        let exchange = Exchange(size: size)
        let results = Locked<[Int: Swift.Result<Result, any Error>]>([:])
        let group = DispatchGroup()
        for rank in 0..<size {
            let communicator = ThreadCommunicator(rank: rank, size: size, exchange: exchange)
            // Entered before the thread starts: a rank that finished before the enter would
            // leave a group it never entered, which libdispatch traps on.
            group.enter()
            Thread.detachNewThread { [group] in
                let result = Swift.Result { try body(communicator) }
                // A rank that fails, or returns early, leaves the others waiting in a collective:
                // they fail too, as MPI aborts the job, instead of hanging the test.
                let failed: Bool
                if case .failure = result { failed = true } else { failed = false }
                exchange.leave(rank: rank, failed: failed)
                results.withLock { $0[rank] = result }
                group.leave()
            }
        }
        group.wait()
        return try (0..<size).map { rank in try results.withLock { $0[rank]! }.get() }
    }

    private init(rank: Int, size: Int, exchange: Exchange) {
        (self.rank, self.size, self.exchange) = (rank, size, exchange)
    }

    public func allGather(_ bytes: [UInt8]) throws(FolioError) -> [[UInt8]] { try exchange.swap(bytes, rank: rank) }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws(FolioError) { try sum(values) }
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws(FolioError) { try sum(values) }
    public func barrier() throws(FolioError) { _ = try exchange.swap([], rank: rank) }

    /// As MPI's: only this rank's part is summed; the rest becomes NaN, so that a caller
    /// reading another rank's part fails a test instead of passing by accident.
    public func reduceScatterSum(_ values: UnsafeMutableBufferPointer<Float>, counts: [Int]) throws(FolioError) {
        try sum(values)
        let start = counts[..<rank].reduce(0, +)
        for index in values.indices where !(start..<start + counts[rank]).contains(index) { values[index] = .nan }
    }

    private func sum<Element: BinaryFloatingPoint>(_ values: UnsafeMutableBufferPointer<Element>) throws(FolioError) {
        let parts = try exchange.swap(Array(UnsafeRawBufferPointer(values)), rank: rank)
        values.update(repeating: 0)
        for part in parts {
            part.withUnsafeBytes { raw in
                for (index, value) in raw.bindMemory(to: Element.self).enumerated() { values[index] += value }
            }
        }
    }

    /// Every rank leaves bytes and takes all ranks' once the last has left its own.
    private final class Exchange: @unchecked Sendable {
        let size: Int
        let condition = NSCondition()
        var slots: [[UInt8]]
        var arrived = 0
        var generation = 0
        var completed: [[UInt8]] = []
        /// The first rank whose body threw or returned: every collective from then on fails
        /// (a rank that returned while others still exchange is a mismatch of collectives).
        var gone: (rank: Int, failed: Bool)?

        init(size: Int) {
            self.size = size
            slots = Array(repeating: [], count: size)
        }

        private static func stop(_ rank: Int, after gone: (rank: Int, failed: Bool)) -> FolioError {
            FolioError(gone.failed ? "rank \(gone.rank) failed: rank \(rank) stops" : "rank \(gone.rank) returned while rank \(rank) was in a collective")
        }

        func leave(rank: Int, failed: Bool) {
            condition.lock()
            defer { condition.unlock() }
            if gone == nil { gone = (rank, failed) }
            condition.broadcast()
        }

        func swap(_ bytes: [UInt8], rank: Int) throws(FolioError) -> [[UInt8]] {
            condition.lock()
            defer { condition.unlock() }
            if let gone { throw Self.stop(rank, after: gone) }
            let mine = generation
            slots[rank] = bytes
            arrived += 1
            if arrived == size {
                completed = slots
                arrived = 0
                generation += 1
                condition.broadcast()
            } else {
                while generation == mine && gone == nil { condition.wait() }
                if generation == mine, let gone { throw Self.stop(rank, after: gone) }
            }
            // The next exchange cannot complete before this rank joins it, so `completed`
            // is still this one's.
            return completed
        }
    }
}
