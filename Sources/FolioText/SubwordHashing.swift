/// A word's character n-grams hashed into buckets, as fastText's subwords (`-minn`,
/// `-maxn`): the word is wrapped in `<` and `>`, and every run of `minLength` to
/// `maxLength` characters (Unicode scalars) is one n-gram. Words that share letters then
/// share ids, so a rare or unseen word still says something: the message catalogs'
/// languages, dotted module names, inflected forms.
///
/// The hash is 32-bit FNV-1a over the n-gram's UTF-8 bytes (fastText's choice of function;
/// its exact values are not reproduced), fixed on every platform. The bucket is the hash
/// modulo the model's bucket count, taken where the ids are made, so one list of hashes
/// serves any bucket count.
public struct SubwordHashing: Sendable, Hashable, Codable {
    public var minLength: Int
    public var maxLength: Int

    public init(minLength: Int = 3, maxLength: Int = 6) {
        self.minLength = minLength
        self.maxLength = maxLength
    }

    /// The longest n-gram a pipeline may ask for.
    public static let longest = 12

    /// Whether `1 <= minLength <= maxLength <= longest`: what a pipeline, a saved model and
    /// a tuner's draw must hold.
    public var hasValidLengths: Bool { 1 <= minLength && minLength <= maxLength && maxLength <= Self.longest }

    /// Calls `body` with the hash of each n-gram of `word` (its UTF-8 bytes, without the
    /// brackets), shortest first at each starting character.
    public func forEachHash(of word: some Collection<UInt8>, _ body: (UInt32) -> Void) {
        // The bracketed word's bytes, and where each of its characters starts.
        var bytes: [UInt8] = [0x3C]
        bytes.append(contentsOf: word)
        bytes.append(0x3E)
        var starts: [Int] = []
        for (offset, byte) in bytes.enumerated() where byte & 0xC0 != 0x80 { starts.append(offset) }
        starts.append(bytes.count)
        let characters = starts.count - 1
        for first in 0..<characters {
            var hash: UInt32 = 2_166_136_261
            var taken = starts[first]
            for length in 1...min(maxLength, characters - first) {
                let end = starts[first + length]
                while taken < end {
                    hash = (hash ^ UInt32(bytes[taken])) &* 16_777_619
                    taken += 1
                }
                // A lone bracket says only that a word starts or ends: fastText skips it too.
                if length >= minLength && !(length == 1 && (first == 0 || first == characters - 1)) { body(hash) }
            }
        }
    }

    /// ``forEachHash(of:_:)`` collected.
    public func hashes(of word: some Collection<UInt8>) -> [UInt32] {
        var hashes: [UInt32] = []
        forEachHash(of: word) { hashes.append($0) }
        return hashes
    }
}

/// Every vocabulary token's subword hashes, computed once (a model's input features look
/// them up per token): offsets into one flat array, as a CSR matrix. `<pad>` and `<oov>`
/// have none; an unknown token's come from its text (``ShardFormat``'s unknown text).
public struct SubwordTable: Sendable {
    public let hashing: SubwordHashing
    private let offsets: [Int32]
    private let hashes: [UInt32]

    public init(hashing: SubwordHashing, tokens: [String]) {
        self.hashing = hashing
        var offsets: [Int32] = [0]
        var hashes: [UInt32] = []
        for (id, token) in tokens.enumerated() {
            if id > Int(Vocabulary.oovID) { hashing.forEachHash(of: token.utf8) { hashes.append($0) } }
            offsets.append(Int32(hashes.count))
        }
        self.offsets = offsets
        self.hashes = hashes
    }

    public var tokenCount: Int { offsets.count - 1 }

    /// The hashes of token `id` (none for an id past the vocabulary).
    @inline(__always)
    public func hashes(of id: UInt32) -> ArraySlice<UInt32> {
        guard Int(id) < tokenCount else { return [] }
        return hashes[Int(offsets[Int(id)])..<Int(offsets[Int(id) + 1])]
    }
}
