import Foundation
import Testing
@testable import FolioPreprocessing

@Suite struct EncoderTests {
    @Test func oneHotMatchesScikitLearnIncludingUnknowns() throws {
        let fixture = try Fixture("one_hot_encoder")
        let fit = try #require(fixture["fit"] as? [[String]])
        let input = try #require(fixture["transform_input"] as? [[String]])
        var encoder = OneHotEncoder<Float>(handleUnknown: .ignore)
        try encoder.fit(fit)
        #expect(encoder.categories == (fixture["categories_"] as? [[String]]))
        expectClose(try encoder.transform(input), try fixture.matrix("transform"), tolerance: 0, "one-hot")
        let decoded = try encoder.inverseTransform(try encoder.transform(input))
        #expect(decoded.last == [nil, "x"], "an ignored unknown decodes to nil")
        #expect(decoded[0] == ["b", "x"])
        #expect(try roundTrip(encoder).transform(input) == (try encoder.transform(input)))

        var strict = OneHotEncoder<Float>(handleUnknown: .error)
        try strict.fit(fit)
        #expect(throws: PreprocessingError.unknownCategory(stage: "OneHotEncoder", column: 1, value: "w")) {
            try strict.transform(input)
        }
    }

    @Test func labelEncoderSortsByCodePointAndNamesUnseenLabels() throws {
        let fixture = try Fixture("label_encoder")
        let labels = try #require(fixture["fit"] as? [String])
        var encoder = LabelEncoder<String>()
        try encoder.fit(labels)
        #expect(encoder.classes == (fixture["classes_"] as? [String]))
        #expect(try encoder.transform(labels) == (fixture["transform"] as? [Double])?.map { Int($0) })
        #expect(try encoder.inverseTransform(try encoder.transform(labels)) == labels)
        #expect(throws: PreprocessingError.unknownCategory(stage: "LabelEncoder", column: 0, value: "eggs")) {
            try encoder.transform(["ham", "eggs"])
        }
        #expect(throws: PreprocessingError.self) { try encoder.inverseTransform([7]) }
        #expect(throws: PreprocessingError.notFitted(stage: "LabelEncoder")) { try LabelEncoder<Int>().transform([1]) }
        #expect(try roundTrip(encoder).classes == encoder.classes)
    }

    @Test func toCategoricalMatchesKerasAndChecksRange() throws {
        let fixture = try Fixture("to_categorical")
        let labels = try #require(fixture["labels"] as? [Double]).map { Int($0) }
        let output: Matrix<Float> = try toCategorical(labels, numClasses: 5)
        expectClose(output, try fixture.matrix("output"), tolerance: 0, "to_categorical")
        #expect(try toCategorical(labels, as: Double.self).columns == 4)
        #expect(throws: PreprocessingError.self) { try toCategorical([0, 5], numClasses: 5) }
        #expect(throws: PreprocessingError.self) { try toCategorical([-1]) }
    }
}

@Suite struct TFIDFTests {
    func sparse<Scalar: PreprocessingScalar>(_ matrix: Matrix<Double>, as: Scalar.Type) throws -> SparseMatrix<Scalar> {
        try SparseMatrix(columns: matrix.columns, rows: matrix.rowArrays.map { row in
            row.enumerated().map { ($0.offset, Scalar($0.element)) }
        })
    }

    @Test(arguments: ["default", "sublinear", "no_idf", "l1", "no_norm"])
    func matchesScikitLearn(variant: String) throws {
        let fixture = try Fixture("tfidf_transformer")
        let counts: Matrix<Double> = try fixture.matrix("counts")
        var tfidf = TFIDFTransformer<Double>(
            norm: variant == "l1" ? .l1 : variant == "no_norm" ? nil : .l2,
            useIdf: variant != "no_idf", sublinearTf: variant == "sublinear")
        let output = try tfidf.fitTransform(sparse(counts, as: Double.self))
        expectClose(output.dense, try fixture.matrix(variant, "transform"), tolerance: 1e-12, variant)
        if variant != "no_idf" { expectClose(tfidf.idf, try fixture.vector(variant, "idf_"), tolerance: 1e-12, "idf") }
        var tfidf32 = TFIDFTransformer<Float>(
            norm: variant == "l1" ? .l1 : variant == "no_norm" ? nil : .l2,
            useIdf: variant != "no_idf", sublinearTf: variant == "sublinear")
        expectClose(try tfidf32.fitTransform(sparse(counts, as: Float.self)).dense,
                    try fixture.matrix(variant, "transform"), tolerance: 1e-6, variant + " Float")
    }

