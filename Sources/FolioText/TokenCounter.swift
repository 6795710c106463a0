import FolioCore

/// Counts tokens in an open-addressing hash table whose keys live in one byte arena,
/// within a fixed byte budget.
///
/// When an insert would take the table and arena past ``budget``, the caller spills:
/// ``sortedEntries()`` gives the counts in byte order for a run file, then ``removeAll()``.
/// Memory use is ``bytesUsed``: the arena and slot capacities, nothing per token.
public final class TokenCounter {
    /// A slot is empty while `count == 0`. 16 bytes, so four share a cache line: the table
    /// of a large vocabulary does not fit in cache, and lookups are bound by its misses.
    struct Slot {
        var count: Int
        var offset: UInt32
        var length: UInt16
        var tag: UInt16
    }

    /// Longest token counted whole; longer ones are cut by the tokenizer's
    /// ``TokenizerOptions/maxTokenLength`` long before (100 scalars at most 400 bytes).
    public static let maxTokenBytes = Int(UInt16.max)

    public let budget: Int
    // Only the owning thread touches these; dynamic exclusivity checks cost ~5% here.
    @exclusivity(unchecked) private var slots: UnsafeMutableBufferPointer<Slot>
    @exclusivity(unchecked) private var arena: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) private var arenaUsed = 0
    @exclusivity(unchecked) public private(set) var distinctTokens = 0

    static let slotBytes = MemoryLayout<Slot>.stride
    static let minimumSlots = 1024

    /// - Parameter budget: bytes for the table and the arena together (64 KiB to 4 GiB:
    ///   arena offsets are 32-bit; use more counters for more memory).
    public init(budget: Int) {
        self.budget = min(max(budget, 64 << 10), Int(UInt32.max))
        slots = .allocate(capacity: Self.minimumSlots)
        slots.initialize(repeating: Slot(count: 0, offset: 0, length: 0, tag: 0))
        arena = .allocate(byteCount: 16 << 10, alignment: 8)
    }

    deinit {
        slots.deallocate()
        arena.deallocate()
    }

    /// Bytes held now. While growing, the old table or arena is held too; that peak is
    /// also kept within the budget.
    public var bytesUsed: Int { slots.count * Self.slotBytes + arena.count }

    /// Adds `count` to `token` (at most ``maxTokenBytes`` bytes). Returns false, changing
    /// nothing, when that would need more memory than the budget: spill, then add again.
    @inline(__always)
    public func add(_ token: UnsafeRawBufferPointer, count: Int = 1) -> Bool {
        let hash = TokenCounter.hash(token)
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: hash) & mask
        let tag = UInt16(truncatingIfNeeded: hash >> 48)
        let length = UInt16(truncatingIfNeeded: token.count)
        while slots[index].count != 0 {
            let slot = slots[index]
            if slot.tag == tag && slot.length == length
                && TokenCounter.equal(arena.baseAddress! + Int(slot.offset), token.baseAddress!, token.count)
            {
                slots[index].count += count
                return true
            }
            index = (index + 1) & mask
        }
        return insert(token, tag: tag, count: count, at: index)
    }

    /// Byte equality for short keys without a call: tokens average about 6 bytes.
    @inline(__always)
    static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        var index = 0
        while index + 8 <= count {
            if a.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                != b.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            {
                return false
            }
            index += 8
        }
        while index < count {
            if a.load(fromByteOffset: index, as: UInt8.self) != b.load(fromByteOffset: index, as: UInt8.self) {
                return false
            }
            index += 1
        }
        return true
    }

    /// The rare path, out of line: a new token, which may grow the table or the arena.
    @inline(never)
    private func insert(_ token: UnsafeRawBufferPointer, tag: UInt16, count: Int, at index: Int) -> Bool {
        guard token.count <= Self.maxTokenBytes else { return false }
        var index = index
        if (distinctTokens + 1) * 10 > slots.count * 7 {
            guard growSlots() else { return false }
            index = freeSlot(for: TokenCounter.hash(token))
        }
        if arenaUsed + token.count > arena.count {
            guard growArena(needed: arenaUsed + token.count) else { return false }
        }
        if token.count > 0 {
            (arena.baseAddress! + arenaUsed).copyMemory(from: token.baseAddress!, byteCount: token.count)
        }
        slots[index] = Slot(count: count, offset: UInt32(arenaUsed), length: UInt16(token.count), tag: tag)
        arenaUsed += token.count
        distinctTokens += 1
        return true
    }

    private func freeSlot(for hash: UInt64) -> Int {
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: hash) & mask
        while slots[index].count != 0 { index = (index + 1) & mask }
        return index
    }

    private func growSlots() -> Bool {
        let newCount = slots.count * 2
        // The old table lives on while entries move to the new one.
        guard (newCount + slots.count) * Self.slotBytes + arena.count <= budget else { return false }
        let old = slots
        slots = .allocate(capacity: newCount)
        slots.initialize(repeating: Slot(count: 0, offset: 0, length: 0, tag: 0))
        let mask = newCount - 1
        for slot in old where slot.count != 0 {
            let bytes = UnsafeRawBufferPointer(start: arena.baseAddress! + Int(slot.offset), count: Int(slot.length))
            var index = Int(truncatingIfNeeded: TokenCounter.hash(bytes)) & mask
            while slots[index].count != 0 { index = (index + 1) & mask }
            slots[index] = slot
        }
        old.deallocate()
        return true
    }

    private func growArena(needed: Int) -> Bool {
        var newCount = arena.count * 2
        while newCount < needed { newCount *= 2 }
        // The old arena lives on while its bytes are copied.
        let available = budget - slots.count * Self.slotBytes - arena.count
        if newCount > available {
            // Use what the budget still allows before giving up.
            newCount = available
            guard newCount >= needed else { return false }
        }
        let moved = UnsafeMutableRawBufferPointer.allocate(byteCount: newCount, alignment: 8)
        moved.copyMemory(from: UnsafeRawBufferPointer(rebasing: arena[0..<arenaUsed]))
        arena.deallocate()
        arena = moved
        return true
    }

    /// Calls `body` with every (token, count), tokens in ascending byte order, then empties
    /// the table.
    ///
    /// Sorting happens inside the table's own memory: occupied slots are moved to its
    /// front and sorted in place, so a spill needs no memory beyond the budget.
    public func drainSorted(_ body: (UnsafeRawBufferPointer, Int) throws(FolioError) -> Void) throws(FolioError) {
        var occupied = 0
        for index in slots.indices where slots[index].count != 0 {
            slots[occupied] = slots[index]
            occupied += 1
        }
        let base = UnsafeRawPointer(arena.baseAddress!)
        let sorted = UnsafeMutableBufferPointer(rebasing: slots[0..<occupied])
        InPlaceSort.sort(sorted) { a, b in
            compareBytes(base + Int(a.offset), Int(a.length), base + Int(b.offset), Int(b.length)) < 0
        }
        defer { removeAll() }
        for slot in sorted {
            try body(UnsafeRawBufferPointer(start: base + Int(slot.offset), count: Int(slot.length)), slot.count)
        }
    }

    /// Empties the table, keeping its memory.
    public func removeAll() {
        for index in slots.indices { slots[index].count = 0 }
        arenaUsed = 0
        distinctTokens = 0
    }

    /// 64-bit hash of a byte string, eight bytes at a time (a multiply-xorshift mix).
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(bytes.count)
        var index = 0
        let count = bytes.count
        while index + 8 <= count {
            h = (h ^ bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            index += 8
        }
        if index < count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while index < count {
                tail |= UInt64(bytes[index]) << shift
                shift += 8
                index += 1
            }
            h = (h ^ tail) &* 0x9E37_79B9_7F4A_7C15
        }
        h ^= h >> 32
        h = h &* 0xD6E8_FEB8_6659_FD93
        h ^= h >> 32
        return h
    }
}

/// memcmp order, shorter first on a common prefix: ascending UTF-8 byte order.
@inline(__always)
func compareBytes(_ a: UnsafeRawPointer, _ aCount: Int, _ b: UnsafeRawPointer, _ bCount: Int) -> Int {
    let common = min(aCount, bCount)
    if common > 0 {
        let order = memcmp(a, b, common)
        if order != 0 { return Int(order) }
    }
    return aCount - bCount
}

import Glibc
