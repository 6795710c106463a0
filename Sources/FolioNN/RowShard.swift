import FolioCore

/// An embedding table's rows dealt between the ranks of a distributed run (TorchRec's
/// row-wise sharding of an embedding bag): row `i` is rank `i mod N`'s. Every rank runs
/// every micro-batch, but its batches hold only its own rows' ids, so it pools and updates
/// only those; the partial pooled sums (`[rows, features]`, a few kilobytes) and each row's
/// partial divisor statistic are summed across ranks before the pooling divides, so the
/// layers after it compute the same values on every rank and their gradients need no
/// reduction. A bag model's step then moves kilobytes where the data
/// parallel step moved every touched row (megabytes), and each rank does half the table's
/// work instead of all of the update's share it cannot split.
///
/// Ids are dealt by remainder, not in blocks: a vocabulary's ids run from the most frequent
/// token down, so blocks would give rank 0 most of the reads.
public final class RowShard {
    public let communicator: any Communicator
    /// Which rows are this rank's.
    public let deal: RowDeal
    /// Seconds in the pooled sums' reductions, and the floats they summed, since made.
    public private(set) var seconds = 0.0
    public private(set) var floats = 0

    public init(communicator: any Communicator) {
        self.communicator = communicator
        deal = RowDeal(rank: communicator.rank, count: communicator.size)
    }

    /// Floats that ride with the next pooled sums and are summed with them, so that the
    /// trainer's own notices (a stop signal, a spent time budget) need no collective of
    /// their own; after the sum, every rank's total.
    public var rider: [Float] = []

    /// Sums every rank's partial pooled sums and rows' divisor statistics (and the rider)
    /// in place, in one allreduce: every collective is a point where the ranks wait for
    /// each other, and a bag model's micro-batch is a millisecond or two of work.
    func sumAcrossRanks(_ pooled: UnsafeMutableBufferPointer<Float>, statistics: inout [Float]) throws(FolioError) {
        let clock = ContinuousClock()
        let started = clock.now
        var buffer = Array(pooled) + statistics + rider
        try buffer.withUnsafeMutableBufferPointer { buffer throws(FolioError) in try communicator.allReduceSum(buffer) }
        _ = pooled.update(fromContentsOf: buffer[..<pooled.count])
        statistics = Array(buffer[pooled.count..<pooled.count + statistics.count])
        rider = Array(buffer[(pooled.count + statistics.count)...])
        seconds += (clock.now - started).seconds
        floats += buffer.count
    }
}
