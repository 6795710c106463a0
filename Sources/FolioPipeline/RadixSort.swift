/// Sorting token ids ascending, as every bag of ids is sorted (``Bags``: a TF-IDF fit and every
/// weighted training batch sort each document's ids, thousands with n-grams and subwords).
/// The standard library's comparison sort took a sixth of a tuned bag model's run; a least
/// significant digit radix sort over the bytes that vary takes a few passes over the row.
enum RadixSort {
    /// Rows shorter than this are insertion-sorted: a radix pass costs 256 counters.
    static let insertionLimit = 48

    /// Sorts `values` ascending in place; `scratch` is resized as needed and reused.
    static func sort(_ values: inout [UInt32], scratch: inout [UInt32]) {
        let count = values.count
        guard count > 1 else { return }
        if count < insertionLimit {
            values.withUnsafeMutableBufferPointer(insertionSort)
            return
        }
        if scratch.count < count { scratch = [UInt32](repeating: 0, count: count) }
        var largest: UInt32 = 0
        for value in values { largest |= value }
        values.withUnsafeMutableBufferPointer { values in
            scratch.withUnsafeMutableBufferPointer { scratch in
                var (from, to) = (values.baseAddress!, scratch.baseAddress!)
                var shift: UInt32 = 0
                // On the stack: an array here was a heap allocation per row sorted.
                withUnsafeTemporaryAllocation(of: Int.self, capacity: 257) { counts in
                    // Only the bytes some id sets: ids of a 450k-row table need three passes.
                    while shift < 32 && largest >> shift != 0 {
                        for digit in counts.indices { counts[digit] = 0 }
                        for index in 0..<count { counts[Int((from[index] >> shift) & 0xFF) + 1] += 1 }
                        for digit in 1...256 { counts[digit] += counts[digit - 1] }
                        for index in 0..<count {
                            let digit = Int((from[index] >> shift) & 0xFF)
                            to[counts[digit]] = from[index]
                            counts[digit] += 1
                        }
                        swap(&from, &to)
                        shift += 8
                    }
                }
                if from != values.baseAddress! { values.baseAddress!.update(from: from, count: count) }
            }
        }
    }

    private static func insertionSort(_ values: inout UnsafeMutableBufferPointer<UInt32>) {
        for index in 1..<values.count {
            let value = values[index]
            var place = index
            while place > 0 && values[place - 1] > value {
                values[place] = values[place - 1]
                place -= 1
            }
            values[place] = value
        }
    }
}
