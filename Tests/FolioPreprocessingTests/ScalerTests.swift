import Foundation
import Testing
@testable import FolioPreprocessing

@Suite struct NormalizerTests {
    @Test(arguments: [Normalizer<Double>.Norm.l1, .l2, .max])
    func matchesScikitLearn(norm: Normalizer<Double>.Norm) throws {
        let fixture = try Fixture("normalizer")
        let output = try Normalizer<Double>(norm: norm).transform(fixture.matrix("input"))
        expectClose(output, try fixture.matrix(norm.rawValue), tolerance: 1e-12, "\(norm) Double")
        let output32 = try Normalizer<Float>(norm: Normalizer<Float>.Norm(rawValue: norm.rawValue)!)
            .transform(fixture.matrix("input32", as: Float.self))
        expectClose(output32, try fixture.matrix(norm.rawValue + "_32"), tolerance: 1e-6, "\(norm) Float")
        #expect(output.rowArrays[7].allSatisfy { $0 == 0 }, "a zero row stays zero")
    }

    @Test func sparseRowsMatchDenseRows() throws {
        let fixture = try Fixture("normalizer")
        let input: Matrix<Double> = try fixture.matrix("input")
        let sparse = try SparseMatrix(columns: input.columns, rows: input.rowArrays.map { row in
            row.enumerated().map { ($0.offset, $0.element) }
        })
        let normalizer = Normalizer<Double>()
        #expect(try normalizer.transform(sparse).dense == (try normalizer.transform(input)))
    }

    @Test func nanIsAnErrorNamingRowAndColumn() throws {
        let fixture = try Fixture("normalizer")
        #expect(fixture["nan_raises"] as? Bool == true, "scikit-learn refuses NaN too")
        var input: Matrix<Double> = try fixture.matrix("input")
        input[4, 2] = .nan
        #expect(throws: PreprocessingError.nonFinite(stage: "Normalizer", row: 4, column: 2)) {
            try Normalizer<Double>().transform(input)
        }
        input[4, 2] = .infinity
        #expect(throws: PreprocessingError.nonFinite(stage: "Normalizer", row: 4, column: 2)) {
            try Normalizer<Double>().transform(input)
        }
    }
}

@Suite struct StandardScalerTests {
    @Test func statisticsAndTransformMatchScikitLearn() throws {
        let fixture = try Fixture("standard_scaler")
        var scaler = StandardScaler<Double>()
        try scaler.fit(fixture.matrix("input"))
        expectClose(scaler.mean, try fixture.vector("mean_"), tolerance: 1e-12, "mean_")
        expectClose(scaler.variance, try fixture.vector("var_"), tolerance: 1e-12, "var_")
        expectClose(scaler.scale, try fixture.vector("scale_"), tolerance: 1e-12, "scale_")
        #expect(scaler.scale[2] == 1, "a constant column gets scale 1")
        for withMean in [true, false] {
            for withStd in [true, false] {
                var variant = StandardScaler<Double>(withMean: withMean, withStd: withStd)
                let key = "mean\(withMean ? 1 : 0)_std\(withStd ? 1 : 0)"
                let output = try variant.fitTransform(fixture.matrix("input"))
                expectClose(output, try fixture.matrix(key, "exact"), tolerance: 1e-12, key + " vs exact")
                // scikit-learn rounds mean_ (1e6 in column 3) to a double: 1.2e-10 there.
                expectClose(output, try fixture.matrix(key, "transform"), tolerance: 1e-9, key + " vs scikit-learn")
                expectClose(try variant.inverseTransform(output), try fixture.matrix(key, "inverse"), tolerance: 1e-12, key)
            }
        }
    }

    @Test func floatInputMatchesScikitLearn() throws {
        let fixture = try Fixture("standard_scaler")
        var scaler = StandardScaler<Float>()
        let output = try scaler.fitTransform(fixture.matrix("input32", as: Float.self))
        expectClose(output, try fixture.matrix("transform32"), tolerance: 1e-6, "Float transform")
    }

