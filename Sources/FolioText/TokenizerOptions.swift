/// How text becomes tokens. Part of every vocabulary's and shard set's identity.
public struct TokenizerOptions: Sendable, Hashable, Codable {
    /// Unicode normalization applied before segmentation (ICU `unorm2`).
    public enum Normalization: String, Sendable, Hashable, Codable, CaseIterable {
        case nfkcCasefold = "nfkc_casefold"
        case nfkc
        case nfc
        case none
    }

    /// What becomes of number segments.
    public enum Numbers: String, Sendable, Hashable, Codable, CaseIterable {
        /// Numbers are tokens like words: `3.5`, `1,000`.
        case keep
        /// A number segment made only of ASCII digits and separators (`3.5`, `1,000`, after
        /// normalization) becomes ``TokenizerOptions/numberToken``; `mp3` stays a word.
        case map
    }

    public static let numberToken = "<num>"

    public var normalization: Normalization
    public var numbers: Numbers
    /// Longer tokens are cut to this many Unicode scalars (and counted); 0: no limit.
    public var maxTokenLength: Int

    public init(normalization: Normalization = .nfkcCasefold, numbers: Numbers = .keep, maxTokenLength: Int = 100) {
        self.normalization = normalization
        self.numbers = numbers
        self.maxTokenLength = maxTokenLength
    }
}
