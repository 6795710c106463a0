/// A batch's distinct token ids, numbered in order of first appearance: `slots[p]` is the
/// number of the id at position `p`, `firstPositions[n]` where id number `n` first appears.
/// What lets a layer compute a function of an id's embedding once per distinct id.
struct DistinctIDs {
    let slots: [UInt32]
    let firstPositions: [Int]
    var count: Int { firstPositions.count }
    static let mapEntriesPerID = 8

    /// Nil when more than `atMost` ids are distinct (not worth it), or when an id is so large
    /// that its map (4 bytes an id up to the largest) would outweigh the batch: beyond
    /// ``mapEntriesPerID`` entries an id of the batch (and 65,536).
    init?(_ ids: [UInt32], atMost: Int) {
        guard let largest = ids.max(), Int(largest) < max(1 << 16, Self.mapEntriesPerID * ids.count) else { return nil }
        var number = [Int32](repeating: -1, count: Int(largest) + 1)
        var firstPositions: [Int] = []
        var slots = [UInt32](repeating: 0, count: ids.count)
        for (position, id) in ids.enumerated() {
            var slot = number[Int(id)]
            if slot < 0 {
                guard firstPositions.count < atMost else { return nil }
                slot = Int32(firstPositions.count)
                number[Int(id)] = slot
                firstPositions.append(position)
            }
            slots[position] = UInt32(slot)
        }
        self.slots = slots
        self.firstPositions = firstPositions
    }
}
