import FolioCore
import Foundation

/// `manifest.json` of a shard set: what made the shards and what they hold. Written last,
/// atomically: a folder without one is not a (complete) shard set.
public struct ShardManifest: Codable, Sendable, Equatable {
    public static let fileName = "manifest.json"

    public var formatVersion: Int
    /// The manifest's own layout (the shard files carry theirs, ``ShardFormat/version``):
    /// unchanged by shard format 2, so a manifest, and the fingerprints made of it, reads
    /// as it did.
    public static let newestFormatVersion = 1
    /// ``FolioText/Vocabulary/fingerprint`` of the vocabulary the ids come from.
    public var vocabularyFingerprint: String
    public var vocabularySize: Int
    /// The tokenizer settings that produced the tokens (normalization, numbers, ...).
    public var tokenizer: [String: String]
    /// Label names; a record's label is an index into this list.
    public var labels: [String]
    public var records: Int
    public var tokens: Int
    public var shards: [ShardSummary]

    public init(
        vocabularyFingerprint: String, vocabularySize: Int, tokenizer: [String: String], labels: [String],
        shards: [ShardSummary]
    ) {
        formatVersion = Self.newestFormatVersion
        self.vocabularyFingerprint = vocabularyFingerprint
        self.vocabularySize = vocabularySize
        self.tokenizer = tokenizer
        self.labels = labels
        self.shards = shards
        records = shards.reduce(0) { $0 + $1.records }
        tokens = shards.reduce(0) { $0 + $1.tokens }
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version"
        case vocabularyFingerprint = "vocabulary_fingerprint"
        case vocabularySize = "vocabulary_size"
        case tokenizer, labels, records, tokens, shards
    }

    public func write(toFolder folder: String) throws(FolioError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(self) } catch { throw FolioError("cannot encode the manifest: \(error)") }
        let file = try AtomicFile(path: folder + "/" + Self.fileName)
        try file.write([UInt8](data))
        try file.commit()
    }

    public static func read(folder: String) throws(FolioError) -> ShardManifest {
        let path = folder + "/" + fileName
        guard fileSize(path) != nil else {
            throw FolioError("no \(fileName): not a complete shard set (was sharding interrupted?)", file: folder)
        }
        let bytes = try readWholeFile(path)
        let manifest: ShardManifest
        do {
            manifest = try JSONDecoder().decode(ShardManifest.self, from: Data(bytes))
        } catch {
            throw FolioError("malformed manifest: \(error)", file: path)
        }
        guard manifest.formatVersion <= Self.newestFormatVersion else {
            throw FolioError(
                "format version \(manifest.formatVersion) is newer than this Folio reads (\(Self.newestFormatVersion)); update Folio",
                file: path, place: "key format_version")
        }
        return manifest
    }
}
