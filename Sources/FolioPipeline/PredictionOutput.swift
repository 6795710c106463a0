import FolioCore
import Glibc

/// Counts bulk prediction keeps as it goes, saved with each commit so that a resumed run
/// reports the whole input.
public struct PredictionTally: Codable, Sendable, Equatable {
    public var documents = 0
    /// Documents whose label is one of the model's: these make the confusion matrix.
    public var labeled = 0
    /// Documents with a label the model does not have (counted, not scored).
    public var unknownLabels = 0
    public var emptyDocuments = 0
    public var truncatedDocuments = 0
    /// `confusion[true][predicted]` over the model's labels.
    public var confusion: [[Int]]

    init(classes: Int) { confusion = Array(repeating: Array(repeating: 0, count: classes), count: classes) }

    enum CodingKeys: String, CodingKey {
        case documents, labeled, confusion
        case unknownLabels = "unknown_labels"
        case emptyDocuments = "empty_documents"
        case truncatedDocuments = "truncated_documents"
    }
}

/// `folio predict --out FILE`: lines are appended to `FILE.part`; each commit makes them
/// durable (fsync) and then records, atomically in `FILE.part.position`, how many documents
/// and bytes are durable and the tally so far. The end renames `FILE.part` to `FILE`.
///
/// So a killed run never leaves a half-written `FILE` (an older one stays whole), and the
/// next run of the same command cuts `FILE.part` back to its recorded length (dropping a
/// half-written line) and goes on after the recorded documents. A part written for other
/// inputs or another model is refused, naming it, rather than mixed in.
///
/// Used by one thread at a time: the bulk writer while it runs, the caller once it has
/// waited for the writer to end (hence `@unchecked`).
final class PredictionOutput: @unchecked Sendable {
    struct Position: Codable {
        var fingerprint: String
        var bytes: Int
        var tally: PredictionTally
    }

    let path: String
    var partPath: String { path + ".part" }
    var positionPath: String { path + ".part.position" }
    private let fingerprint: String
    private var descriptor: Int32 = -1
    private var buffer: [UInt8] = []
    private(set) var bytes = 0
    /// Where an earlier run stopped; nil for a fresh start.
    private(set) var resumed: Position?

    init(path: String, fingerprint: String, restart: Bool) throws(FolioError) {
        self.path = path
        self.fingerprint = fingerprint
        if restart {
            unlink(positionPath)
            unlink(partPath)
        } else if let position = try readPosition() {
            guard position.fingerprint == fingerprint else {
                throw FolioError("an unfinished prediction run for another model or other inputs left this; "
                                 + "pass --restart to discard it", file: partPath)
            }
            resumed = position
        }
        descriptor = open(partPath, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FolioError("cannot create: \(FolioError.systemMessage(errno))", file: partPath) }
        bytes = resumed?.bytes ?? 0
        guard ftruncate(descriptor, off_t(bytes)) == 0, lseek(descriptor, off_t(bytes), SEEK_SET) >= 0 else {
            throw FolioError("cannot cut back to byte \(bytes): \(FolioError.systemMessage(errno))", file: partPath)
        }
        buffer.reserveCapacity(1 << 20)
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    private func readPosition() throws(FolioError) -> Position? {
        // A part with no recorded position holds nothing durable; a position whose part is
        // gone outlived a finished run (killed between the rename and the removal).
        guard fileSize(positionPath) != nil, fileSize(partPath) != nil else {
            unlink(partPath)
            unlink(positionPath)
            return nil
        }
        let position = try readJSON(Position.self, from: positionPath, what: "prediction position")
        guard position.bytes >= 0, position.bytes <= fileSize(partPath) ?? 0 else {
            throw FolioError("records \(position.bytes) bytes of \(partPath), which is shorter; pass --restart",
                             file: positionPath)
        }
        return position
    }

    func append(_ lines: [UInt8]) throws(FolioError) {
        buffer += lines
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws(FolioError) {
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw FolioError("write failed: \(FolioError.systemMessage(errno))", file: partPath)
            }
            offset += written
        }
        bytes += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    /// Makes everything appended so far durable, then records it with `tally`.
    func commit(_ tally: PredictionTally) throws(FolioError) {
        try flush()
        guard fsync(descriptor) == 0 else { throw FolioError("fsync failed: \(FolioError.systemMessage(errno))", file: partPath) }
        try writeJSON(Position(fingerprint: fingerprint, bytes: bytes, tally: tally), to: positionPath)
    }

    /// The whole output under its final name; the position goes last, so that a kill
    /// between the two leaves a position whose part is gone (a fresh start), never a lost file.
    func finish() throws(FolioError) {
        try flush()
        guard fsync(descriptor) == 0 else { throw FolioError("fsync failed: \(FolioError.systemMessage(errno))", file: partPath) }
        close(descriptor)
        descriptor = -1
        guard rename(partPath, path) == 0 else {
            throw FolioError("cannot rename into place: \(FolioError.systemMessage(errno))", file: path)
        }
        syncFolder(of: path)
        unlink(positionPath)
    }
}
