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
    /// Bytes of its rows' features this rank sent (``features(_:_:notice:)``).
    private(set) var featureBytes = 0
    /// Bytes this rank sent: pooled sums, features, and synchronized rows (ids and values).
    var bytesSent: Double { Double(shard.floats * 4 + featureBytes + rowsSent * (1 + width) * 4) }

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
        shard = RowShard(communicator: communicator)
        let embedding = network.embedding
        (offset, rows, width) = (embedding.table.offset, embedding.inputDim, embedding.outputDim)
        marks = RowMarks(rows: rows)
        network.rowShard = shard
    }

    deinit { storage.deallocate() }

    /// After an optimizer step (before its touched rows are cleared): the rows it updated,
    /// all of them this rank's.
    func noteUpdated(_ arena: ParameterArena) {
        steps += 1
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
    /// each rank makes only its share of the rows and the ranks gather the rest: every rank
    /// needs every row's ids (to find its own), and making them was an eighth of a bag
    /// model's step that each rank would otherwise repeat. A row's features are its own, so
    /// the gathered batch is the one `features` makes whole (padded to its longest row).
    /// `notice` rides along, and every rank's comes back in rank order (``RankNotice``).
    func features(_ batch: LoaderBatch, _ features: InputFeatures, notice: RankNotice) throws(FolioError) -> (TokenBatch, [RankNotice]) {
        let (size, rank) = (communicator.size, communicator.rank)
        let share = { (part: Int) in part * batch.rows / size..<(part + 1) * batch.rows / size }
        let own = share(rank)
        let mine = features(TokenBatch(rows: own.count, length: batch.length, ids: Array(batch.ids[own.lowerBound * batch.length..<own.upperBound * batch.length]),
                                       lengths: Array(batch.lengths[own])), unknownText: batch.unknownText.isEmpty ? [] : Array(batch.unknownText[own]))
        // Rank r's bytes: its rows' lengths (Int32), then their valid ids (UInt32), then
        // their weights (Float) when the features weigh ids, then its notice.
        let valid = mine.lengths.reduce(0) { $0 + Int($1) }
        let weighs = mine.weights != nil
        let featureCount = { (rows: Int, ids: Int) in rows * 4 + ids * (weighs ? 8 : 4) }
        var bytes = [UInt8](repeating: 0, count: featureCount(own.count, valid) + RankNotice.byteCount)
        bytes.withUnsafeMutableBytes { out in
            notice.store(into: out, at: featureCount(own.count, valid))
            var at = own.count * 4
            for row in 0..<own.count {
                out.storeBytes(of: mine.lengths[row].littleEndian, toByteOffset: row * 4, as: Int32.self)
                for position in 0..<Int(mine.lengths[row]) {
                    out.storeBytes(of: mine.ids[row * mine.length + position].littleEndian, toByteOffset: at, as: UInt32.self)
                    if let weights = mine.weights {
                        out.storeBytes(of: weights[row * mine.length + position].bitPattern.littleEndian, toByteOffset: at + valid * 4, as: UInt32.self)
                    }
                    at += 4
                }
            }
        }
        featureBytes += bytes.count
        let parts = try communicator.allGather(bytes)
        var lengths: [Int32] = []
        lengths.reserveCapacity(batch.rows)
        var notices: [RankNotice] = []
        for (part, data) in parts.enumerated() {
            let rows = share(part).count
            guard data.count >= rows * 4 else { throw FolioError("rank \(part) sent \(data.count) bytes of features for \(rows) rows") }
            data.withUnsafeBytes { raw in
                for row in 0..<rows { lengths.append(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: row * 4, as: Int32.self))) }
            }
            let ids = lengths.suffix(rows).reduce(0) { $0 + Int($1) }
            guard lengths.suffix(rows).allSatisfy({ $0 >= 0 }), data.count == featureCount(rows, ids) + RankNotice.byteCount else {
                throw FolioError("rank \(part) sent \(data.count) bytes of features, not what its \(rows) rows' lengths call for")
            }
            notices.append(data.withUnsafeBytes { RankNotice(from: $0, at: featureCount(rows, ids)) })
        }
        let length = max(1, Int(lengths.max() ?? 0))
        var ids = [UInt32](repeating: 0, count: batch.rows * length)
        var weights = weighs ? [Float](repeating: 0, count: batch.rows * length) : nil
        var row = 0
        for (part, data) in parts.enumerated() {
            let rows = share(part).count
            let count = lengths[row..<row + rows].reduce(0) { $0 + Int($1) }
            data.withUnsafeBytes { raw in
                var at = rows * 4
                for _ in 0..<rows {
                    for position in 0..<Int(lengths[row]) {
                        ids[row * length + position] = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))
                        weights?[row * length + position] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at + count * 4, as: UInt32.self)))
                        at += 4
                    }
                    row += 1
                }
            }
        }
        return (TokenBatch(rows: batch.rows, length: length, ids: ids, lengths: lengths, weights: weights), notices)
    }
}

/// What a rank tells the others with each micro-batch's features when the ranks deal the
/// embedding's rows: its stop signal and whether its clock passed the time budget. The
/// checks at a step's end read the notices of the step's last micro-batch instead of
/// running collectives of their own: every collective is a point where the ranks wait for
/// each other, and a bag model's micro-batch is a few milliseconds of work.
struct RankNotice: Equatable, Sendable {
    /// The signal this rank was asked to stop by, 0 for none.
    var signal: Int32 = 0
    var outOfTime = false

    static let byteCount = 8

    init(signal: Int32 = 0, outOfTime: Bool = false) {
        (self.signal, self.outOfTime) = (signal, outOfTime)
    }

    init(from raw: UnsafeRawBufferPointer, at offset: Int) {
        signal = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int32.self))
        outOfTime = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) != 0
    }

    func store(into raw: UnsafeMutableRawBufferPointer, at offset: Int) {
        raw.storeBytes(of: signal.littleEndian, toByteOffset: offset, as: Int32.self)
        raw.storeBytes(of: UInt32(outOfTime ? 1 : 0).littleEndian, toByteOffset: offset + 4, as: UInt32.self)
    }
}
