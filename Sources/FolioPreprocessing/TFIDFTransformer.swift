import Foundation

/// Turns token-count rows into TF-IDF rows, as scikit-learn's `TfidfTransformer`:
/// `tf * idf`, then each row normalized.
///
/// - `idf = ln((1 + n) / (1 + df)) + 1` with `smoothIdf`, else `ln(n / df) + 1`, where n
///   is the number of rows seen and df the rows in which the column is non-zero. Both are
///   integers summed over batches, so `partialFit` in any batching is exact.
/// - `sublinearTf` replaces tf with `1 + ln(tf)`.
/// - `norm`: `.l2` (default), `.l1`, or nil for none.
///
/// ```swift
/// var tfidf = TFIDFTransformer<Double>()
/// let counts = try SparseMatrix<Double>(columns: 3, rows: [[(0, 2), (2, 1)], [(1, 1)]])
/// let features = try tfidf.fitTransform(counts)
/// ```
public struct TFIDFTransformer<Scalar: PreprocessingScalar>: PreprocessingStage {
    public var norm: Normalizer<Scalar>.Norm?
    public var useIdf: Bool
    public var smoothIdf: Bool
    public var sublinearTf: Bool
    /// Rows seen by ``partialFit(_:)``.
    public var samplesSeen: Int { samples }
    /// Per column, the rows seen in which it is non-zero.
    public var documentFrequency: [Int] { frequencies }
    // Stored apart from their read-only public faces so that the inlinable fit can write
    // them: inlined into the caller's module, it runs specialized for the caller's
    // `Scalar`, where the generic fit spent most of its time in value witnesses.
    @usableFromInline var samples = 0
    @usableFromInline var frequencies: [Int] = []

    @usableFromInline static var stage: String { "TFIDFTransformer" }

    // The saved form keeps the names the counts were saved under before they were split
    // from their public faces.
    private enum CodingKeys: String, CodingKey {
        case norm, useIdf, smoothIdf, sublinearTf, samples = "samplesSeen", frequencies = "documentFrequency"
    }

    public init(norm: Normalizer<Scalar>.Norm? = .l2, useIdf: Bool = true, smoothIdf: Bool = true, sublinearTf: Bool = false) {
        self.norm = norm
        self.useIdf = useIdf
        self.smoothIdf = smoothIdf
        self.sublinearTf = sublinearTf
    }

    public var idf: [Double] {
        let smoothing = smoothIdf ? 1.0 : 0.0
        let n = Double(samplesSeen) + smoothing
        return documentFrequency.map { log(n / (Double($0) + smoothing)) + 1 }
    }

    /// A count's term frequency: the count, or `1 + ln(count)` when `sublinear` (0 stays 0).
    @inlinable
    public static func termFrequency(_ count: Double, sublinear: Bool) -> Double {
        // Most terms occur once in a document, and 1 + ln 1 is 1 exactly: no logarithm.
        sublinear && count > 0 ? (count == 1 ? 1 : 1 + log(count)) : count
    }

    public mutating func reset() {
        samples = 0
        frequencies = []
    }

    @inlinable
    public mutating func partialFit(_ batch: SparseMatrix<Scalar>) throws(PreprocessingError) {
        try validate(batch, fitting: true)
        if frequencies.isEmpty { frequencies = [Int](repeating: 0, count: batch.columns) }
        for entry in 0..<batch.values.count where batch.values[entry] != 0 {
            frequencies[batch.columnIndices[entry]] += 1
        }
        samples += batch.rows
    }

    /// Adds counts made elsewhere (`documentFrequency` per column over `samples` rows), as if
    /// those rows had been fitted here: a corpus fitted in parts, one per machine, and summed
    /// is the whole corpus's fit, exactly (the counts are integers).
    public mutating func merge(documentFrequency: [Int], samples: Int) throws(PreprocessingError) {
        guard samples >= 0, documentFrequency.allSatisfy({ (0...samples).contains($0) }) else {
            throw .invalidArgument(stage: Self.stage, message: "document frequencies must lie in 0...\(samples), the rows counted")
        }
        if frequencies.isEmpty { frequencies = [Int](repeating: 0, count: documentFrequency.count) }
        guard documentFrequency.count == frequencies.count else {
            throw .shapeMismatch(stage: Self.stage, expected: frequencies.count, got: documentFrequency.count)
        }
        for column in frequencies.indices { frequencies[column] += documentFrequency[column] }
        self.samples += samples
    }

    @inlinable
    func validate(_ input: SparseMatrix<Scalar>, fitting: Bool) throws(PreprocessingError) {
        try input.checkFinite(stage: Self.stage)
        if !documentFrequency.isEmpty && input.columns != documentFrequency.count {
            throw .shapeMismatch(stage: Self.stage, expected: documentFrequency.count, got: input.columns)
        }
        for row in 0..<input.rows {
            for entry in input.rowOffsets[row]..<input.rowOffsets[row + 1] where input.values[entry] < 0 {
                throw .invalidArgument(
                    stage: Self.stage, message: "negative count at row \(row), column \(input.columnIndices[entry])")
            }
        }
        if !fitting && samplesSeen == 0 && useIdf { throw .notFitted(stage: Self.stage) }
    }

    @inlinable
    public func transform(_ input: SparseMatrix<Scalar>) throws(PreprocessingError) -> SparseMatrix<Scalar> {
        try validate(input, fitting: false)
        let weights = useIdf ? idf : []
        var output = input
        for entry in 0..<output.values.count {
            var value = Self.termFrequency(Double(output.values[entry]), sublinear: sublinearTf)
            if useIdf { value *= weights[output.columnIndices[entry]] }
            output.values[entry] = Scalar(value)
        }
        guard let norm else { return output }
        return try Normalizer<Scalar>(norm: norm).transform(output)
    }
}
