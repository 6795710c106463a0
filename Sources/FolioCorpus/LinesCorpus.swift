import FolioCore

/// Each line of a stream is one unlabeled document (`folio predict` reading standard
/// input): named `NAME:LINE`, repaired to valid UTF-8, an empty line an empty document.
public final class LinesCorpus: TextCorpus {
    public let name: String
    public private(set) var statistics = CorpusStatistics()
    public var onWarning: (@Sendable (String) -> Void)?
    private var lines: LineReader

    /// `path` is read (`/dev/stdin` for standard input); `name` is what ids and errors show.
    public init(path: String, name: String, options: CorpusOptions = CorpusOptions()) throws(FolioError) {
        self.name = name
        lines = LineReader(source: try FileByteSource(path: path), maxLineBytes: options.maxLineBytes)
    }

    deinit { lines.deallocate() }

    public var consumedSourceBytes: Int { lines.source.consumedBytes }
    public func totalSourceBytes() -> Int? { nil }

    public func nextChunk() throws(FolioError) -> TextChunk? {
        guard var line = try lines.next() else { return nil }
        statistics.bytes = lines.bytesRead
        if line.last == 0x0D { line = line.dropLast() }
        var text: [UInt8] = []
        var repair = UTF8Repair()
        line.withUnsafeBytes { repair.repair($0, isFinal: true, into: &text) }
        statistics.invalidUTF8Replacements += repair.replacements
        if text.isEmpty { statistics.emptyDocuments += 1 }
        let chunk = TextChunk(document: statistics.documents, label: "", source: "\(name):\(lines.lineNumber)",
                              bytes: text, isDocumentEnd: true)
        statistics.documents += 1
        return chunk
    }
}
