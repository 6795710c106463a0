import FolioCore

/// Sums the gradients of a distributed run's ranks once per optimizer step, in place, so
/// that every rank applies the same update (Horovod's and PyTorch DDP's allreduce).
///
/// The dense ranges of the arena go through one allreduce each. A row-sparse table (an
/// embedding with lazy updates) goes sparsely: the ranks exchange the rows they touched,
/// then only the union's rows are packed and summed, unless the union is more than half
/// the table, when the whole table is cheaper. Every rank then marks the union, in
/// ascending order, as touched, so the optimizer updates the same rows in the same order
/// on every rank.
///
/// With ``splitsRowUpdates`` (an optimizer that updates each row from its gradient alone,
/// ``Optimizer/updatesEachRowAlone``), the union's update is split instead (as ZeRO splits
/// optimizer work): the sums are reduce-scattered, each rank updates its own consecutive
/// part of the union, and ``shareUpdatedRows(_:)`` gathers the new rows to every rank after
/// the step. The same bytes cross as with an allreduce, but each of N ranks updates 1/N
/// of the rows: for a bag model the update costs as much as the backward pass.
public final class GradientReduction {
    public let communicator: any Communicator
    /// Whether row-sparse tables' updates are split between the ranks (see above).
    public var splitsRowUpdates = false
    /// Floats summed and row ids exchanged by the last reduction (what crossed the wire,
    /// per rank, before the transport's own algorithm multiplies it).
    public private(set) var lastFloats = 0
    public private(set) var lastRowIDs = 0
    /// Seconds spent reducing (and sharing split updates), all steps together.
    public private(set) var seconds = 0.0
    public private(set) var reductions = 0
    /// Room for the union's rows, grown as needed, never shrunk; ``packed`` is the last
    /// pack's prefix of it, what a collective sends.
    private var storage = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private var packed = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    /// Tables whose update this step is split: where they are, the union's rows, and which
    /// of them each rank updates (`bounds[r]..<bounds[r + 1]`), for ``shareUpdatedRows(_:)``.
    private var split: [(region: RowSparseRegion, rows: [Int], bounds: [Int])] = []
    /// The union of touched rows (room for the largest table), read back in order.
    private var marks = RowMarks()

    public init(communicator: any Communicator) { self.communicator = communicator }

    deinit { storage.deallocate() }

    public func reduce(_ arena: ParameterArena) throws(FolioError) {
        let clock = ContinuousClock()
        let started = clock.now
        defer { seconds += (clock.now - started).seconds }
        lastFloats = 0
        lastRowIDs = 0
        split.removeAll()
        var dense: [Range<Int>] = []
        arena.forEachDenseRange { dense.append($0) }
        for range in dense {
            try communicator.allReduceSum(UnsafeMutableBufferPointer(rebasing: arena.gradients[range]))
            lastFloats += range.count
        }
        for region in arena.rowSparseRegions where !region.isFrozen {
            let rows = try unionOfTouchedRows(region)
            let width = region.rowWidth
            if rows.count * 2 > region.rows {
                try communicator.allReduceSum(UnsafeMutableBufferPointer(rebasing: arena.gradients[region.offset..<region.offset + region.rows * width]))
                lastFloats += region.rows * width
                arena.replaceTouched(rows: rows, regionAt: region.offset)
                continue
            }
            pack(rows, of: region, from: arena.gradients)
            lastFloats += packed.count
            guard splitsRowUpdates else {
                try communicator.allReduceSum(packed)
                unpack(rows, of: region, into: arena.gradients)
                arena.replaceTouched(rows: rows, regionAt: region.offset)
                continue
            }
            // Rank r updates the union's rows r*U/N ..< (r+1)*U/N; the others' rows keep no
            // gradient here (their sums live on their owners).
            let bounds = (0...communicator.size).map { $0 * rows.count / communicator.size }
            let own = bounds[communicator.rank]..<bounds[communicator.rank + 1]
            try communicator.reduceScatterSum(packed, counts: Self.floatCounts(bounds, width: width))
            for (index, row) in rows.enumerated() where !own.contains(index) {
                UnsafeMutableBufferPointer(rebasing: arena.gradients[region.offset + row * width..<region.offset + (row + 1) * width]).update(repeating: 0)
            }
            unpack(rows, of: region, into: arena.gradients, only: own)
            arena.replaceTouched(rows: Array(rows[own]), regionAt: region.offset)
            split.append((region, rows, bounds))
        }
        reductions += 1
    }

    /// After the optimizer's step, when updates were split: every rank's updated rows to
    /// every rank, so that the weights are the same everywhere again.
    public func shareUpdatedRows(_ arena: ParameterArena) throws(FolioError) {
        guard !split.isEmpty else { return }
        let clock = ContinuousClock()
        let started = clock.now
        defer { seconds += (clock.now - started).seconds }
        let rank = communicator.rank
        for (region, rows, bounds) in split {
            // Only this rank's rows go in (the others' parts are received over) and only the
            // others' come out: packing rows costs as much as sending them here.
            pack(rows, of: region, from: arena.values, only: bounds[rank]..<bounds[rank + 1])
            try communicator.allGather(packed, counts: Self.floatCounts(bounds, width: region.rowWidth))
            for part in 0..<communicator.size where part != rank {
                unpack(rows, of: region, into: arena.values, only: bounds[part]..<bounds[part + 1])
            }
        }
        split.removeAll()
    }

