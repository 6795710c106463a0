import FolioCore
import Glibc

/// A JSONL corpus: one object per line with a text and a label key (``CorpusOptions``),
/// plain or zstd-compressed (`.jsonl.zst`), read in a stream.
///
/// Lines are repaired to valid UTF-8 first (U+FFFD, counted). Blank lines are skipped.
/// When objects carry ``CorpusOptions/splitKey``, only the chosen split is read
/// (`train` by default); lines without the key are read unless a split was asked for,
/// which makes such a line an error. A line without the label key is an error unless
/// ``CorpusOptions/allowsUnlabeled`` (its label is then empty). A line is parsed whole, so it is limited to
/// ``CorpusOptions/maxLineBytes``; a longer one is an error naming the line.
public final class JSONLCorpus: TextCorpus {
    public let path: String
    public private(set) var statistics = CorpusStatistics()
    public var onWarning: (@Sendable (String) -> Void)?
    /// Labels seen so far, in order of first appearance.
    public private(set) var labelsSeen: [String] = []

    private let options: CorpusOptions
    private var lines: LineReader
    private var labelSet: Set<String> = []

    /// This part's bytes, when it reads a range of a plain file (see ``CorpusPart``).
    private let range: LineAlignedRange?

    public var consumedSourceBytes: Int { lines.source.consumedBytes }
    public func totalSourceBytes() -> Int? { range.map(\.bytes.count) ?? fileSize(path) }

    public init(path: String, options: CorpusOptions = CorpusOptions()) throws(FolioError) {
        self.path = path
        self.options = options
        if options.part.count > 1 && !path.hasSuffix(".zst") {
            let range = try LineAlignedRange(path: path, part: options.part)
            self.range = range
            lines = LineReader(source: try FileByteSource(path: path, range: range.bytes), maxLineBytes: options.maxLineBytes,
                               linesBefore: range.linesBefore)
        } else {
            range = nil
            lines = LineReader(source: try openByteSource(path: path), maxLineBytes: options.maxLineBytes)
        }
    }

    /// A part of a `.jsonl.zst` stream, which cannot be entered at a byte offset, takes the
    /// lines whose ordinal is its index modulo the count.
    private var dealsLines: Bool { options.part.count > 1 && range == nil }

    deinit { lines.deallocate() }

    public func nextChunk() throws(FolioError) -> TextChunk? {
        while let rawLine = try lines.next() {
            let lineNumber = lines.lineNumber
            if dealsLines {
                // Another part's line: skipped before parsing; its bytes are that part's.
                guard options.part.contains(ordinal: lineNumber - 1) else { continue }
                statistics.bytes += rawLine.count + 1
            } else {
                statistics.bytes = lines.bytesRead
            }
            if rawLine.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            // Valid lines (nearly all) are parsed where they lie; others are repaired first.
            var replacements = 0
            var repaired: [UInt8] = []
            let isValid = rawLine.withUnsafeBytes { UTF8Repair.isValid($0) }
            if !isValid {
                var repair = UTF8Repair()
                rawLine.withUnsafeBytes { repair.repair($0, isFinal: true, into: &repaired) }
                replacements = repair.replacements
            }
            let keys = [options.textKey, options.labelKey, options.splitKey, options.idKey, options.groupKey].compactMap { $0 }
            let parse = { (bytes: UnsafeRawBufferPointer) in
                Result { () throws(JSONLineParser.Failure) in
                    try JSONLineParser.fields(keys, in: bytes, replacements: &replacements)
                }
            }
            let parsed = isValid ? rawLine.withUnsafeBytes(parse) : repaired.withUnsafeBytes(parse)
            let fields: [[UInt8]?]
            switch parsed {
            case .success(let values): fields = values
            case .failure(.syntax(let offset, let expected)):
                throw FolioError(
                    "invalid JSON: expected \(expected)", file: path, place: "line \(lineNumber), byte \(offset + 1)")
            }
            guard let text = fields[0] else {
                throw FolioError("no \"\(options.textKey)\" key", file: path, place: "line \(lineNumber)")
            }
            if let split = fields[2], options.split != nil || !options.readsEverySplit {
                if !split.elementsEqual((options.split ?? "train").utf8) { continue }
            } else if let wanted = options.split {
                throw FolioError(
                    "split '\(wanted)' asked for, but the line has no \"\(options.splitKey)\" key",
                    file: path, place: "line \(lineNumber)")
            }
            guard fields[1] != nil || options.allowsUnlabeled else {
                throw FolioError(
                    "no \"\(options.labelKey)\" key: training needs labelled documents (folio vocab, shard and embed read unlabeled ones)",
                    file: path, place: "line \(lineNumber)")
            }
            // The optional keys' values follow the three fixed ones, in the order asked.
            let optional = fields.dropFirst(3).map { $0.map { String(decoding: $0, as: UTF8.self) } }
            let id = options.idKey == nil ? nil : optional.first ?? nil
            let group = options.groupKey == nil ? nil : optional.last ?? nil
            if let groupKey = options.groupKey, group == nil {
                throw FolioError("no \"\(groupKey)\" key (the corpus's group_key)", file: path, place: "line \(lineNumber)")
            }
            let label = fields[1].map { String(decoding: $0, as: UTF8.self) } ?? ""
            if labelSet.insert(label).inserted { labelsSeen.append(label) }
            statistics.invalidUTF8Replacements += replacements
            if text.isEmpty { statistics.emptyDocuments += 1 }
            let chunk = TextChunk(
                document: statistics.documents, label: label, source: "\(path):\(lineNumber)",
                bytes: text, isDocumentEnd: true, id: id, group: group)
            statistics.documents += 1
            return chunk
        }
        if !dealsLines { statistics.bytes = lines.bytesRead }
        return nil
    }
}
