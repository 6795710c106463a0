import CFolioKernels
import FolioCore

/// All parameters of a model in one allocation, gradients in a second of the same layout
/// (llm.c's layout): optimizers and checkpoints walk two flat arrays, and layers hold
/// ``ParameterView``s into them.
public final class ParameterArena {
    public private(set) var values: UnsafeMutableBufferPointer<Float>
    public private(set) var gradients: UnsafeMutableBufferPointer<Float>
    public private(set) var views: [ParameterView] = []

    /// Whether gradients have room: false for a model that only predicts, which then holds
    /// its parameters once instead of twice (``Model/compile(optimizer:loss:metrics:)`` refuses it).
    public let hasGradients: Bool

    public init(layout: [(name: String, shape: [Int])], gradients hasGradients: Bool = true) {
        var offset = 0
        for (name, shape) in layout {
            let count = shape.reduce(1, *)
            views.append(ParameterView(name: name, shape: shape, offset: offset, count: count))
            offset += count
        }
        self.hasGradients = hasGradients
        values = .allocate(capacity: max(offset, 1))
        HugePages.advise(values)  // a bag model's table is read a row at a time at random
        values.initialize(repeating: 0)
        // Zeroed by the system, page by page at the first write: a table whose training keeps
        // no gradient (``Sequential/keepsNoTableGradient(_:lazyUpdates:optimizer:subwords:)``) never
        // writes its rows here, and they take no memory.
        gradients = ZeroedPages.allocate(hasGradients ? offset : 1)
        HugePages.advise(gradients)
    }

    deinit {
        values.deallocate()
        ZeroedPages.deallocate(gradients)
    }

    public var count: Int { views.last.map { $0.offset + $0.count } ?? 0 }

    public func view(_ name: String) -> ParameterView? { views.first { $0.name == name } }

    /// Embedding tables whose updates are lazy (row-sparse): see ``RowSparseRegion``.
    public private(set) var rowSparseRegions: [RowSparseRegion] = []

    /// Marks `view` (a table of rows `rowWidth` wide) for lazy updates: optimizers that
    /// support it (Adam, AdamW, SGD) update only the rows a step's gradients touched, as
    /// PyTorch's `SparseAdam` and TensorFlow's `LazyAdam` do, and only those rows' gradients
    /// are cleared. Untouched rows keep their weights and moments (for SGD without momentum
    /// that is exactly the dense update: their gradient is zero).
    public func makeRowSparse(_ view: ParameterView, rowWidth: Int) {
        guard !rowSparseRegions.contains(where: { $0.offset == view.offset }) else { return }
        rowSparseRegions.append(RowSparseRegion(offset: view.offset, rows: view.count / rowWidth, rowWidth: rowWidth))
    }

    /// Leaves `view` out of every update (Keras's `trainable = False`): a region whose rows
    /// are never touched, so optimizers, clipping and weight decay pass it by.
    public func freeze(_ view: ParameterView, rowWidth: Int) {
        makeRowSparse(view, rowWidth: rowWidth)
        if let index = rowSparseRegions.firstIndex(where: { $0.offset == view.offset }) { rowSparseRegions[index].isFrozen = true }
    }

    /// Records that `rows` of the region starting at `offset` received gradient (nothing
    /// when no region starts there, or when it is frozen).
    public func touch(rows: some Sequence<Int>, regionAt offset: Int) {
        guard let index = rowSparseRegions.firstIndex(where: { $0.offset == offset }), !rowSparseRegions[index].isFrozen else { return }
        for row in rows { rowSparseRegions[index].touch(row) }
    }

    /// Makes `rows` (in this order) the touched rows of the region starting at `offset`:
    /// after a distributed reduction every rank updates the union of the ranks' rows, in
    /// the same order.
    public func replaceTouched(rows: [Int], regionAt offset: Int) {
        guard let index = rowSparseRegions.firstIndex(where: { $0.offset == offset }), !rowSparseRegions[index].isFrozen else { return }
        rowSparseRegions[index].clearTouched()
        for row in rows { rowSparseRegions[index].touch(row) }
    }

    public func zeroGradients() {
        forEachUpdatedRange(readsValues: false) { range in UnsafeMutableBufferPointer(rebasing: gradients[range]).update(repeating: 0) }
        for index in rowSparseRegions.indices { rowSparseRegions[index].clearTouched() }
    }

    /// The index ranges a step updates: the whole arena, or with row-sparse regions the
    /// ranges outside them and the rows of theirs that this step touched.
    /// `readsValues`: whether `body` reads the weights too, so that their rows are asked for
    /// ahead as well as the gradients' (a pass over gradients alone asking for both filled
    /// the CPU's queue of pending loads with rows it did not read).
    public func forEachUpdatedRange(readsValues: Bool = true, _ body: (Range<Int>) -> Void) {
        guard !rowSparseRegions.isEmpty else { return body(0..<count) }
        forEachDenseRange(body)
        for region in rowSparseRegions {
            let (rows, width) = (region.touchedRows, region.rowWidth)
            for (index, row) in rows.enumerated() {
                if index + RowPrefetch.distance < rows.count {
                    let ahead = region.offset + rows[index + RowPrefetch.distance] * width
                    if readsValues { folio_prefetch_row(values.baseAddress! + ahead, Int32(width)) }
                    folio_prefetch_row(gradients.baseAddress! + ahead, Int32(width))
                }
                body(region.offset + row * width..<region.offset + (row + 1) * width)
            }
        }
    }

    /// The index ranges outside the row-sparse regions, in order.
    public func forEachDenseRange(_ body: (Range<Int>) -> Void) {
        var start = 0
        for region in rowSparseRegions.sorted(by: { $0.offset < $1.offset }) {
            if region.offset > start { body(start..<region.offset) }
            start = region.offset + region.rows * region.rowWidth
        }
        if start < count { body(start..<count) }
    }

    /// A parameter's values.
    public func values(of view: ParameterView) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: values[view.offset..<view.offset + view.count])
    }

    /// A parameter's gradients.
    public func gradients(of view: ParameterView) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: gradients[view.offset..<view.offset + view.count])
    }
}

/// A table in a ``ParameterArena`` updated lazily, and the rows touched since the last step
/// (in first-touch order, so that updates run in the same order every time).
public struct RowSparseRegion: Sendable {
    public let offset: Int
    public let rows: Int
    public let rowWidth: Int
    public private(set) var touchedRows: [Int] = []
    private var isTouched: [Bool]
    /// Never updated: its rows are never touched.
    public internal(set) var isFrozen = false

    init(offset: Int, rows: Int, rowWidth: Int) {
        self.offset = offset
        self.rows = rows
        self.rowWidth = rowWidth
        isTouched = [Bool](repeating: false, count: rows)
    }

    mutating func touch(_ row: Int) {
        guard !isTouched[row] else { return }
        isTouched[row] = true
        touchedRows.append(row)
    }

    mutating func clearTouched() {
        for row in touchedRows { isTouched[row] = false }
        touchedRows.removeAll(keepingCapacity: true)
    }
}

/// One parameter's place in a ``ParameterArena``. Names follow PyTorch's where a
/// counterpart exists (`lstm.weight_ih_l0`), so that checkpoints load there.
public struct ParameterView: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public let count: Int
}