    @Test func unsmoothedIdfAndBatchingAndSaving() throws {
        let fixture = try Fixture("tfidf_transformer")
        let counts: Matrix<Double> = try fixture.matrix("no_smooth", "counts")
        var tfidf = TFIDFTransformer<Double>(smoothIdf: false)
        let input = try sparse(counts, as: Double.self)
        try tfidf.fit(input)
        expectClose(tfidf.idf, try fixture.vector("no_smooth", "idf_"), tolerance: 1e-12, "idf")
        expectClose(try tfidf.transform(input).dense, try fixture.matrix("no_smooth", "transform"), tolerance: 1e-12, "no smooth")
        var batched = TFIDFTransformer<Double>(smoothIdf: false)
        for batch in randomBatches(counts, seed: 9) { try batched.partialFit(sparse(batch, as: Double.self)) }
        #expect(batched.documentFrequency == tfidf.documentFrequency && batched.samplesSeen == tfidf.samplesSeen)
        #expect(try roundTrip(tfidf).transform(input) == (try tfidf.transform(input)))
        #expect(throws: PreprocessingError.shapeMismatch(stage: "TFIDFTransformer", expected: 8, got: 3)) {
            try tfidf.transform(try SparseMatrix<Double>(columns: 3, rows: [[(0, 1)]]))
        }
        #expect(throws: PreprocessingError.notFitted(stage: "TFIDFTransformer")) {
            try TFIDFTransformer<Double>().transform(input)
        }
    }

    /// Rows fitted in two parts (on two machines, say), one part's counts merged into the
    /// other's, are the whole fit: the same counts, idf and output. Counts that no fit could
    /// make, or of another width, are refused; the saved form keeps its key names.
    @Test func partsFittedApartAndMergedAreTheWholeFit() throws {
        let fixture = try Fixture("tfidf_transformer")
        let counts: Matrix<Double> = try fixture.matrix("counts")
        let input = try sparse(counts, as: Double.self)
        var whole = TFIDFTransformer<Double>(sublinearTf: true)
        try whole.fit(input)
        let half = counts.rows / 2
        let rows = counts.rowArrays
        var first = TFIDFTransformer<Double>(sublinearTf: true), second = first
        try first.fit(sparse(try Matrix(Array(rows[..<half])), as: Double.self))
        try second.fit(sparse(try Matrix(Array(rows[half...])), as: Double.self))
        try first.merge(documentFrequency: second.documentFrequency, samples: second.samplesSeen)
        #expect(first.documentFrequency == whole.documentFrequency && first.samplesSeen == counts.rows)
        #expect(try first.transform(input) == (try whole.transform(input)))
        var empty = TFIDFTransformer<Double>(sublinearTf: true)
        try empty.merge(documentFrequency: whole.documentFrequency, samples: whole.samplesSeen)
        #expect(empty.idf == whole.idf)
        #expect(throws: PreprocessingError.shapeMismatch(stage: "TFIDFTransformer", expected: counts.columns, got: 2)) {
            try first.merge(documentFrequency: [1, 1], samples: 1)
        }
        #expect(throws: PreprocessingError.self) {
            try first.merge(documentFrequency: [Int](repeating: 2, count: counts.columns), samples: 1)
        }
        let saved = String(decoding: try JSONEncoder().encode(whole), as: UTF8.self)
        #expect(saved.contains("\"samplesSeen\"") && saved.contains("\"documentFrequency\""), "\(saved)")
    }

    /// Rows in compressed form are the matrix the (column, value) pairs make, and columns
    /// out of order or range, zero values or offsets that do not fit are refused.
    @Test func compressedRowsAreThePairsMatrixAndAreChecked() throws {
        var state: UInt64 = 12
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var pairs: [[(Int, Float)]] = []
        var (offsets, indices, values) = ([0], [Int](), [Float]())
        for _ in 0..<30 {
            let columns = Set((0..<Int(next() % 6)).map { _ in Int(next() % 40) }).sorted()
            let row = columns.map { ($0, Float(1 + next() % 5)) }
            pairs.append(row.reversed())
            indices += row.map(\.0)
            values += row.map(\.1)
            offsets.append(indices.count)
        }
        let compressed = try SparseMatrix(columns: 40, rowOffsets: offsets, columnIndices: indices, values: values)
        #expect(compressed == (try SparseMatrix(columns: 40, rows: pairs)))
        #expect(compressed.rows == 30 && indices.count > 30)
        let bad: [(offsets: [Int], indices: [Int], values: [Float])] = [
            ([0, 2], [3, 1], [1, 1]), ([0, 1], [40], [1]), ([0, 1], [2], [0]), ([0, 2, 1], [1, 2], [1, 1]), ([1, 2], [1, 2], [1, 1]),
            ([0, 3], [1, 2], [1, 1]),
        ]
        for (offsets, indices, values) in bad {
            #expect(throws: PreprocessingError.self, "\(offsets) \(indices) \(values)") {
                try SparseMatrix(columns: 40, rowOffsets: offsets, columnIndices: indices, values: values)
            }
        }
    }
}

@Suite struct ChainTests {
    @Test func chainIsAStageThatFitsInOrderAndSaves() throws {
        let fixture = try Fixture("standard_scaler")
        let input: Matrix<Double> = try fixture.matrix("input")
        var chain = StandardScaler<Double>().then(MinMaxScaler<Double>())
        let output = try chain.fitTransform(input)
        var first = StandardScaler<Double>()
        var second = MinMaxScaler<Double>()
        let expected = try second.fitTransform(try first.fitTransform(input))
        #expect(output == expected)
        expectClose(try chain.inverseTransform(output).values, input.values, tolerance: 1e-9, "inverse")
        #expect(try roundTrip(chain).transform(input) == output)
        // Streaming fit, one pass per stage: equal to fit.
        var streamed = StandardScaler<Double>().then(MinMaxScaler<Double>())
        try streamed.fit(passes: { randomBatches(input, seed: 4) })
        expectClose(try streamed.transform(input).values, expected.values, tolerance: 1e-12, "streamed")
    }
}
