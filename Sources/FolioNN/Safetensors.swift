import FolioCore
import Foundation

/// Reads and writes the safetensors format: an 8-byte little-endian header length, a
/// JSON header `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
/// {string: string}}` padded with spaces to a multiple of 8, then the raw little-endian
/// data, offsets relative to its start. Folio writes and reads F32 only.
public enum Safetensors {
    public struct Entry: Sendable, Equatable {
        public var shape: [Int]
        public var values: [Float]
        public init(shape: [Int], values: [Float]) {
            self.shape = shape
            self.values = values
        }
    }

    /// Writes `tensors` in the order given, atomically.
    public static func write(_ tensors: [(name: String, entry: Entry)], metadata: [String: String] = [:], to path: String)
        throws(FolioError)
    {
        for (name, entry) in tensors where entry.shape.reduce(1, *) != entry.values.count {
            throw FolioError("tensor \(name): shape \(entry.shape) does not hold \(entry.values.count) values", file: path)
        }
        try write(layout: tensors.map { ($0.name, $0.entry.shape) }, metadata: metadata, to: path) { index, file throws(FolioError) in
            try tensors[index].entry.values.withUnsafeBytes { raw in Swift.Result { () throws(FolioError) in try file.write(raw: raw) } }.get()
        }
    }

    /// Writes tensors given as buffers (a model's arena, an optimizer's state) without
    /// copying them: `payload(i, file)` writes tensor i's bytes.
    public static func write(
        layout: [(name: String, shape: [Int])], metadata: [String: String] = [:], to path: String,
        payload: (Int, AtomicFile) throws(FolioError) -> Void
    ) throws(FolioError) {
        try writeUncommitted(layout: layout, metadata: metadata, to: path, payload: payload).commit()
    }

    /// ``write(layout:metadata:to:payload:)`` but for the commit: every byte is with the
    /// kernel, and the file waits under its temporary name for the caller's
    /// ``AtomicFile/commit()``.
    public static func writeUncommitted(
        layout: [(name: String, shape: [Int])], metadata: [String: String] = [:], to path: String,
        payload: (Int, AtomicFile) throws(FolioError) -> Void
    ) throws(FolioError) -> AtomicFile {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, shape) in layout {
            let count = shape.reduce(1, *)
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * count]]
            offset += 4 * count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json: [UInt8]
        do {
            json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        } catch {
            throw FolioError("cannot encode the safetensors header: \(error)", file: path)
        }
        while json.count % 8 != 0 { json.append(0x20) }
        let file = try AtomicFile(path: path)
        var length = UInt64(json.count).littleEndian
        try file.write(Swift.withUnsafeBytes(of: &length) { Array($0) })
        try file.write(json)
        for index in layout.indices { try payload(index, file) }
        try file.finishWriting()
        return file
    }

    /// Reads every tensor; errors name the file and the key.
    public static func read(_ path: String) throws(FolioError) -> (tensors: [String: Entry], metadata: [String: String]) {
        let file = try SafetensorsFile(path: path)
        var tensors: [String: Entry] = [:]
        for (name, tensor) in file.tensors {
            var values = [Float](repeating: 0, count: tensor.count)
            try values.withUnsafeMutableBufferPointer { buffer in
                Swift.Result { () throws(FolioError) in try file.read(name, into: buffer) }
            }.get()
            tensors[name] = Entry(shape: tensor.shape, values: values)
        }
        return (tensors, file.metadata)
    }
}

extension LSTMClassifier {
    /// The weights under PyTorch's names and layouts (`nn.Embedding`, `nn.LSTM(num_layers:)`,
    /// `nn.Linear` named `embedding`, `lstm`, `fc`): `torch.nn.Module.load_state_dict`
    /// takes them as they are. Folio's kernels are stored transposed there, and
    /// `bias_hh` is zero (Folio has one bias per gate).
    public func safetensorsEntries() -> [(name: String, entry: Safetensors.Entry)] {
        var entries: [(String, Safetensors.Entry)] = []
        entries.append(("embedding.weight", Safetensors.Entry(shape: embedding.table.shape, values: Array(arena.values(of: embedding.table)))))
        for (layer, lstm) in lstms.enumerated() {
            let width = 4 * lstm.units
            entries.append(("lstm.weight_ih_l\(layer)", Safetensors.Entry(shape: [width, lstm.inputDim],
                values: transpose(Array(arena.values(of: lstm.kernel)), rows: lstm.inputDim, columns: width))))
            entries.append(("lstm.weight_hh_l\(layer)", Safetensors.Entry(shape: [width, lstm.units],
                values: transpose(Array(arena.values(of: lstm.recurrentKernel)), rows: lstm.units, columns: width))))
            entries.append(("lstm.bias_ih_l\(layer)", Safetensors.Entry(shape: [width], values: Array(arena.values(of: lstm.bias)))))
            entries.append(("lstm.bias_hh_l\(layer)", Safetensors.Entry(shape: [width], values: [Float](repeating: 0, count: width))))
        }
        entries.append(("fc.weight", Safetensors.Entry(shape: [dense.units, dense.inputDim],
            values: transpose(Array(arena.values(of: dense.kernel)), rows: dense.inputDim, columns: dense.units))))
        entries.append(("fc.bias", Safetensors.Entry(shape: [dense.units], values: Array(arena.values(of: dense.bias)))))
        return entries
    }

    public func save(to path: String) throws(FolioError) {
        try Safetensors.write(safetensorsEntries(), metadata: ["format": "pt", "producer": "folio"], to: path)
    }

