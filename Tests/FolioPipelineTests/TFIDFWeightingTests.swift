import FolioNN
import FolioTestSupport
import Foundation
import Testing
@testable import FolioPipeline

/// bench/make_pipeline_fixtures.py: token-id documents and scikit-learn's
/// `TfidfVectorizer(sublinear_tf=True)` of them (idf, raw weights, L2-normalized rows).
struct WeightingFixture: Decodable {
    let input_dim: Int
    let train: [[UInt32]]
    let test: [[UInt32]]
    let idf: [Double]
    let test_weights: [[[Double]]]
    let test_l2: [[[Double]]]

    static func load() throws -> WeightingFixture {
        let url = try #require(Bundle.module.url(forResource: "tfidf_weighting", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(WeightingFixture.self, from: Data(contentsOf: url))
    }
}

/// Rows of ids, zero-padded, as a loader gives them.
func tokenBatch(_ rows: [[UInt32]]) -> TokenBatch {
    let length = max(1, rows.map(\.count).max() ?? 1)
    var ids = [UInt32](repeating: 0, count: rows.count * length)
    for (row, tokens) in rows.enumerated() { ids.replaceSubrange(row * length..<row * length + tokens.count, with: tokens) }
    return TokenBatch(rows: rows.count, length: length, ids: ids, lengths: rows.map { Int32($0.count) })
}

@Suite struct TFIDFWeightingTests {
    func fitted(_ fixture: WeightingFixture, split: Int) throws -> TFIDFWeighting {
        var frequencies = TFIDFWeighting.DocumentFrequencies(inputDim: fixture.input_dim)
        try frequencies.count(tokenBatch(Array(fixture.train[..<split])))
        try frequencies.count(tokenBatch(Array(fixture.train[split...])))
        return try frequencies.weighting()
    }

    /// The idf over any batching, and each test bag (distinct known ids, ascending, with
    /// `(1 + ln tf) · idf`), are scikit-learn's; unknown ids (`<oov>`, never-seen ids) are
    /// left out, so a document of only those is an empty bag.
    @Test func weightsAreScikitLearnsTFIDF() throws {
        let fixture = try WeightingFixture.load()
        let weighting = try fitted(fixture, split: 3)
        #expect(try fitted(fixture, split: 7) == weighting)
        #expect(weighting.documents == fixture.train.count)
        for (id, expected) in fixture.idf.enumerated() {
            #expect(abs(Double(weighting.idf[id]) - expected) < 1e-6, "idf of \(id)")
        }
        let bags = weighting.weigh(tokenBatch(fixture.test))
        for (row, expected) in fixture.test_weights.enumerated() {
            #expect(Int(bags.lengths[row]) == expected.count, "row \(row)")
            for (position, entry) in expected.enumerated() {
                #expect(bags.ids[row * bags.length + position] == UInt32(entry[0]))
                #expect(abs(Double(bags.weights![row * bags.length + position]) - entry[1]) < 1e-5, "row \(row), id \(entry[0])")
            }
        }
    }

    /// Counted in parts, one per rank (every N-th document; one more rank counting none),
    /// and summed across the ranks, the document frequencies are the whole corpus's: every
    /// rank gets the one-process weighting exactly.
    @Test(arguments: [2, 3]) func partsCountedByRanksAndSummedAreTheWholeFit(counting: Int) throws {
        let fixture = try WeightingFixture.load()
        let whole = try fitted(fixture, split: 3)
        let weightings = try ThreadCommunicator.run(ranks: counting + 1) { communicator in
            var frequencies = TFIDFWeighting.DocumentFrequencies(inputDim: fixture.input_dim)
            if communicator.rank < counting {
                try frequencies.count(tokenBatch(stride(from: communicator.rank, to: fixture.train.count, by: counting).map { fixture.train[$0] }))
            }
            try frequencies.sum(across: communicator)
            return try frequencies.weighting()
        }
        #expect(weightings.count == counting + 1 && weightings.allSatisfy { $0 == whole })
    }

    /// Pooled with sqrtn through an identity embedding (one-hot rows), a weighted bag is
    /// scikit-learn's L2-normalized TF-IDF row: the baseline's features exactly.
    @Test func sqrtnPoolingOfABagIsTheNormalizedTFIDFRow() throws {
        let fixture = try WeightingFixture.load()
        let bags = try fitted(fixture, split: 5).weigh(tokenBatch(fixture.test))
        let dim = fixture.input_dim
        var oneHot = Tensor(zeros: [bags.rows, bags.length, dim])
        for index in 0..<bags.ids.count { oneHot.values[index * dim + Int(bags.ids[index])] = 1 }
        let pooled = GlobalPooling1D(.sqrtN).forward(oneHot, lengths: bags.lengths, weights: bags.weights)
        for (row, expected) in fixture.test_l2.enumerated() {
            var dense = [Double](repeating: 0, count: dim)
            for entry in expected { dense[Int(entry[0])] = entry[1] }
            for id in 0..<dim {
                #expect(abs(Double(pooled.values[row * dim + id]) - dense[id]) < 1e-6, "row \(row), id \(id)")
            }
        }
    }

    @Test func aSavedTableReadsBackAndADamagedOneIsRefusedNamingTheId() throws {
        let folder = TemporaryFolder()
        let fixture = try WeightingFixture.load()
        let weighting = try fitted(fixture, split: 2)
        let path = folder.path + "/" + TFIDFWeighting.file
        try weighting.write(to: path)
        #expect(try TFIDFWeighting.read(from: path, inputDim: fixture.input_dim) == weighting)
        #expect(throws: FolioError.self) { try TFIDFWeighting.read(from: path, inputDim: fixture.input_dim + 1) }
        var damaged = weighting.idf
        damaged[4] = 0.5
        try TFIDFWeighting(idf: damaged, documents: 10).write(to: path)
        let error = try #require(throws: FolioError.self) { try TFIDFWeighting.read(from: path, inputDim: fixture.input_dim) }
        #expect(error.place == "key idf, id 4" && error.file == path, "\(error)")
        #expect(throws: FolioError.self) { try TFIDFWeighting.DocumentFrequencies(inputDim: 4).weighting() }
    }

    /// A model whose layers mix steps before pooling cannot take the weights.
    @Test func onlyAModelThatPoolsTheBagTakesWeights() throws {
        let weighting = TFIDFWeighting(idf: [Float](repeating: 1, count: 20), documents: 3)
        let lstm = try Model([.embedding(outputDim: 4), .lstm(units: 4), .dense(units: 2)], vocabulary: 20, seed: 1)
        #expect(throws: FolioError.self) { try lstm.useWeighting(weighting) }
        let bag = try Model([.embedding(outputDim: 4), .globalSqrtNPooling1D, .dense(units: 2)], vocabulary: 21, seed: 1)
        #expect(throws: FolioError.self) { try bag.useWeighting(weighting) }
    }
}