    @Test func singleSampleGivesScaleOne() throws {
        let fixture = try Fixture("standard_scaler")
        var scaler = StandardScaler<Double>()
        let output = try scaler.fitTransform(fixture.matrix("single"))
        expectClose(scaler.scale, try fixture.vector("single_scale_"), tolerance: 0, "single-sample scale")
        expectClose(output, try fixture.matrix("single_transform"), tolerance: 1e-12, "single-sample transform")
    }

    /// Chan's merge: any batching gives the statistics of one fit, to 1e-12.
    @Test(arguments: [1, 2, 3, 4, 5])
    func partialFitInAnyBatchingEqualsFit(seed: UInt64) throws {
        let fixture = try Fixture("standard_scaler")
        let input: Matrix<Double> = try fixture.matrix("input")
        var whole = StandardScaler<Double>()
        try whole.fit(input)
        var batched = StandardScaler<Double>()
        for batch in randomBatches(input, seed: seed) { try batched.partialFit(batch) }
        #expect(batched.samplesSeen == whole.samplesSeen)
        expectClose(batched.mean, whole.mean, tolerance: 1e-12, "mean")
        expectClose(batched.variance, whole.variance, tolerance: 1e-12, "variance")
    }

    @Test func saveLoadTransformEqualsTransform() throws {
        let fixture = try Fixture("standard_scaler")
        var scaler = StandardScaler<Float>()
        try scaler.fit(fixture.matrix("input32", as: Float.self))
        let loaded = try roundTrip(scaler)
        let input: Matrix<Float> = try fixture.matrix("input32", as: Float.self)
        #expect(try loaded.transform(input) == (try scaler.transform(input)))
    }

    @Test func badInputThrows() throws {
        var scaler = StandardScaler<Double>()
        let input = try Matrix<Double>([[1, 2], [3, 4]])
        #expect(throws: PreprocessingError.notFitted(stage: "StandardScaler")) { try scaler.transform(input) }
        try scaler.fit(input)
        #expect(throws: PreprocessingError.shapeMismatch(stage: "StandardScaler", expected: 2, got: 3)) {
            try scaler.transform(try Matrix([[1, 2, 3]]))
        }
        #expect(throws: PreprocessingError.shapeMismatch(stage: "StandardScaler", expected: 2, got: 1)) {
            try scaler.partialFit(try Matrix([[1]]))
        }
        #expect(throws: PreprocessingError.nonFinite(stage: "StandardScaler", row: 1, column: 0)) {
            try scaler.partialFit(try Matrix([[1, 2], [.nan, 4]]))
        }
    }
}

@Suite struct MinMaxScalerTests {
    @Test func matchesScikitLearn() throws {
        let fixture = try Fixture("minmax_scaler")
        var scaler = MinMaxScaler<Double>(featureRange: (-1, 2))
        let output = try scaler.fitTransform(fixture.matrix("input"))
        expectClose(scaler.dataMin, try fixture.vector("data_min_"), tolerance: 0, "data_min_")
        expectClose(scaler.dataMax, try fixture.vector("data_max_"), tolerance: 0, "data_max_")
        expectClose(output, try fixture.matrix("transform"), tolerance: 1e-12, "transform")
        expectClose(try scaler.inverseTransform(output), try fixture.matrix("inverse"), tolerance: 1e-12, "inverse")
        var scaler32 = MinMaxScaler<Float>(featureRange: (-1, 2))
        expectClose(try scaler32.fitTransform(fixture.matrix("input32", as: Float.self)),
                    try fixture.matrix("transform32"), tolerance: 1e-6, "Float")
    }

    @Test func batchesAndSavingChangeNothing() throws {
        let fixture = try Fixture("minmax_scaler")
        let input: Matrix<Double> = try fixture.matrix("input")
        var whole = MinMaxScaler<Double>()
        try whole.fit(input)
        var batched = MinMaxScaler<Double>()
        for batch in randomBatches(input, seed: 3) { try batched.partialFit(batch) }
        #expect(try batched.transform(input) == (try whole.transform(input)))
        #expect(try roundTrip(whole).transform(input) == (try whole.transform(input)))
        var empty = MinMaxScaler<Double>(featureRange: (1, 1))
        #expect(throws: PreprocessingError.self) { try empty.fit(input) }
    }
}
