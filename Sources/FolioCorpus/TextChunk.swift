/// A piece of one document's text: valid UTF-8 cut at a code point boundary.
///
/// Small documents arrive as one chunk; a large one as several, in order, the last
/// with ``isDocumentEnd`` set, so that no document ever has to sit whole in memory.
public struct TextChunk: Sendable {
    /// Running index of the document in the corpus, from 0.
    public var document: Int
    public var label: String
    /// Where the document came from: a file path, or `path:line` for JSONL.
    public var source: String
    public var bytes: [UInt8]
    public var isDocumentEnd: Bool
    /// The document's own name, when it has one (a JSONL line's ``CorpusOptions/idKey``).
    public var id: String?
    /// The group the document belongs to, for a validation part that holds out whole
    /// groups (as scikit-learn's `GroupShuffleSplit`): the folders between its label folder
    /// and the file (`<label>/<group>/<name>.txt`), or the value of a JSONL line's
    /// ``CorpusOptions/groupKey``. Nil: none (a file directly in its label folder).
    public var group: String?

    public init(document: Int, label: String, source: String, bytes: [UInt8], isDocumentEnd: Bool, id: String? = nil, group: String? = nil) {
        self.id = id
        self.group = group
        self.document = document
        self.label = label
        self.source = source
        self.bytes = bytes
        self.isDocumentEnd = isDocumentEnd
    }
}

/// What a reader saw, for the run report.
public struct CorpusStatistics: Sendable, Equatable, Codable {
    public var documents = 0
    /// Bytes of text read (after decompression, before repair).
    public var bytes = 0
    public var invalidUTF8Replacements = 0
    public var emptyDocuments = 0
    /// Files passed over: binary files, files of other types.
    public var skippedFiles = 0
    /// One line each, naming the file: binary files skipped, empty label folders, ...
    public var warnings: [String] = []

    public init() {}

    /// Warnings are kept up to this many; the rest are only counted.
    static let warningLimit = 1000
    public private(set) var warningsDropped = 0

    mutating func warn(_ line: String) {
        if warnings.count < Self.warningLimit { warnings.append(line) } else { warningsDropped += 1 }
    }

    /// Adds another part's figures (the ranks of a distributed job, in rank order).
    public mutating func add(_ other: CorpusStatistics) {
        documents += other.documents
        bytes += other.bytes
        invalidUTF8Replacements += other.invalidUTF8Replacements
        emptyDocuments += other.emptyDocuments
        skippedFiles += other.skippedFiles
        for line in other.warnings { warn(line) }
        warningsDropped += other.warningsDropped
    }
}

/// A corpus read front to back as a stream of ``TextChunk``s.
public protocol TextCorpus: AnyObject {
    /// The next chunk, or nil at the end of the corpus.
    func nextChunk() throws(FolioError) -> TextChunk?
    var statistics: CorpusStatistics { get }
    /// Every warning is also passed here as it happens (for progress output).
    var onWarning: (@Sendable (String) -> Void)? { get set }
    /// Bytes of the corpus files consumed so far, in the units of ``totalSourceBytes()``.
    var consumedSourceBytes: Int { get }
    /// The size of all corpus files on disk (a folder is walked once to add it up).
    func totalSourceBytes() -> Int?
}

import FolioCore
