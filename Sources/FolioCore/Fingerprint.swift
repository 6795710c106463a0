/// FNV-1a (64-bit): a hash that, unlike `hashValue`, is the same in every run and on every
/// platform, for fingerprints written to disk (vocabularies, pipeline stages).
public struct FNV1a64: Sendable {
    @usableFromInline var state: UInt64 = 0xCBF2_9CE4_8422_2325
    public var value: UInt64 { state }

    public init() {}

    /// Inlinable, so that a caller hashing a large buffer (a model's weights) gets a
    /// specialized loop rather than a generic one per byte.
    @inlinable
    public mutating func combine(_ bytes: some Sequence<UInt8>) {
        for byte in bytes { state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    }

    /// The hash as `fnv1a64:` and 16 hex digits.
    public var fingerprint: String {
        let hex = String(value, radix: 16)
        return "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    @inlinable
    public static func hash(_ bytes: some Sequence<UInt8>) -> FNV1a64 {
        var hasher = FNV1a64()
        hasher.combine(bytes)
        return hasher
    }
}
