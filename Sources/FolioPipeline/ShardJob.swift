import Dispatch
import FolioCore
import FolioCorpus
import FolioShards
import FolioText

/// Settings of one sharding run.
public struct ShardJobOptions: Sendable, Hashable {
    public var corpus = CorpusOptions()
    public var tokenizer = TokenizerOptions()
    /// A shard is closed once its file reaches this many bytes.
    public var shardBytes = 64 << 20
    public var blockBytes = ShardFormat.defaultBlockBytes
    public var threads = 2
    /// Label names in id order (e.g. another shard set's, so that a test split uses the
    /// training split's ids); nil: the corpus's labels, sorted by UTF-8 bytes (none for an
    /// unlabeled corpus, when ``CorpusOptions/allowsUnlabeled`` lets one be read).
    public var labels: [String]?
    /// The labels of a JSONL corpus as the vocabulary job found them reading the same
    /// lines (``VocabularyReport/corpusLabels``), which spares this job its own pass over
    /// the file to collect them; the same ids as that pass gives.
    public var corpusLabels: [String]?
    public var measureTotal = false
    /// Keep the text of tokens outside the vocabulary in the records (``ShardFormat/unknownTextFlag``),
    /// for models that read words' letters (`[model] minn`, `maxn`).
    public var keepUnknownText = false
    /// Only one side of a validation holdout (a pipeline's training and validation sets).
    public var documents: Holdout?
    /// Crash tests: the points `shard-record` (each record written) and `shard-manifest`
    /// (every shard written, the manifest not yet).
    public var failpoints = Failpoints.fromEnvironment()

    public init() {}
}

/// What a sharding run did.
public struct ShardReport: Sendable, Codable, Equatable {
    public var records = 0
    public var tokens = 0
    public var shards = 0
    public var bytesOnDisk = 0
    public var textBytes = 0
    public var seconds = 0.0
    public var oovTokens = 0
    public var invalidUTF8Replacements = 0
    public var forcedCuts = 0
    public var labels: [String] = []
    public var warnings: [String] = []

    enum CodingKeys: String, CodingKey {
        case records, tokens, shards, seconds, labels, warnings
        case bytesOnDisk = "bytes_on_disk"
        case textBytes = "text_bytes"
        case oovTokens = "oov_tokens"
        case invalidUTF8Replacements = "invalid_utf8_replacements"
        case forcedCuts = "forced_cuts"
    }
}

/// Corpus -> tokens -> ids -> shard files + manifest.
///
/// The calling thread reads documents into numbered ``TextBatch``es; `threads` workers
/// tokenize and look up ids; one writer thread puts the encoded batches back in reading
/// order and appends records to the current shard. So the shards depend only on the
/// corpus, never on the thread count. The old manifest is removed first and the new one
/// written last: an interrupted run leaves no readable, half-made set.
///
/// With several ranks (`communicator`), each encodes its own part of the corpus
/// (``CorpusPart``) into its own shard files (`shard-rRRR-NNNNN.fol`); rank 0 writes the
/// one manifest listing every rank's shards in rank order. The records are the
/// one-process set's, grouped differently; the set depends only on the corpus and N.
public enum ShardJob {
    struct EncodedBatch: Sendable {
        var sequence: Int
        var ids: [UInt32] = []
        var pieceEnds: [Int] = []
        var pieceLabels: [UInt32] = []
        var pieceEndsDocument: [Bool] = []
        var oov = 0
        /// The text of the `<oov>` tokens in order, when the shards keep it.
        var unknownText: [String] = []
    }

