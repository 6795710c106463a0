/// Token bytes -> vocabulary id, without making a `String` per token: the encoder's hot path.
///
/// An open-addressing table over one key arena, built once from a ``Vocabulary``, with the
/// hash and key comparison of ``TokenCounter``.
public final class TokenIndex: @unchecked Sendable {
    // Immutable after init, so sharing it between encoding threads is safe.
    private struct Slot {
        var offset: UInt32
        var length: UInt16
        var tag: UInt16
        var id: UInt32  // 0: empty (id 0 is <pad>, never looked up)
    }

    private let slots: UnsafeMutableBufferPointer<Slot>
    private let arena: UnsafeMutableRawBufferPointer

    public init(_ vocabulary: Vocabulary) {
        var capacity = 16
        while capacity < vocabulary.count * 2 { capacity *= 2 }
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: Slot(offset: 0, length: 0, tag: 0, id: 0))
        let totalBytes = vocabulary.tokens.reduce(0) { $0 + $1.utf8.count }
        arena = .allocate(byteCount: max(totalBytes, 1), alignment: 8)
        var used = 0
        for (id, token) in vocabulary.tokens.enumerated() where id >= 2 {
            let bytes = Array(token.utf8)
            guard bytes.count <= TokenCounter.maxTokenBytes else { continue }
            bytes.withUnsafeBytes { raw in
                if raw.count > 0 { (arena.baseAddress! + used).copyMemory(from: raw.baseAddress!, byteCount: raw.count) }
                let hash = TokenCounter.hash(raw)
                var index = Int(truncatingIfNeeded: hash) & (capacity - 1)
                while slots[index].id != 0 { index = (index + 1) & (capacity - 1) }
                slots[index] = Slot(
                    offset: UInt32(used), length: UInt16(raw.count), tag: UInt16(truncatingIfNeeded: hash >> 48),
                    id: UInt32(id))
            }
            used += bytes.count
        }
    }

    deinit {
        slots.deallocate()
        arena.deallocate()
    }

    /// The id of `token`, or ``Vocabulary/oovID``.
    @inline(__always)
    public func id(of token: UnsafeRawBufferPointer) -> UInt32 {
        let hash = TokenCounter.hash(token)
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: hash) & mask
        let tag = UInt16(truncatingIfNeeded: hash >> 48)
        while slots[index].id != 0 {
            let slot = slots[index]
            if slot.tag == tag && Int(slot.length) == token.count
                && TokenCounter.equal(arena.baseAddress! + Int(slot.offset), token.baseAddress!, token.count)
            {
                return slot.id
            }
            index = (index + 1) & mask
        }
        return Vocabulary.oovID
    }
}