    /// `rows` of `region` from `source` (values or gradients) into ``packed``, in order
    /// (only those at the positions `only`, the rest of ``packed`` left as it is).
    private func pack(_ rows: [Int], of region: RowSparseRegion, from source: UnsafeMutableBufferPointer<Float>, only: Range<Int>? = nil) {
        let width = region.rowWidth
        let count = rows.count * width
        if count > storage.count {
            storage.deallocate()
            storage = .allocate(capacity: count)
        }
        packed = UnsafeMutableBufferPointer(rebasing: storage[0..<count])
        for index in only ?? rows.indices {
            let row = rows[index]
            _ = UnsafeMutableBufferPointer(rebasing: packed[index * width..<(index + 1) * width])
                .update(fromContentsOf: UnsafeMutableBufferPointer(rebasing: source[region.offset + row * width..<region.offset + (row + 1) * width]))
        }
    }

    /// ``packed``'s rows back into `rows` of `region` in `target` (only those at the
    /// positions `only`): the inverse of ``pack(_:of:from:only:)``.
    private func unpack(_ rows: [Int], of region: RowSparseRegion, into target: UnsafeMutableBufferPointer<Float>, only: Range<Int>? = nil) {
        let width = region.rowWidth
        for index in only ?? rows.indices {
            let row = rows[index]
            _ = UnsafeMutableBufferPointer(rebasing: target[region.offset + row * width..<region.offset + (row + 1) * width])
                .update(fromContentsOf: UnsafeMutableBufferPointer(rebasing: packed[index * width..<(index + 1) * width]))
        }
    }

    /// Each rank's part of a split union, in floats: rows `bounds[r]..<bounds[r + 1]` of `width`.
    private static func floatCounts(_ bounds: [Int], width: Int) -> [Int] {
        zip(bounds, bounds.dropFirst()).map { ($1 - $0) * width }
    }

    /// Every rank's touched rows of `region`, ascending, once each.
    private func unionOfTouchedRows(_ region: RowSparseRegion) throws(FolioError) -> [Int] {
        let own = region.touchedRows.map { UInt32(truncatingIfNeeded: $0).littleEndian }
        let parts = try communicator.allGather(own.withUnsafeBytes { [UInt8]($0) })
        marks.reserve(rows: region.rows)
        var outside: Int?
        for part in parts {
            lastRowIDs += part.count / 4
            part.withUnsafeBytes { raw in
                for index in 0..<raw.count / 4 {
                    let row = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
                    guard row < region.rows else {
                        outside = row
                        continue
                    }
                    marks.insert(row)
                }
            }
        }
        if let outside {
            marks = RowMarks()
            throw FolioError("rank \(communicator.rank): a rank sent row \(outside) of a table of \(region.rows)")
        }
        return marks.removeAll()
    }

    /// A hash of the weights, equal on every rank of a healthy run: FNV-1a's step over
    /// 8-byte words in four independent lanes, folded at the end. A byte at a time, one
    /// chain of multiplies, it took 5 % of a 2-rank bag model's run (a 100 MB table every
    /// 100 steps); words in lanes are an order of magnitude faster and catch the same drift.
    /// `excluding` leaves out a range of the arena that the ranks do not hold alike (a table
    /// whose rows are dealt between them, ``RowShard``).
    public static func weightsHash(_ arena: ParameterArena, excluding skipped: Range<Int>? = nil) -> UInt64 {
        guard let skipped else { return weightsHash(UnsafeRawBufferPointer(arena.values)) }
        var hash = FNV1a64()
        for part in [0..<skipped.lowerBound, skipped.upperBound..<arena.count] {
            withUnsafeBytes(of: weightsHash(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: arena.values[part])))) { hash.combine($0) }
        }
        return hash.value
    }

    private static func weightsHash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let prime: UInt64 = 0x0000_0100_0000_01B3
        var lanes: (UInt64, UInt64, UInt64, UInt64) = (0xCBF2_9CE4_8422_2325, 1, 2, 3)
        let words = bytes.count / 8
        var index = 0
        while index + 4 <= words {
            lanes.0 = (lanes.0 ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))) &* prime
            lanes.1 = (lanes.1 ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 8 + 8, as: UInt64.self))) &* prime
            lanes.2 = (lanes.2 ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 8 + 16, as: UInt64.self))) &* prime
            lanes.3 = (lanes.3 ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 8 + 24, as: UInt64.self))) &* prime
            index += 4
        }
        var hash = FNV1a64()
        withUnsafeBytes(of: lanes) { hash.combine($0) }
        hash.combine(bytes[(index * 8)...])
        return hash.value
    }
}
