/// Rows stored one after another (row r's `lengths[r]` values) laid out as a batch's rows
/// are: each `length` apart, the longest row's count (at least 1), zero-padded.
func paddedRows<Value: Numeric>(_ packed: [Value], lengths: [Int32]) -> (values: [Value], length: Int) {
    let length = max(1, Int(lengths.max() ?? 0))
    var values = [Value](repeating: 0, count: lengths.count * length)
    var start = 0
    for (row, count) in lengths.map(Int.init).enumerated() {
        values.replaceSubrange(row * length..<row * length + count, with: packed[start..<start + count])
        start += count
    }
    return (values, length)
}
