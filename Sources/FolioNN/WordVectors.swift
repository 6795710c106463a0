import FolioCore
import Foundation

/// Word vectors and their words: what `folio embed` writes and what an ``Embedding`` can
/// start from.
///
/// Two file formats:
/// - **text** (word2vec's `.vec`, which fastText and gensim write too): a first line
///   `count dim`, then one line per word, `word v1 ... vdim`, separated by spaces. GloVe's
///   files, which have no first line, are read too.
/// - **safetensors**: one F32 tensor `vectors` of shape `[count, dim]` and, in the
///   metadata, `tokens`: the words joined by newlines, row order (tokens never hold
///   whitespace).
public struct WordVectors: Sendable, Equatable {
    public var tokens: [String]
    public var dim: Int
    /// `[tokens.count, dim]`, row-major.
    public var values: [Float]

    public init(tokens: [String], dim: Int, values: [Float]) {
        self.tokens = tokens
        self.dim = dim
        self.values = values
    }

    public static let tensorName = "vectors"
    public static let tokensKey = "tokens"

    public func vector(_ row: Int) -> ArraySlice<Float> { values[row * dim..<(row + 1) * dim] }

    /// The text format; every value written in its shortest exact form, so a round trip
    /// gives the same floats.
    public func writeText(to path: String) throws(FolioError) {
        let file = try AtomicFile(path: path)
        var text = "\(tokens.count) \(dim)\n"
        for (row, token) in tokens.enumerated() {
            text += token
            for value in vector(row) {
                text += " "
                text += value.description
            }
            text += "\n"
            if text.utf8.count >= 1 << 20 {
                try file.write(text)
                text = ""
            }
        }
        try file.write(text)
        try file.commit()
    }

    public func writeSafetensors(to path: String, metadata: [String: String] = [:]) throws(FolioError) {
        var metadata = metadata
        metadata[Self.tokensKey] = tokens.joined(separator: "\n")
        try Safetensors.write([(Self.tensorName, Safetensors.Entry(shape: [tokens.count, dim], values: values))], metadata: metadata, to: path)
    }

    /// Reads either format: safetensors by its `.safetensors` name, text otherwise.
    public static func read(_ path: String) throws(FolioError) -> WordVectors {
        if path.hasSuffix(".safetensors") {
            let (tensors, metadata) = try Safetensors.read(path)
            guard let entry = tensors[tensorName], entry.shape.count == 2 else {
                throw FolioError("no [count, dim] tensor named \(tensorName)", file: path, place: "key \(tensorName)")
            }
            let tokens = metadata[tokensKey].map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) } ?? []
            guard tokens.count == entry.shape[0] else {
                throw FolioError("\(tokens.count) tokens for \(entry.shape[0]) vectors", file: path, place: "key __metadata__.\(tokensKey)")
            }
            return WordVectors(tokens: tokens, dim: entry.shape[1], values: entry.values)
        }
        var vectors = WordVectors(tokens: [], dim: 0, values: [])
        vectors.dim = try forEachTextVector(in: path) { token, vector in
            vectors.tokens.append(token)
            vectors.values.append(contentsOf: vector)
        }
        return vectors
    }

    /// The dimension of a vectors file, from its first lines (text) or header (safetensors)
    /// alone: for checking a setting before any work starts.
    public static func dimension(of path: String) throws(FolioError) -> Int {
        if path.hasSuffix(".safetensors") {
            let file = try SafetensorsFile(path: path)
            guard let shape = file.tensors[tensorName]?.shape, shape.count == 2 else {
                throw FolioError("no [count, dim] tensor named \(tensorName)", file: path, place: "key \(tensorName)")
            }
            return shape[1]
        }
        var dim = 0
        _ = try forEachTextVector(in: path, limit: 1) { _, vector in dim = vector.count }
        guard dim > 0 else { throw FolioError("no vectors in the file", file: path) }
        return dim
    }

    /// Streams a text file's vectors, one line at a time (a file larger than memory is
    /// fine); returns the dimension. A first line of two integers is word2vec's header;
    /// every line must then have the same number of values. Errors name the line. With
    /// `limit`, stops after that many vectors.
    @discardableResult
    public static func forEachTextVector(
        in path: String, limit: Int = .max, _ body: (String, UnsafeBufferPointer<Float>) throws(FolioError) -> Void
    ) throws(FolioError) -> Int {
        guard let file = fopen(path, "r") else { throw FolioError("cannot open: \(FolioError.systemMessage(errno))", file: path) }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        var lineNumber = 0
        var dim = 0
        var declared: (count: Int, dim: Int)?
        var rows = 0
        var vector: [Float] = []
        while rows < limit {
            let length = getline(&line, &capacity, file)
            guard length >= 0, let line else { break }
            lineNumber += 1
            let bytes = UnsafeRawBufferPointer(start: line, count: length)
            let fields = bytes.split(whereSeparator: { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 })
            if fields.isEmpty { continue }
            if lineNumber == 1, fields.count == 2, let count = Int(String(decoding: fields[0], as: UTF8.self)),
               let width = Int(String(decoding: fields[1], as: UTF8.self)) {
                guard count >= 0, width >= 1 else { throw FolioError("bad header '\(count) \(width)'", file: path, place: "line 1") }
                declared = (count, width)
                dim = width
                continue
            }
            if dim == 0 { dim = fields.count - 1 }
            guard fields.count - 1 == dim else {
                throw FolioError("expected a word and \(dim) numbers, found \(fields.count - 1) numbers", file: path, place: "line \(lineNumber)")
            }
            vector.removeAll(keepingCapacity: true)
            for field in fields.dropFirst() {
                guard let value = Float(String(decoding: field, as: UTF8.self)), value.isFinite else {
                    throw FolioError("'\(String(decoding: field, as: UTF8.self))' is not a finite number", file: path, place: "line \(lineNumber)")
                }
                vector.append(value)
            }
            rows += 1
            try vector.withUnsafeBufferPointer { vector throws(FolioError) in try body(String(decoding: fields[0], as: UTF8.self), vector) }
        }
        if ferror(file) != 0 { throw FolioError("read error: \(FolioError.systemMessage(errno))", file: path, place: "line \(lineNumber + 1)") }
        if let declared, declared.count != rows, rows < limit {
            throw FolioError("the header announces \(declared.count) vectors, the file has \(rows)", file: path, place: "line 1")
        }
        return dim
    }

    /// The `count` words nearest to `token` by cosine similarity, nearest first; nil when
    /// the token has no vector.
    public func neighbors(of token: String, count: Int) -> [(token: String, similarity: Float)]? {
        guard let row = tokens.firstIndex(of: token) else { return nil }
        let query = Array(vector(row))
        let queryNorm = query.reduce(0) { $0 + $1 * $1 }.squareRoot()
        var scored: [(Int, Float)] = []
        scored.reserveCapacity(tokens.count)
        values.withUnsafeBufferPointer { values in
            for other in tokens.indices where other != row {
                var dot: Float = 0, norm: Float = 0
                for j in 0..<dim {
                    let value = values[other * dim + j]
                    dot += value * query[j]
                    norm += value * value
                }
                let denominator = norm.squareRoot() * queryNorm
                scored.append((other, denominator > 0 ? dot / denominator : 0))
            }
        }
        // Ties by row (the vocabulary's order: the more frequent word first).
        let top = scored.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(count)
        return top.map { (tokens[$0.0], $0.1) }
    }
}

