import FolioCore
import Glibc

/// A label-per-folder corpus, as Keras `text_dataset_from_directory`:
/// `root/<label>/**/<name>.txt` (or `.txt.zst`), optionally under `root/train`, `root/test`.
///
/// Labels are the folder names sorted by UTF-8 bytes; files are read in sorted order,
/// each streamed in chunks of ``CorpusOptions/chunkBytes``. A file with a NUL byte in
/// its first 8 KiB is not text: it is skipped with a warning naming it. Invalid UTF-8
/// is replaced with U+FFFD and counted.
public final class DirectoryCorpus: TextCorpus {
    public let root: String
    /// The folder the labels are read from (`root` or `root/<split>`).
    public let labelRoot: String
    public let labels: [String]
    public private(set) var statistics = CorpusStatistics()
    public var onWarning: (@Sendable (String) -> Void)?

    private let options: CorpusOptions
    private var finishedSourceBytes = 0
    private var labelIndex = -1
    private var pendingFiles: [String] = []   // the current label's files, reversed
    private var filesListed = 0                // files of the labels before, for the part
    private var current: OpenFile?
    private var readBuffer: UnsafeMutableRawBufferPointer
    private let explicitFiles: [String]?

    private struct OpenFile {
        var source: any ByteSource
        var label: String
        var group: String?
        var repair = UTF8Repair()
        var isFirstRead = true
        var bytesRead = 0
    }

    public init(root: String, options: CorpusOptions = CorpusOptions()) throws(FolioError) {
        guard FileKind(path: root) == .directory else {
            throw FolioError(FileKind(path: root) == .missing ? "no such folder" : "not a folder", file: root)
        }
        self.root = root
        self.options = options
        let base = root.hasSuffix("/") ? String(root.dropLast()) : root
        if let split = options.split {
            labelRoot = base + "/" + split
            guard FileKind(path: labelRoot) == .directory else {
                throw FolioError("split '\(split)' not found (expected a folder \(labelRoot))", file: root)
            }
        } else if FileKind(path: base + "/train") == .directory && FileKind(path: base + "/test") == .directory {
            labelRoot = base + "/train"
        } else {
            labelRoot = base
        }
        guard let entries = sortedDirectoryEntries(of: labelRoot) else {
            throw FolioError("cannot read folder: \(FolioError.systemMessage(errno))", file: labelRoot)
        }
        let folder = labelRoot
        let folders = entries.filter { !$0.hasPrefix(".") && FileKind(path: folder + "/" + $0) == .directory }
        if folders.isEmpty {
            guard options.allowsUnlabeled else {
                throw FolioError("no label folders (expected <label>/<file>.txt)", file: labelRoot)
            }
            labels = [""]  // a flat folder: its files, unlabeled
        } else {
            labels = folders
        }
        explicitFiles = nil
        readBuffer = .allocate(byteCount: options.chunkBytes, alignment: 16)
    }

    /// Each of `files` (`.txt`, `.txt.zst` or any other name) is one unlabeled document,
    /// read in the given order.
    public init(files: [String], options: CorpusOptions = CorpusOptions()) {
        root = files.first ?? ""
        labelRoot = root
        labels = [""]
        self.options = options
        explicitFiles = files
        labelIndex = 0
        pendingFiles = files.reversed()
        readBuffer = .allocate(byteCount: options.chunkBytes, alignment: 16)
    }

    deinit { readBuffer.deallocate() }

    public var consumedSourceBytes: Int { finishedSourceBytes + (current?.source.consumedBytes ?? 0) }

    public func totalSourceBytes() -> Int? {
        if let explicitFiles { return explicitFiles.reduce(0) { $0 + (fileSize($1) ?? 0) } }
        var total = 0
        for label in labels {
            guard let files = try? textFiles(in: folder(of: label), counting: false) else { return nil }
            for file in files { total += fileSize(file) ?? 0 }
        }
        return total
    }

    private func warn(_ line: String) {
        statistics.warn(line)
        onWarning?(line)
    }

    /// A flat folder's one unlabeled "label" is the folder itself.
    private func folder(of label: String) -> String { label.isEmpty ? labelRoot : labelRoot + "/" + label }

