/// Which tokens make the vocabulary. Ids: 0 `<pad>`, 1 `<oov>`, then tokens by count
/// descending, ties by UTF-8 bytes.
public struct VocabularyOptions: Sendable, Hashable, Codable {
    /// Size of the vocabulary including `<pad>` and `<oov>` (as Keras `max_tokens`);
    /// nil: no limit.
    public var maxTokens: Int?
    /// Tokens seen fewer times are left out (they become `<oov>`).
    public var minCount: Int

    public init(maxTokens: Int? = nil, minCount: Int = 1) {
        self.maxTokens = maxTokens
        self.minCount = minCount
    }
}
