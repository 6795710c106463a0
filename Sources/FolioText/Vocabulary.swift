import FolioCore

/// A vocabulary read from `vocabulary.tsv`: line i (from 0) is id i, `token<TAB>count`.
public struct Vocabulary: Sendable {
    public let tokens: [String]
    public let counts: [Int]
    /// FNV-1a (64-bit) of the file's bytes: shard sets record it, so that shards are
    /// never read with ids from another vocabulary.
    public let fingerprint: String
    private let ids: [String: UInt32]

    public static let padID: UInt32 = 0
    public static let oovID: UInt32 = 1

    public init(contentsOf path: String) throws(FolioError) {
        let source = try readWholeFile(path)
        fingerprint = FNV1a64.hash(source).fingerprint
        var tokens: [String] = []
        var counts: [Int] = []
        var ids: [String: UInt32] = [:]
        var lineNumber = 0
        for line in source.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty && lineNumber > 1 { continue }
            guard let tab = line.firstIndex(of: 0x09),
                let count = Int(String(decoding: line[(tab + 1)...], as: UTF8.self)), count >= 0
            else {
                throw FolioError("expected token<TAB>count", file: path, place: "line \(lineNumber)")
            }
            let token = String(decoding: line[..<tab], as: UTF8.self)
            if ids.updateValue(UInt32(tokens.count), forKey: token) != nil {
                throw FolioError("token '\(token)' appears twice", file: path, place: "line \(lineNumber)")
            }
            tokens.append(token)
            counts.append(count)
        }
        guard tokens.count >= 2, tokens[0] == "<pad>", tokens[1] == "<oov>" else {
            throw FolioError("a vocabulary starts with <pad> and <oov>", file: path, place: "line 1")
        }
        self.tokens = tokens
        self.counts = counts
        self.ids = ids
    }

    public var count: Int { tokens.count }

    /// The token's id, or ``oovID``.
    public func id(for token: String) -> UInt32 { ids[token] ?? Vocabulary.oovID }
}