    public static func run(
        corpusPath: String, vocabularyPath: String, outputFolder: String, options: ShardJobOptions,
        communicator: any Communicator = SingleProcess(),
        onWarning: (@Sendable (String) -> Void)? = nil, onProgress: ((JobProgress) -> Void)? = nil
    ) throws(FolioError) -> ShardReport {
        let clock = ContinuousClock()
        let started = clock.now
        let vocabulary = try Vocabulary(contentsOf: vocabularyPath)
        let index = TokenIndex(vocabulary)
        let threads = max(1, options.threads)
        var labels: [String]
        if let known = options.labels ?? options.corpusLabels { labels = known } else {
            labels = try corpusLabels(corpusPath, options.corpus, communicator: communicator)
        }
        // An unlabeled corpus (every document's label empty): the manifest names no labels
        // and every record carries label id 0.
        let unlabeled = options.corpus.allowsUnlabeled && labels == [""]
        // An empty label beside others is a document without one: an error at that document.
        if unlabeled { labels = [] } else if options.labels == nil { labels.removeAll { $0.isEmpty } }
        let labelIDs = unlabeled ? ["": 0] : Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, UInt32($0)) })
        try prepare(outputFolder)

        let corpus = try openCorpus(path: corpusPath, options: options.corpus.part(of: communicator))
        corpus.onWarning = onWarning
        let totalSourceBytes = options.measureTotal ? corpus.totalSourceBytes() : nil
        let encoded = BoundedQueue<EncodedBatch>(capacity: 2 * threads)
        let written = Locked<Result<([ShardSummary], Int), FolioError>>(.success(([], 0)))
        let writerDone = DispatchGroup()
        DispatchQueue.global().async(group: writerDone) {
            let result = Result { () throws(FolioError) in
                try writeShards(from: encoded, to: outputFolder, options: options, rank: communicator.isDistributed ? communicator.rank : nil)
            }
            written.withLock { $0 = result }
        }
        var splitter = DocumentSplitter()
        let reading = Result { () throws(FolioError) in
            try TextBatchWorkers.run(
                corpus: corpus, threads: threads, totalSourceBytes: totalSourceBytes, started: started, onProgress: onProgress,
                worker: { work throws(FolioError) in
                    try encode(from: work, into: encoded, index: index, tokenizer: options.tokenizer, keepUnknownText: options.keepUnknownText)
                },
                add: { chunk, batch throws(FolioError) in
                    if let documents = options.documents, !documents.keeps(chunk, corpusPath: corpusPath) { return false }
                    guard let label = labelIDs[chunk.label] else {
                        if chunk.label.isEmpty {
                            throw FolioError("the document has no label while others have one: label every document or none", file: chunk.source)
                        }
                        throw FolioError("label '\(chunk.label)' is not one of the shard set's labels", file: chunk.source)
                    }
                    splitter.add(chunk.bytes, isDocumentEnd: chunk.isDocumentEnd) { piece in
                        batch.append(piece)
                        batch.pieceLabels.append(label)
                        batch.pieceEndsDocument.append(false)
                    }
                    // The splitter may hold the tail of a document back; the piece that ends
                    // the document is the last one it emits for an end chunk.
                    if chunk.isDocumentEnd {
                        if batch.pieceEndsDocument.isEmpty {
                            batch.append(UnsafeRawBufferPointer(start: nil, count: 0))
                            batch.pieceLabels.append(label)
                            batch.pieceEndsDocument.append(true)
                        } else {
                            batch.pieceEndsDocument[batch.pieceEndsDocument.count - 1] = true
                        }
                    }
                    return batch.isFull && chunk.isDocumentEnd || batch.bytes.count >= 4 * TextBatch.targetBytes
                })
        }
        // The writer waits on the encoded batches until the queue closes, whatever happened.
        encoded.close()
        writerDone.wait()
        _ = try reading.get()
        let (ownShards, ownOOV) = try written.withLock { $0 }.get()
        let parts = try communicator.allGather(RankShards(shards: ownShards, oovTokens: ownOOV, forcedCuts: splitter.forcedCuts, statistics: corpus.statistics))
        let shards = parts.flatMap(\.shards)
        var statistics = CorpusStatistics()
        for part in parts { statistics.add(part.statistics) }
        if statistics.documents == 0 { throw FolioError("the corpus has no documents", file: corpusPath) }
        var failpoints = options.failpoints
        failpoints.pass("shard-manifest")
        let manifest = ShardManifest(
            vocabularyFingerprint: vocabulary.fingerprint, vocabularySize: vocabulary.count,
            tokenizer: [
                "normalization": options.tokenizer.normalization.rawValue, "numbers": options.tokenizer.numbers.rawValue,
                "max_token_length": String(options.tokenizer.maxTokenLength), "icu": Tokenizer.icuVersion,
            ],
            labels: labels, shards: shards)
        let manifestBytes = try communicator.onWriter { () throws(FolioError) in
            try manifest.write(toFolder: outputFolder)
            removeStaleShards(in: outputFolder, keeping: Set(shards.map(\.file)))
            return fileSize(outputFolder + "/" + ShardManifest.fileName) ?? 0
        }

        var report = ShardReport()
        report.records = manifest.records
        report.tokens = manifest.tokens
        report.shards = shards.count
        report.bytesOnDisk = shards.reduce(0) { $0 + $1.bytes } + manifestBytes
        report.textBytes = statistics.bytes
        report.oovTokens = parts.reduce(0) { $0 + $1.oovTokens }
        report.invalidUTF8Replacements = statistics.invalidUTF8Replacements
        report.forcedCuts = parts.reduce(0) { $0 + $1.forcedCuts }
        report.labels = labels
        report.warnings = statistics.warnings
        report.seconds = (clock.now - started).seconds
        onProgress?(progress(corpus, total: totalSourceBytes, since: started, clock: clock))
        return report
    }

    /// The corpus's labels in id order: label folders for a folder corpus; for JSONL, a
    /// first pass collects them (labels must be known before the first record is written),
    /// each rank over its part.
    static func corpusLabels(_ path: String, _ options: CorpusOptions, communicator: any Communicator) throws(FolioError) -> [String] {
        let corpus = try openCorpus(path: path, options: options.part(of: communicator))
        if let folder = corpus as? DirectoryCorpus { return folder.labels }
        while try corpus.nextChunk() != nil {}
        return sortedLabels(try communicator.allGather((corpus as? JSONLCorpus)?.labelsSeen ?? []).joined())
    }

    /// Every rank's labels, once each, sorted by UTF-8 bytes: the ids of a JSONL corpus's labels.
    static func sortedLabels(_ labels: some Sequence<String>) -> [String] {
        Set(labels).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// One rank's shards and figures.
    struct RankShards: Codable {
        var shards: [ShardSummary]
        var oovTokens: Int
        var forcedCuts: Int
        var statistics: CorpusStatistics
    }

    /// Creates the folder, and removes an old manifest first: until the new one is
    /// written, the folder is not a readable shard set. What a killed run left (temporary
    /// shard files) goes too.
    static func prepare(_ folder: String) throws(FolioError) {
        if mkdir(folder, 0o755) != 0 && errno != EEXIST {
            throw FolioError("cannot create the output folder: \(FolioError.systemMessage(errno))", file: folder)
        }
        StaleTemporaries.removeStaleTemporaries(in: folder)
        let manifest = folder + "/" + ShardManifest.fileName
        if unlink(manifest) != 0 && errno != ENOENT {
            throw FolioError("cannot remove the old manifest: \(FolioError.systemMessage(errno))", file: manifest)
        }
    }

    static func removeStaleShards(in folder: String, keeping: Set<String>) {
        for name in sortedDirectoryEntries(of: folder) ?? [] where name.hasPrefix("shard-") && name.hasSuffix(".fol") {
            if !keeping.contains(name) { unlink(folder + "/" + name) }
        }
    }

    /// One worker: text pieces to ids.
    private static func encode(
        from work: BoundedQueue<TextBatch>, into encoded: BoundedQueue<EncodedBatch>, index: TokenIndex,
        tokenizer options: TokenizerOptions, keepUnknownText: Bool
    ) throws(FolioError) {
        var failure: FolioError?
        let tokenizer: Tokenizer?
        do throws(FolioError) { tokenizer = try Tokenizer(options: options) } catch { failure = error; tokenizer = nil }
        while let batch = work.pop() {
            var result = EncodedBatch(sequence: batch.sequence)
            if failure == nil, let tokenizer {
                do throws(FolioError) {
                    result.ids.reserveCapacity(batch.bytes.count / 5)
                    try batch.bytes.withBytes { bytes throws(FolioError) in
                        var start = 0
                        for end in batch.pieceEnds {
                            try tokenizer.forEachToken(in: UnsafeRawBufferPointer(rebasing: bytes[start..<end])) { token in
                                let id = index.id(of: token)
                                if id == Vocabulary.oovID {
                                    result.oov += 1
                                    if keepUnknownText { result.unknownText.append(String(decoding: token, as: UTF8.self)) }
                                }
                                result.ids.append(id)
                            }
                            result.pieceEnds.append(result.ids.count)
                            start = end
                        }
                    }
                    result.pieceLabels = batch.pieceLabels
                    result.pieceEndsDocument = batch.pieceEndsDocument
                } catch {
                    failure = error
                }
            }
            // Always pass a result on, so that the writer's reordering never waits forever.
            encoded.push(result)
        }
        if let failure { throw failure }
    }

    /// The writer: encoded batches back in reading order, documents into records, records
    /// into shards of about `shardBytes`.
    private static func writeShards(
        from encoded: BoundedQueue<EncodedBatch>, to folder: String, options: ShardJobOptions, rank: Int?
    ) throws(FolioError) -> ([ShardSummary], Int) {
        var pending: [Int: EncodedBatch] = [:]
        var oov = 0
        var next = 0
        var document: [UInt32] = []
        var documentUnknownText: [String] = []
        var shards: [ShardSummary] = []
        var writer: ShardWriter?
        var failure: FolioError?
        var failpoints = options.failpoints
        while let batch = encoded.pop() {
            pending[batch.sequence] = batch
            while let ready = pending.removeValue(forKey: next) {
                next += 1
                oov += ready.oov
                guard failure == nil else { continue }
                do throws(FolioError) {
                    var start = 0
                    var unknownStart = 0
                    for (piece, end) in ready.pieceEnds.enumerated() {
                        document.append(contentsOf: ready.ids[start..<end])
                        if options.keepUnknownText {
                            let unknownEnd = unknownStart + ready.ids[start..<end].count { $0 == Vocabulary.oovID }
                            documentUnknownText.append(contentsOf: ready.unknownText[unknownStart..<unknownEnd])
                            unknownStart = unknownEnd
                        }
                        start = end
                        guard ready.pieceEndsDocument[piece] else { continue }
                        if writer == nil {
                            let name = rank.map { String(format: "shard-r%03d-%05d.fol", $0, shards.count) } ?? String(format: "shard-%05d.fol", shards.count)
                            writer = try ShardWriter(path: folder + "/" + name, blockBytes: options.blockBytes, keepsUnknownText: options.keepUnknownText)
                        }
                        try writer!.append(label: ready.pieceLabels[piece], ids: document, unknownText: documentUnknownText)
                        failpoints.pass("shard-record")
                        document.removeAll(keepingCapacity: document.count < 1 << 20)
                        documentUnknownText.removeAll(keepingCapacity: true)
                        if writer!.bytesWritten >= options.shardBytes {
                            shards.append(try writer!.finish())
                            writer = nil
                        }
                    }
                } catch {
                    failure = error
                }
            }
        }
        if let failure { throw failure }
        if let writer { shards.append(try writer.finish()) }
        return (shards, oov)
    }
}

import Foundation
import Glibc