    /// Loads weights saved by ``save(to:)`` or by PyTorch from the same architecture;
    /// every tensor must be there with its shape.
    public func load(from path: String) throws(FolioError) {
        let (tensors, _) = try Safetensors.read(path)
        func take(_ name: String, _ shape: [Int]) throws(FolioError) -> [Float] {
            guard let entry = tensors[name] else { throw FolioError("missing tensor", file: path, place: "key \(name)") }
            guard entry.shape == shape else {
                throw FolioError("shape \(entry.shape), the model needs \(shape)", file: path, place: "key \(name)")
            }
            return entry.values
        }
        func store(_ values: [Float], into view: ParameterView) {
            let target = arena.values(of: view)
            for index in values.indices { target[index] = values[index] }
        }
        store(try take("embedding.weight", embedding.table.shape), into: embedding.table)
        for (layer, lstm) in lstms.enumerated() {
            let width = 4 * lstm.units
            store(transpose(try take("lstm.weight_ih_l\(layer)", [width, lstm.inputDim]), rows: width, columns: lstm.inputDim), into: lstm.kernel)
            store(transpose(try take("lstm.weight_hh_l\(layer)", [width, lstm.units]), rows: width, columns: lstm.units), into: lstm.recurrentKernel)
            let inputBias = try take("lstm.bias_ih_l\(layer)", [width])
            let hiddenBias = try take("lstm.bias_hh_l\(layer)", [width])
            store(zip(inputBias, hiddenBias).map { $0 + $1 }, into: lstm.bias)
        }
        store(transpose(try take("fc.weight", [dense.units, dense.inputDim]), rows: dense.units, columns: dense.inputDim), into: dense.kernel)
        store(try take("fc.bias", [dense.units]), into: dense.bias)
    }
}

/// The transpose of a row-major `rows` x `columns` matrix.
func transpose(_ values: [Float], rows: Int, columns: Int) -> [Float] {
    var result = [Float](repeating: 0, count: values.count)
    for r in 0..<rows { for c in 0..<columns { result[c * rows + r] = values[r * columns + c] } }
    return result
}

/// A safetensors file opened for reading: the header parsed and checked against the file's
/// size, each tensor read on demand straight into a caller's buffer (a model's arena), so
/// loading never holds the file's bytes and a copy of them at once.
public final class SafetensorsFile {
    public let path: String
    public let metadata: [String: String]
    /// Shape, absolute byte offset and value count of each tensor.
    public let tensors: [String: (shape: [Int], offset: Int, count: Int)]
    private let descriptor: Int32

    public init(path: String) throws(FolioError) {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FolioError("cannot open: \(FolioError.systemMessage(errno))", file: path) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            close(descriptor)
            throw FolioError("cannot stat: \(FolioError.systemMessage(errno))", file: path)
        }
        let size = Int(info.st_size)
        var lengthBytes = [UInt8](repeating: 0, count: 8)
        guard size >= 8, Self.readFully(descriptor, into: &lengthBytes, at: 0) else {
            close(descriptor)
            throw FolioError("truncated safetensors file (\(size) bytes)", file: path)
        }
        let storedLength = lengthBytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard storedLength <= UInt64(size - 8), storedLength < 100 << 20 else {
            close(descriptor)
            throw FolioError("header length \(storedLength) does not fit the file (\(size) bytes)", file: path, place: "header")
        }
        let headerLength = Int(storedLength)
        var headerBytes = [UInt8](repeating: 0, count: headerLength)
        let object = Self.readFully(descriptor, into: &headerBytes, at: 8) ? try? JSONSerialization.jsonObject(with: Data(headerBytes)) : nil
        guard let header = object as? [String: Any] else {
            close(descriptor)
            throw FolioError("the header is not a JSON object", file: path, place: "header")
        }
        let dataStart = 8 + headerLength
        let dataLength = size - dataStart
        var tensors: [String: (shape: [Int], offset: Int, count: Int)] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                let shape = (info["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                let offsets = (info["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }), offsets.count == 2
            else {
                close(descriptor)
                throw FolioError("malformed entry", file: path, place: "key \(name)")
            }
            guard dtype == "F32" else {
                close(descriptor)
                throw FolioError("dtype \(dtype) is not supported (F32 only)", file: path, place: "key \(name)")
            }
            // Sizes from outside: a product that overflows is as wrong as one that does not fit.
            let count = elementCount(of: shape, smallestDimension: 0, atMost: dataLength / 4)
            guard let count, offsets[0] >= 0, offsets[1] <= dataLength, offsets[1] - offsets[0] == 4 * count else {
                close(descriptor)
                throw FolioError("data_offsets \(offsets) do not match shape \(shape) within \(dataLength) data bytes",
                                 file: path, place: "key \(name)")
            }
            tensors[name] = (shape, dataStart + offsets[0], count)
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    deinit { close(descriptor) }

    /// Reads tensor `name` into `buffer`, which must hold exactly its values. (Stored
    /// little-endian, which is every platform Folio runs on.)
    public func read(_ name: String, into buffer: UnsafeMutableBufferPointer<Float>) throws(FolioError) {
        guard let tensor = tensors[name] else { throw FolioError("missing tensor", file: path, place: "key \(name)") }
        guard tensor.count == buffer.count else {
            throw FolioError("\(tensor.count) values, expected \(buffer.count)", file: path, place: "key \(name)")
        }
        var done = 0
        let total = 4 * tensor.count
        let raw = UnsafeMutableRawBufferPointer(buffer)
        while done < total {
            let got = pread(descriptor, raw.baseAddress! + done, total - done, off_t(tensor.offset + done))
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { throw FolioError("read failed", file: path, place: "key \(name)") }
            done += got
        }
    }

    private static func readFully(_ descriptor: Int32, into bytes: inout [UInt8], at offset: Int) -> Bool {
        var done = 0
        let total = bytes.count
        while done < total {
            let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, total - done, off_t(offset + done)) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return false }
            done += got
        }
        return true
    }
}
