import FolioCore

/// A shard set opened through its manifest.
public struct ShardSet: Sendable {
    public let folder: String
    public let manifest: ShardManifest

    public init(folder: String) throws(FolioError) {
        self.folder = folder.hasSuffix("/") && folder.count > 1 ? String(folder.dropLast()) : folder
        manifest = try ShardManifest.read(folder: self.folder)
    }

    public func path(ofShard index: Int) -> String { folder + "/" + manifest.shards[index].file }

    /// Opens shard `index`, checking its size against the manifest (a cheap test that
    /// catches truncation and swapped files before any block is read).
    public func reader(forShard index: Int) throws(FolioError) -> ShardReader {
        let summary = manifest.shards[index]
        let reader = try ShardReader(path: path(ofShard: index))
        guard reader.fileBytes == summary.bytes, reader.recordCount == summary.records else {
            throw FolioError(
                "shard does not match the manifest (\(reader.fileBytes) bytes, \(reader.recordCount) records; "
                    + "manifest: \(summary.bytes) bytes, \(summary.records) records)", file: path(ofShard: index))
        }
        return reader
    }

    /// Made from an unlabeled corpus: the manifest names no labels and every record's
    /// label id is 0 (word vectors and vocabularies need no labels; training does).
    public var isUnlabeled: Bool { manifest.labels.isEmpty }

    /// Refuses an unlabeled set, for the jobs that need labels (training, evaluation).
    public func requireLabels() throws(FolioError) {
        if isUnlabeled {
            throw FolioError(
                "the shard set has no labels (made from an unlabeled corpus): training and evaluation need labelled documents",
                file: folder + "/" + ShardManifest.fileName, place: "key labels")
        }
    }

    /// Refuses shards made with another vocabulary than the one at hand.
    public func checkVocabulary(fingerprint: String, path: String) throws(FolioError) {
        guard fingerprint == manifest.vocabularyFingerprint else {
            throw FolioError(
                "shards were made with another vocabulary (\(manifest.vocabularyFingerprint)) than \(path) (\(fingerprint))",
                file: folder + "/" + ShardManifest.fileName, place: "key vocabulary_fingerprint")
        }
    }

    /// Records per label id, reading every block (each block's checksum checked); only the
    /// records `including` accepts count (a loader's side of a ``Holdout``, say). A label id
    /// outside the manifest's labels is an error naming the shard and block. An unlabeled
    /// set has no counts.
    public func labelCounts(including: (RecordRef) -> Bool = { _ in true }) throws(FolioError) -> [Int] {
        if isUnlabeled { return [] }
        var counts = [Int](repeating: 0, count: manifest.labels.count)
        for shard in manifest.shards.indices {
            let reader = try reader(forShard: shard)
            for block in reader.blocks.indices {
                try reader.forEachRecord(inBlock: block) { record, label, _ throws(FolioError) in
                    guard Int(label) < counts.count else {
                        throw FolioError("label id \(label) outside the manifest's \(counts.count) labels", file: reader.path, place: "block \(block)")
                    }
                    if including(RecordRef(shard: UInt32(shard), record: UInt32(record))) { counts[Int(label)] += 1 }
                }
            }
        }
        return counts
    }

    /// Checks every shard's whole-file checksum, then every block and record; throws at the
    /// first failure.
    public func verify(onShard: (Int) -> Void = { _ in }) throws(FolioError) {
        for index in manifest.shards.indices {
            onShard(index)
            let reader = try reader(forShard: index)
            try reader.verify()
            guard try CRC32C.checksum(ofFile: path(ofShard: index)) == manifest.shards[index].checksum else {
                throw FolioError("file checksum does not match the manifest", file: path(ofShard: index))
            }
        }
    }
}
