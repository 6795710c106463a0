import FolioTestSupport
import Foundation
import Testing
@testable import FolioPreprocessing

/// A scikit-learn fixture file (see bench/make_preprocessing_fixtures.py).
struct Fixture {
    let json: [String: Any]

    init(_ name: String) throws {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: url))
        json = try #require(value.plain as? [String: Any])
    }

    subscript(_ path: String...) -> Any? {
        var value: Any? = json
        for key in path { value = (value as? [String: Any])?[key] }
        return value
    }

    func matrix<Scalar: PreprocessingScalar>(_ path: String..., as: Scalar.Type = Double.self) throws -> Matrix<Scalar> {
        let rows = try #require(self[path] as? [[Double]], "fixture key \(path)")
        return try Matrix(rows.map { $0.map { Scalar($0) } })
    }

    func vector(_ path: String...) throws -> [Double] {
        try #require(self[path] as? [Double], "fixture key \(path)")
    }

    subscript(_ path: [String]) -> Any? {
        var value: Any? = json
        for key in path { value = (value as? [String: Any])?[key] }
        return value
    }
}

/// |a - b| <= tolerance * max(1, |b|) for every entry.
func expectClose<Scalar: PreprocessingScalar>(
    _ actual: [Scalar], _ expected: [Double], tolerance: Double, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.count == expected.count, "\(what): sizes", sourceLocation: sourceLocation)
    var worst = 0.0
    var worstIndex = 0
    for (index, (a, b)) in zip(actual, expected).enumerated() {
        let error = abs(Double(a) - b) / max(1, abs(b))
        if error > worst { worst = error; worstIndex = index }
    }
    #expect(worst <= tolerance, "\(what): relative error \(worst) at \(worstIndex)", sourceLocation: sourceLocation)
}

func expectClose<Scalar: PreprocessingScalar>(
    _ actual: Matrix<Scalar>, _ expected: Matrix<Double>, tolerance: Double, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.rows == expected.rows && actual.columns == expected.columns, "\(what): shape",
            sourceLocation: sourceLocation)
    expectClose(actual.values, expected.values, tolerance: tolerance, what, sourceLocation: sourceLocation)
}

/// Saves as JSON and loads back.
func roundTrip<Stage: Codable>(_ stage: Stage) throws -> Stage {
    try JSONDecoder().decode(Stage.self, from: JSONEncoder().encode(stage))
}


/// Splits the rows of `matrix` into random consecutive batches.
func randomBatches<Scalar>(_ matrix: Matrix<Scalar>, seed: UInt64) -> [Matrix<Scalar>] {
    var generator = SplitMix64(seed: seed)
    var batches: [Matrix<Scalar>] = []
    var start = 0
    while start < matrix.rows {
        let end = min(matrix.rows, start + Int.random(in: 1...7, using: &generator))
        batches.append(try! Matrix(rows: end - start, columns: matrix.columns,
                                   values: Array(matrix.values[start * matrix.columns..<end * matrix.columns])))
        start = end
    }
    return batches
}
