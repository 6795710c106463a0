import ArgumentParser

/// A size on the command line: `64MB`, `1.5GB`, `512KiB`, `1000000` (bytes).
/// Decimal and binary suffixes are both taken as powers of 1024, as `--memory` users expect.
struct ByteSize: ExpressibleByArgument, Sendable {
    var bytes: Int

    init(bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: " ").uppercased()
        let units: [(String, Int)] = [
            ("TIB", 1 << 40), ("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10),
            ("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10),
            ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1),
        ]
        var number = Substring(text)
        var scale = 1
        for (suffix, value) in units where text.hasSuffix(suffix) {
            number = text.dropLast(suffix.count)
            scale = value
            break
        }
        guard let value = Double(number.trimmingCharacters(in: " ")), value >= 0, value.isFinite else { return nil }
        bytes = Int(value * Double(scale))
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

extension StringProtocol {
    func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
