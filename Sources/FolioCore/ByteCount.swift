/// A size as people write it: `"256MB"`, `"1.5GB"`, `"512KiB"`, `"1000000"` (bytes).
/// Decimal and binary suffixes are both powers of 1024, as `--memory` users expect.
/// Nil for anything else, negative or not finite.
public func parseByteSize(_ text: String) -> Int? {
    let upper = text.trimmed(" ").uppercased()
    let units: [(String, Double)] = [
        ("TIB", 0x1p40), ("GIB", 0x1p30), ("MIB", 0x1p20), ("KIB", 0x1p10),
        ("TB", 0x1p40), ("GB", 0x1p30), ("MB", 0x1p20), ("KB", 0x1p10),
        ("T", 0x1p40), ("G", 0x1p30), ("M", 0x1p20), ("K", 0x1p10), ("B", 1),
    ]
    var number = Substring(upper)
    var scale = 1.0
    for (suffix, value) in units where upper.hasSuffix(suffix) {
        number = upper.dropLast(suffix.count)
        scale = value
        break
    }
    guard let value = Double(number.trimmed(" ")), value >= 0, value.isFinite, value * scale < 0x1p62 else { return nil }
    return Int(value * scale)
}

extension StringProtocol {
    /// The text without `character` at either end.
    public func trimmed(_ character: Character) -> String {
        String(drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}
