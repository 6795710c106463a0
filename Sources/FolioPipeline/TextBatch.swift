/// Pieces of text, back to back, handed from the reading thread to a tokenizing thread.
/// About 1 MiB, so that a queue of them has a known size.
struct TextBatch: Sendable {
    var bytes: [UInt8] = []
    /// End offset of each piece in ``bytes``.
    var pieceEnds: [Int] = []
    /// For jobs that keep documents apart (sharding): per piece, its document's label id
    /// and whether it ends the document. Empty for jobs that only count.
    var pieceLabels: [UInt32] = []
    var pieceEndsDocument: [Bool] = []
    /// Position in the reading order, so that results can be put back in order.
    var sequence = 0

    static let targetBytes = 1 << 20

    mutating func append(_ piece: UnsafeRawBufferPointer) {
        if bytes.isEmpty { bytes.reserveCapacity(Self.targetBytes + Self.targetBytes / 4) }
        bytes.append(contentsOf: piece)
        pieceEnds.append(bytes.count)
    }

    var isFull: Bool { bytes.count >= Self.targetBytes }

    /// Empties the batch, keeping its storage for reuse.
    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        pieceEnds.removeAll(keepingCapacity: true)
        pieceLabels.removeAll(keepingCapacity: true)
        pieceEndsDocument.removeAll(keepingCapacity: true)
    }
}