    /// The folders between `label`'s folder and the file `path` (listed below that folder).
    private func group(of path: String, label: String) -> String? {
        guard explicitFiles == nil else { return nil }
        let below = path.utf8.dropFirst(folder(of: label).utf8.count + 1)
        guard let slash = below.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        return String(below[..<slash])
    }

    /// Lists a label folder's text files, recursively, in sorted order.
    private func textFiles(in folder: String, counting: Bool = true) throws(FolioError) -> [String] {
        guard let entries = sortedDirectoryEntries(of: folder) else {
            throw FolioError("cannot read folder: \(FolioError.systemMessage(errno))", file: folder)
        }
        var files: [String] = []
        for name in entries where !name.hasPrefix(".") {
            let path = folder + "/" + name
            switch FileKind(path: path) {
            case .directory: files += try textFiles(in: path, counting: counting)
            case .file where name.hasSuffix(".txt") || name.hasSuffix(".txt.zst"): files.append(path)
            case .missing where name.hasSuffix(".txt") || name.hasSuffix(".txt.zst"):
                // A dangling link, or a file that vanished: data would be lost silently.
                throw FolioError("cannot read: \(FolioError.systemMessage(errno))", file: path)
            default: if counting { statistics.skippedFiles += 1 }
            }
        }
        return files
    }

    public func nextChunk() throws(FolioError) -> TextChunk? {
        while true {
            if current != nil {
                if let chunk = try readChunk() { return chunk }
                continue
            }
            if let path = pendingFiles.popLast() {
                let label = labels[labelIndex]
                current = OpenFile(source: try openByteSource(path: path), label: label, group: group(of: path, label: label))
                continue
            }
            labelIndex += 1
            guard labelIndex < labels.count else { return nil }
            let folder = folder(of: labels[labelIndex])
            // Rank 0 alone counts skipped files, so that the ranks' counts add up.
            let files = try textFiles(in: folder, counting: options.part.index == 0)
            pendingFiles = files.indices.filter { options.part.contains(ordinal: filesListed + $0) }.map { files[$0] }.reversed()
            filesListed += files.count
            if files.isEmpty && options.part.index == 0 { warn("\(folder): warning: empty label folder (no .txt files)") }
        }
    }

    /// Reads the next chunk of the open file; nil when the file was skipped.
    private func readChunk() throws(FolioError) -> TextChunk? {
        var output: [UInt8] = []
        output.reserveCapacity(min(options.chunkBytes, 1 << 16))
        while true {
            // Up to 3 bytes of a cut character may be carried into the output.
            let room = options.chunkBytes - 3 - output.count
            guard room > 0 else { break }
            let count = try current!.source.read(into: UnsafeMutableRawBufferPointer(rebasing: readBuffer[0..<room]))
            let input = UnsafeRawBufferPointer(rebasing: readBuffer[0..<count])
            if current!.isFirstRead {
                current!.isFirstRead = false
                if input.prefix(8192).contains(0) {
                    warn("\(current!.source.path): warning: binary file (NUL byte in the first 8 KiB), skipped")
                    statistics.skippedFiles += 1
                    finishedSourceBytes += current!.source.consumedBytes
                    current = nil
                    return nil
                }
            }
            current!.bytesRead += count
            statistics.bytes += count
            let before = current!.repair.replacements
            current!.repair.repair(input, isFinal: count == 0, into: &output)
            statistics.invalidUTF8Replacements += current!.repair.replacements - before
            if count == 0 { return finishDocument(output) }
        }
        return TextChunk(
            document: statistics.documents, label: current!.label, source: current!.source.path,
            bytes: output, isDocumentEnd: false, group: current!.group)
    }

    private func finishDocument(_ output: [UInt8]) -> TextChunk {
        let file = current!
        finishedSourceBytes += file.source.consumedBytes
        current = nil
        if file.bytesRead == 0 { statistics.emptyDocuments += 1 }
        let chunk = TextChunk(
            document: statistics.documents, label: file.label, source: file.source.path,
            bytes: output, isDocumentEnd: true, group: file.group)
        statistics.documents += 1
        return chunk
    }
}
