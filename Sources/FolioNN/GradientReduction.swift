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
public final class GradientReduction {
    public let communicator: any Communicator
    /// Floats summed and row ids exchanged by the last reduction (what crossed the wire,
    /// per rank, before the transport's own algorithm multiplies it).
    public private(set) var lastFloats = 0
    public private(set) var lastRowIDs = 0
    /// Seconds spent reducing, all steps together.
    public private(set) var seconds = 0.0
    public private(set) var reductions = 0
    private var packed: [Float] = []

    public init(communicator: any Communicator) { self.communicator = communicator }

    public func reduce(_ arena: ParameterArena) throws(FolioError) {
        let clock = ContinuousClock()
        let started = clock.now
        lastFloats = 0
        lastRowIDs = 0
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
            } else {
                packed.removeAll(keepingCapacity: true)
                for row in rows { packed.append(contentsOf: arena.gradients[region.offset + row * width..<region.offset + (row + 1) * width]) }
                try packed.withUnsafeMutableBufferPointer { buffer throws(FolioError) in try communicator.allReduceSum(buffer) }
                for (index, row) in rows.enumerated() {
                    let start = region.offset + row * width
                    _ = UnsafeMutableBufferPointer(rebasing: arena.gradients[start..<start + width])
                        .update(fromContentsOf: packed[index * width..<(index + 1) * width])
                }
                lastFloats += packed.count
            }
            arena.replaceTouched(rows: rows, regionAt: region.offset)
        }
        reductions += 1
        seconds += (clock.now - started).seconds
    }

    /// Every rank's touched rows of `region`, sorted, once each.
    private func unionOfTouchedRows(_ region: RowSparseRegion) throws(FolioError) -> [Int] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(region.touchedRows.count * 4)
        for row in region.touchedRows { withUnsafeBytes(of: UInt32(row).littleEndian) { bytes.append(contentsOf: $0) } }
        // All ranks' rows in one array, sorted, repeats dropped: cheaper than a hash set for
        // the tens of thousands of rows a bag model's step touches.
        var union: [Int] = []
        for part in try communicator.allGather(bytes) {
            lastRowIDs += part.count / 4
            union.reserveCapacity(union.count + part.count / 4)
            for start in stride(from: 0, to: part.count - 3, by: 4) {
                let row = Int(UInt32(part[start]) | UInt32(part[start + 1]) << 8 | UInt32(part[start + 2]) << 16 | UInt32(part[start + 3]) << 24)
                guard row < region.rows else { throw FolioError("rank \(communicator.rank): a rank sent row \(row) of a table of \(region.rows)") }
                union.append(row)
            }
        }
        union.sort()
        var kept = 0
        for row in union where kept == 0 || union[kept - 1] != row {
            union[kept] = row
            kept += 1
        }
        union.removeSubrange(kept...)
        return union
    }

    /// A hash of the weights, equal on every rank of a healthy run: FNV-1a's step over
    /// 8-byte words in four independent lanes, folded at the end. A byte at a time, one
    /// chain of multiplies, it took 5 % of a 2-rank bag model's run (a 100 MB table every
    /// 100 steps); words in lanes are an order of magnitude faster and catch the same drift.
    public static func weightsHash(_ arena: ParameterArena) -> UInt64 {
        let prime: UInt64 = 0x0000_0100_0000_01B3
        var lanes: (UInt64, UInt64, UInt64, UInt64) = (0xCBF2_9CE4_8422_2325, 1, 2, 3)
        let bytes = UnsafeRawBufferPointer(arena.values)
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
