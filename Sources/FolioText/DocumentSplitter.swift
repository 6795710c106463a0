/// Cuts a document that arrives in chunks into pieces that can be tokenized on their
/// own, at ``SafeCut``s, so that the tokens of the pieces are those of the whole document.
///
/// A document that arrives whole is passed through untouched. Text with no safe cut for
/// ``maxCarryBytes`` (no ASCII space before an ASCII letter or digit: long CJK text, say)
/// is cut at the last code point boundary instead and counted in ``forcedCuts``: only
/// there can a token differ from whole-text tokenization.
public struct DocumentSplitter: Sendable {
    public var maxCarryBytes: Int
    public private(set) var forcedCuts = 0
    private var carry: [UInt8] = []

    public init(maxCarryBytes: Int = 8 << 20) {
        self.maxCarryBytes = maxCarryBytes
    }

    /// Feeds one chunk; `emit` gets each finished piece (valid only during the call).
    public mutating func add(
        _ bytes: [UInt8], isDocumentEnd: Bool, emit: (UnsafeRawBufferPointer) -> Void
    ) {
        if carry.isEmpty && isDocumentEnd {
            bytes.withUnsafeBytes(emit)
            return
        }
        carry.append(contentsOf: bytes)
        if isDocumentEnd {
            carry.withUnsafeBytes(emit)
            carry.removeAll(keepingCapacity: false)
            return
        }
        let cut: Int? = carry.withUnsafeBytes { raw in
            if let safe = SafeCut.last(in: raw, within: 0..<raw.count) { return safe }
            guard raw.count > maxCarryBytes else { return nil }
            var boundary = raw.count - 1
            while boundary > 0 && raw[boundary] & 0xC0 == 0x80 { boundary -= 1 }
            return boundary > 0 ? boundary : nil
        }
        guard let cut else { return }
        if !carry.withUnsafeBytes({ SafeCut.isSafe($0, at: cut) }) { forcedCuts += 1 }
        carry.withUnsafeBytes { emit(UnsafeRawBufferPointer(rebasing: $0[0..<cut])) }
        carry.removeFirst(cut)
    }
}
