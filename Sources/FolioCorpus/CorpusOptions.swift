/// How to read a corpus; the defaults follow Keras `text_dataset_from_directory`.
public struct CorpusOptions: Sendable, Hashable, Codable {
    /// `train`, `test`, ... : a subfolder of a directory corpus, or the value of
    /// ``splitKey`` in JSONL. `nil`: `train` when the corpus has such a split, else all.
    public var split: String?
    /// JSONL keys.
    public var textKey = "text"
    public var labelKey = "label"
    public var splitKey = "split"
    /// A document's name in a JSONL line, read only when set (prediction output carries
    /// it), so that other jobs accept any value under that key.
    public var idKey: String?
    /// The key whose value names a JSONL document's group (``TextChunk/group``), read only
    /// when set; every line must then have it.
    public var groupKey: String?
    /// Whether a folder of text files without label folders, or JSONL lines without the
    /// label key, are a corpus (every such document's label then empty). Jobs that need
    /// labels leave it off and get a clear error.
    public var allowsUnlabeled = false
    /// With no ``split`` asked for, read a JSONL file's lines whatever their split key
    /// says (prediction labels every document) instead of the `train` split's alone.
    public var readsEverySplit = false
    /// Documents are delivered in chunks of at most this many bytes (at least 64).
    public var chunkBytes = 1 << 20
    /// A JSONL line longer than this is an error (a JSONL document is parsed whole).
    public var maxLineBytes = 256 << 20
    /// The share of the documents this process reads when several read one corpus (the
    /// ranks of `mpirun`); not part of the options' identity, as the ranks' parts together
    /// are the whole corpus.
    public var part = CorpusPart.whole

    enum CodingKeys: String, CodingKey {
        case split, textKey, labelKey, splitKey, idKey, groupKey, allowsUnlabeled, readsEverySplit, chunkBytes, maxLineBytes
    }

    public init(split: String? = nil) { self.split = split }

    /// These options with ``part`` set to a rank's share of `count` ranks.
    public func part(_ index: Int, of count: Int) -> CorpusOptions {
        var options = self
        options.part = CorpusPart(index: index, count: count)
        return options
    }
}

/// One of `count` disjoint parts of a corpus: the files of a folder whose ordinal (in their
/// sorted order across labels) is `index` modulo `count`; a byte range of a plain JSONL file
/// cut at line ends (``LineAlignedRange``: part i holds the lines starting in its i-th n-th
/// of the bytes), read alone, its line numbers still the file's; and for a `.jsonl.zst`
/// stream, which cannot be entered at a byte offset, the lines whose ordinal is `index`
/// modulo `count` (every part decompresses the whole stream, parsing only its own lines).
public struct CorpusPart: Sendable, Hashable {
    public var index: Int
    public var count: Int

    public static let whole = CorpusPart(index: 0, count: 1)

    public init(index: Int, count: Int) {
        (self.index, self.count) = (index, count)
    }

    public func contains(ordinal: Int) -> Bool { count == 1 || ordinal % count == index }
}

/// Whether `path` names a JSONL corpus (`.jsonl` or `.jsonl.zst`) rather than a folder or a text file.
public func isJSONLPath(_ path: String) -> Bool { path.hasSuffix(".jsonl") || path.hasSuffix(".jsonl.zst") }

/// Opens a corpus by what `path` is: a folder in the label-per-folder layout, or a
/// `.jsonl` / `.jsonl.zst` file.
public func openCorpus(path: String, options: CorpusOptions = CorpusOptions()) throws(FolioError) -> any TextCorpus {
    switch FileKind(path: path) {
    case .missing:
        throw FolioError("no such file or folder", file: path)
    case .directory:
        return try DirectoryCorpus(root: path, options: options)
    case .file:
        if isJSONLPath(path) {
            return try JSONLCorpus(path: path, options: options)
        }
        throw FolioError("not a corpus: expected a folder of label folders or a .jsonl / .jsonl.zst file", file: path)
    case .other:
        throw FolioError("not a regular file or folder", file: path)
    }
}

import FolioCore

/// Whether the corpus at `path` has documents in `split`: a folder `path/split` for a
/// label-per-folder corpus; for JSONL, a line whose ``CorpusOptions/splitKey`` names it
/// (read until the first such line, so a file whose test lines come last is read whole;
/// a file whose lines carry no split key has no split).
public func corpusHasSplit(path: String, split: String, options: CorpusOptions = CorpusOptions()) -> Bool {
    var options = options
    options.split = split
    switch FileKind(path: path) {
    case .directory: return FileKind(path: path + "/" + split) == .directory
    case .file:
        guard let corpus = try? openCorpus(path: path, options: options) else { return false }
        return (try? corpus.nextChunk()) != nil
    default: return false
    }
}
