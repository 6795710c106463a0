import FolioCore
import Foundation

// How a run's files are written: each atomically (temporary name, fsync, rename), JSON
// with sorted keys so that the same content gives the same bytes.

/// Writes text atomically.
public func writeText(_ text: String, to path: String) throws(FolioError) {
    let file = try AtomicFile(path: path)
    try file.write(text)
    try file.commit()
}

/// Writes `value` as pretty, key-sorted JSON, atomically.
func writeJSON<Value: Encodable>(_ value: Value, to path: String) throws(FolioError) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let data: Data
    do { data = try encoder.encode(value) } catch { throw FolioError("cannot encode: \(error)", file: path) }
    let file = try AtomicFile(path: path)
    try file.write([UInt8](data) + [0x0A])
    try file.commit()
}

/// One compact, key-sorted JSON object per line (`metrics.jsonl`, `sweep.jsonl`).
func jsonLines<Value: Encodable>(_ values: [Value]) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return values.map { String(decoding: (try? encoder.encode($0)) ?? Data(), as: UTF8.self) + "\n" }.joined()
}

/// Reads a JSON file (one written by ``writeJSON(_:to:)``); `what` names it in the error.
func readJSON<Value: Decodable>(_ type: Value.Type, from path: String, what: String) throws(FolioError) -> Value {
    let bytes = try readWholeFile(path)
    do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch {
        throw FolioError("malformed \(what): \(error)", file: path)
    }
}