/// How many of a vocabulary's tokens a vectors file gave rows to.
public struct PretrainedMatch: Sendable, Equatable {
    /// Vocabulary tokens (not `<pad>`, `<oov>`) whose row now holds the file's vector.
    public var matched: Int
    /// Vocabulary tokens without a vector in the file: their rows keep the layer's own start.
    public var unmatched: Int
    /// Vectors of words the vocabulary does not have.
    public var unused: Int
}

extension Embedding {
    /// Copies the vectors of `path` (safetensors or text, ``WordVectors``) into the rows of
    /// the tokens they belong to: row i is `tokens[i]` (the vocabulary in id order; rows
    /// past it, hashed n-grams, and rows of tokens the file lacks keep their start). A text
    /// file streams through, so a file larger than memory is fine; where a word comes twice
    /// the first vector wins. A dimension other than `outputDim` is an error naming the file.
    public func load(vectorsAt path: String, tokens: [String], arena: ParameterArena) throws(FolioError) -> PretrainedMatch {
        let dimension = try WordVectors.dimension(of: path)
        guard dimension == outputDim else {
            throw FolioError("vectors of dimension \(dimension) for an embedding of output_dim \(outputDim)", file: path)
        }
        var rowOf: [String: Int] = [:]
        for (id, token) in tokens.enumerated().prefix(inputDim) where id >= 2 { rowOf[token] = id }
        let table = arena.values(of: self.table)
        var filled = Set<Int>()
        var unused = 0
        func take(_ token: String, _ vector: UnsafeBufferPointer<Float>) {
            guard let row = rowOf[token], filled.insert(row).inserted else {
                unused += 1
                return
            }
            for j in 0..<outputDim { table[row * outputDim + j] = vector[j] }
        }
        if path.hasSuffix(".safetensors") {
            let vectors = try WordVectors.read(path)
            vectors.values.withUnsafeBufferPointer { values in
                for (index, token) in vectors.tokens.enumerated() {
                    take(token, UnsafeBufferPointer(rebasing: values[index * outputDim..<(index + 1) * outputDim]))
                }
            }
        } else {
            try WordVectors.forEachTextVector(in: path) { token, vector in take(token, vector) }
        }
        return PretrainedMatch(matched: filled.count, unmatched: rowOf.count - filled.count, unused: unused)
    }
}
