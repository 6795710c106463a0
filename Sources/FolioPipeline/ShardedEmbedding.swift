import FolioCore
import FolioNN
import FolioShards

/// A distributed run's embedding table dealt between the ranks by rows (``RowShard``):
/// every rank runs every micro-batch, pooling and updating only its own rows, so its copies
/// of the other ranks' rows go stale until ``synchronize(_:)`` brings each rank's updated
/// rows to every rank. The trainer synchronizes before anything reads the whole table: an
/// epoch's end (validation, callbacks, the checkpoint), a checkpoint within an epoch, a stop.
///
/// It applies to a bag model (an embedding pooled straight into a summing pooling) with
/// lazy updates and an optimizer that updates each row from its gradient alone (plain SGD):
/// the layers after the pooling see the same summed input on every rank, so they compute,
/// and update, the same everywhere without any gradient reduction.
final class ShardedEmbedding {
    let shard: RowShard
    private let communicator: any Communicator
    private let network: Sequential
    private let offset: Int
    private let rows: Int
    private let width: Int
    /// The rows this rank updated since the last synchronization.
    private var marks: RowMarks
    /// Room for a synchronization's rows, grown as needed, never shrunk.
    private var storage = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    /// Seconds spent synchronizing, rows this rank sent, and optimizer steps taken.
    private(set) var seconds = 0.0
    private(set) var rowsSent = 0
    private(set) var steps = 0
    /// Bytes this rank sent: pooled sums (with the rows' divisor statistics and the
    /// notices), and synchronized rows (ids and values).
    var bytesSent: Double { Double(shard.floats * 4 + rowsSent * (1 + width) * 4) }

    /// The arena's range that the ranks do not hold alike between synchronizations.
    var table: Range<Int> { offset..<offset + rows * width }

    /// Whether `network`, trained by `optimizer` across `communicator`'s ranks, can deal its
    /// table's rows: see above.
    static func applies(to network: Sequential, optimizer: any Optimizer, communicator: any Communicator) -> Bool {
        communicator.isDistributed && network.poolsTableInTraining && optimizer.updatesEachRowAlone
            && network.arena.rowSparseRegions.contains { $0.offset == network.embedding.table.offset && !$0.isFrozen }
    }

    /// Deals `network`'s table: its training passes pool only this rank's rows from now on.
    init(_ network: Sequential, communicator: any Communicator) {
        self.communicator = communicator
        self.network = network
        shard = RowShard(communicator: communicator)
        let embedding = network.embedding
        (offset, rows, width) = (embedding.table.offset, embedding.inputDim, embedding.outputDim)
        marks = RowMarks(rows: rows)
        network.rowShard = shard
    }

    deinit { storage.deallocate() }

    /// After an optimizer step (before its touched rows are cleared): the rows it updated,
    /// all of them this rank's (touched, or updated by the pooling's backward at the step's end).
    func noteUpdated(_ arena: ParameterArena) {
        steps += 1
        network.markTableRowsAwaitingUpdate(in: &marks)
        guard let region = arena.rowSparseRegions.first(where: { $0.offset == offset }) else { return }
        for row in region.touchedRows { marks.insert(row) }
    }

    /// Every rank's rows updated since the last call, to every rank: afterwards the ranks
    /// hold the same table. Rank r's part of one float buffer holds its row ids (bit
    /// patterns, which an allgather copies untouched) then their values; the buffer is
    /// gathered in place, so each row is copied out of the table once and into it once.
    func synchronize(_ arena: ParameterArena) throws(FolioError) {
        let clock = ContinuousClock()
        let started = clock.now
        defer { seconds += (clock.now - started).seconds }
        let updated = marks.removeAll()
        rowsSent += updated.count
        var counts = [Double](repeating: 0, count: communicator.size)
        counts[communicator.rank] = Double(updated.count)
        try communicator.allReduceSum(&counts)
        let rowCounts = counts.map { Int($0) }
        let parts = rowCounts.map { $0 * (1 + width) }
        let total = parts.reduce(0, +)
        if total > storage.count {
            storage.deallocate()
            storage = .allocate(capacity: total)
        }
        let buffer = UnsafeMutableBufferPointer(rebasing: storage[0..<total])
        let table = arena.values.baseAddress! + offset
        var start = parts[..<communicator.rank].reduce(0, +)
        let values = start + updated.count
        for (index, row) in updated.enumerated() {
            buffer[start + index] = Float(bitPattern: UInt32(row))
            (buffer.baseAddress! + values + index * width).update(from: table + row * width, count: width)
        }
        try communicator.allGather(buffer, counts: parts)
        start = 0
        for (rank, count) in rowCounts.enumerated() {
            defer { start += parts[rank] }
            guard rank != communicator.rank else { continue }
            for index in 0..<count {
                let row = Int(buffer[start + index].bitPattern)
                guard row < rows, row % communicator.size == rank else {
                    throw FolioError("rank \(rank) sent embedding row \(row), which is not its own (a table of \(rows) rows dealt between \(communicator.size) ranks)")
                }
                (table + row * width).update(from: buffer.baseAddress! + start + count + index * width, count: width)
            }
        }
    }

    /// `batch`'s input features (hashed n-grams, TF-IDF bags) as `features` makes them, but
    /// with only this rank's rows' ids: its pooling reads nothing else. Every rank hashes
    /// every row's n-grams (it must, to find its own ids), keeping its own as it makes them,
    /// and sorts, counts and weighs only those; exchanging the ranks' shares of the features
    /// instead cost a collective a micro-batch, where the ranks waited for each other longer
    /// than the work it split.
    /// `notice` rides with the pooled sums (``RowShard/rider``); ``heard`` reads them back.
    func features(_ batch: LoaderBatch, _ features: InputFeatures, notice: RankNotice) -> TokenBatch {
        shard.rider = notice.floats
        return features(batch, keeping: shard.deal)
    }

    /// What any rank said with the last micro-batch's pooled sums (read at a step's end,
    /// before the next micro-batch's features replace the rider; nothing before the first).
    var heard: RankNotice { RankNotice(summed: shard.rider) }
}

/// What a rank tells the others with each micro-batch when the ranks deal the embedding's
/// rows: whether it was asked to stop and whether its clock passed the time budget. It
/// rides with the pooled sums, so the checks at a step's end (of the step's last
/// micro-batch's notices) need no collective of their own.
struct RankNotice: Equatable, Sendable {
    var signal = false
    var outOfTime = false

    init(signal: Bool = false, outOfTime: Bool = false) {
        (self.signal, self.outOfTime) = (signal, outOfTime)
    }

    /// The ranks' notices summed: true where any rank's was.
    init(summed floats: [Float]) {
        signal = floats.count == 2 && floats[0] > 0
        outOfTime = floats.count == 2 && floats[1] > 0
    }

    var floats: [Float] { [signal ? 1 : 0, outOfTime ? 1 : 0] }
}
