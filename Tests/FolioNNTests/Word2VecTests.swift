import FolioCore
import FolioTestSupport
import Foundation
import Testing
@testable import FolioNN

@Suite struct NegativeSamplingTests {
    func randoms(_ count: Int, _ generator: inout SplitMix64, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in Float(generator.nextUnit() * 2 - 1) * scale }
    }

    /// The update is −rate times the loss's gradient: for the input (every row's part taken
    /// before that row moved) and for each row, against central differences in Double.
    @Test(arguments: [3, 17])
    func updateIsTheLossGradientStep(dim: Int) {
        var generator = SplitMix64(seed: UInt64(dim))
        let input = randoms(dim, &generator)
        let rows = (0..<6).map { _ in randoms(dim, &generator) }
        let rate: Float = 0.5
        var moved = rows
        let gradient = NegativeSampling.referenceUpdate(input: input, rows: &moved, rate: rate)
        let step: Float = 1e-2
        for j in 0..<dim {
            var plus = input, minus = input
            plus[j] += step
            minus[j] -= step
            let numeric = (NegativeSampling.loss(input: plus, rows: rows) - NegativeSampling.loss(input: minus, rows: rows)) / (2 * Double(step))
            #expect(abs(Double(gradient[j]) + Double(rate) * numeric) < 2e-3, "input \(j): \(gradient[j]) vs \(-Double(rate) * numeric)")
        }
        for r in rows.indices {
            for j in 0..<dim {
                var plus = rows, minus = rows
                plus[r][j] += step
                minus[r][j] -= step
                let numeric = (NegativeSampling.loss(input: input, rows: plus) - NegativeSampling.loss(input: input, rows: minus)) / (2 * Double(step))
                let change = Double(moved[r][j] - rows[r][j])
                #expect(abs(change + Double(rate) * numeric) < 2e-3, "row \(r), \(j)")
            }
        }
    }

    /// Every kernel path this CPU runs against the plain twin.
    @Test(arguments: [1, 8, 17, 100, 300])
    func everyPathMatchesTheTwin(dim: Int) {
        var generator = SplitMix64(seed: 99 + UInt64(dim))
        let input = randoms(dim, &generator)
        let rows = (0..<6).map { _ in randoms(dim, &generator, scale: 0.3) }
        var expectedRows = rows
        let expected = NegativeSampling.referenceUpdate(input: input, rows: &expectedRows, rate: 0.025)
        for kernels in KernelSet.available {
            var found = rows
            let gradient = NegativeSampling.update(input: input, rows: &found, rate: 0.025, kernels: kernels)
            expectClose(gradient, expected, 1e-5, "gradient, \(kernels)")
            expectClose(found.flatMap { $0 }, expectedRows.flatMap { $0 }, 1e-6, "rows, \(kernels)")
        }
    }
}

@Suite struct NoiseDistributionTests {
    let counts = [0, 0, 1000, 400, 400, 90, 7, 1, 1, 0, 3]

    /// The alias table draws each word with count^0.75 / Σ count^0.75 (up to 2^-32 per
    /// column), and never a word with no count.
    @Test func tableProbabilitiesAreTheFormula() {
        let noise = NoiseDistribution(counts: counts)
        let weights = counts.map { pow(Double($0), 0.75) }
        let total = weights.reduce(0, +)
        let found = noise.probabilities()
        for (word, weight) in weights.enumerated() {
            #expect(abs(found[word] - weight / total) < 1e-8, "word \(word): \(found[word]) vs \(weight / total)")
        }
        #expect(abs(found.reduce(0, +) - 1) < 1e-9)
    }

    /// Draws follow the table: a chi-square statistic on 400 000 draws within what chance
    /// gives (the 99.9th percentile for 7 degrees of freedom is 24.3).
    @Test func drawsFollowTheDistribution() {
        let noise = NoiseDistribution(counts: counts)
        var generator = SplitMix64(seed: 5)
        var seen = [Int](repeating: 0, count: counts.count)
        let draws = 400_000
        for _ in 0..<draws { seen[Int(noise.sample(generator.next()))] += 1 }
        let expected = noise.probabilities().map { $0 * Double(draws) }
        #expect(seen[0] == 0 && seen[1] == 0 && seen[9] == 0, "a word without count was drawn")
        var chiSquare = 0.0
        for (observed, wanted) in zip(seen, expected) where wanted > 0 {
            let difference = Double(observed) - wanted
            chiSquare += difference * difference / wanted
        }
        #expect(chiSquare < 24.3, "chi-square \(chiSquare)")
    }
}

@Suite struct Word2VecTests {
    /// Two groups of words; each sentence uses one group only.
    static func topicSentences(count: Int, seed: UInt64) -> [[UInt32]] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            let base: UInt32 = generator.next() % 2 == 0 ? 2 : 22
            return (0..<12).map { _ in base + UInt32(generator.next() % 20) }
        }
    }

    static func train(_ sentences: [[UInt32]], _ options: Word2VecOptions) throws -> Word2Vec {
        var counts = [Int](repeating: 0, count: 42)
        for sentence in sentences { for id in sentence { counts[Int(id)] += 1 } }
        let model = try Word2Vec(counts: counts, tokensPerEpoch: sentences.reduce(0) { $0 + $1.count }, options: options)
        for _ in 0..<options.epochs {
            for sentence in sentences { model.add(sentence) }
            model.finishEpoch()
        }
        return model
    }

    static func options(_ model: Word2VecOptions.Architecture, threads: Int = 2) -> Word2VecOptions {
        var options = Word2VecOptions()
        options.model = model
        options.dim = 16
        options.window = 3
        options.epochs = 3
        options.minCount = 1
        options.subsample = 0
        options.threads = threads
        options.roundWords = 500
        return options
    }

    func cosine(_ model: Word2Vec, _ a: Int, _ b: Int) -> Float {
        let vectors = model.vectors()
        let (x, y) = (vectors[a * model.dim..<(a + 1) * model.dim], vectors[b * model.dim..<(b + 1) * model.dim])
        let dot = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
        return dot / (x.reduce(0) { $0 + $1 * $1 }.squareRoot() * y.reduce(0) { $0 + $1 * $1 }.squareRoot())
    }

    /// Words that share contexts end up closer than words that never do, for both models.
    @Test(arguments: Word2VecOptions.Architecture.allCases)
    func wordsOfOneTopicEndUpCloser(model architecture: Word2VecOptions.Architecture) throws {
        let model = try Self.train(Self.topicSentences(count: 2000, seed: 1), Self.options(architecture))
        var within: [Float] = [], across: [Float] = []
        for a in 0..<40 {
            for b in (a + 1)..<40 {
                let similarity = cosine(model, a, b)
                if a / 20 == b / 20 { within.append(similarity) } else { across.append(similarity) }
            }
        }
        let meanWithin = within.reduce(0, +) / Float(within.count), meanAcross = across.reduce(0, +) / Float(across.count)
        #expect(meanWithin > meanAcross + 0.3, "within \(meanWithin), across \(meanAcross)")
    }

    /// The same seed and thread count give bit-identical vectors (two threads: the merge
    /// order is fixed); another seed gives others.
    @Test(arguments: Word2VecOptions.Architecture.allCases)
    func sameSeedSameVectors(model architecture: Word2VecOptions.Architecture) throws {
        let sentences = Self.topicSentences(count: 600, seed: 2)
        let first = try Self.train(sentences, Self.options(architecture)).vectors()
        let second = try Self.train(sentences, Self.options(architecture)).vectors()
        #expect(first == second)
        var other = Self.options(architecture)
        other.seed = 2
        #expect(try Self.train(sentences, other).vectors() != first)
    }

    /// word2vec's keep probability, and the share of words the training actually keeps.
    @Test func subsamplingKeepsTheFormulasShare() throws {
        // The formula as gensim writes it: (sqrt(v / threshold_count) + 1) * (threshold_count / v).
        for (count, total, t) in [(1000, 10_000, 1e-2), (5, 10_000, 1e-3), (90_000, 100_000, 1e-4), (1, 10, 0.5)] {
            let thresholdCount = t * Double(total)
            let gensim = min(1, ((Double(count) / thresholdCount).squareRoot() + 1) * (thresholdCount / Double(count)))
            #expect(abs(Word2Vec.keepProbability(count: count, total: total, subsample: t) - gensim) < 1e-12)
        }
        #expect(Word2Vec.keepProbability(count: 5000, total: 10_000, subsample: 0) == 1)
        // A skewed corpus: word 2 is half of all tokens.
        var generator = SplitMix64(seed: 3)
        let sentences = (0..<2000).map { _ in (0..<10).map { _ in generator.next() % 2 == 0 ? UInt32(2) : UInt32(3 + generator.next() % 30) } }
        var options = Self.options(.skipgram, threads: 1)
        options.subsample = 1e-3
        options.epochs = 1
        let model = try Self.train(sentences, options)
        var counts = [Int](repeating: 0, count: 42)
        for sentence in sentences { for id in sentence { counts[Int(id)] += 1 } }
        let total = counts.reduce(0, +)
        let expected = counts.reduce(0.0) { $0 + Double($1) * Word2Vec.keepProbability(count: $1, total: total, subsample: 1e-3) }
        let spread = 4 * expected.squareRoot()
        #expect(model.wordsRead == total)
        #expect(abs(Double(model.wordsTrained) - expected) < spread, "kept \(model.wordsTrained), expected \(expected)")
    }

    @Test func refusesAVocabularyWithoutFrequentWords() {
        var options = Word2VecOptions()
        options.minCount = 10
        #expect(throws: FolioError.self) { try Word2Vec(counts: [0, 0, 3, 4], tokensPerEpoch: 7, options: options) }
    }
}

@Suite struct WordVectorsFileTests {
    let vectors = WordVectors(tokens: ["rocket", "orbit", "guitar", "é"], dim: 3,
                              values: [1, 0.5, -0.25, 0.9, 0.6, -0.2, -1, 0.1, 3.4028235e38, Float.leastNonzeroMagnitude, 0.1, 0.7])

    @Test func textAndSafetensorsRoundTrip() throws {
        let folder = TemporaryFolder()
        try vectors.writeText(to: folder.path + "/v.vec")
        try vectors.writeSafetensors(to: folder.path + "/v.safetensors")
        #expect(try WordVectors.read(folder.path + "/v.vec") == vectors)
        #expect(try WordVectors.read(folder.path + "/v.safetensors") == vectors)
        #expect(try WordVectors.dimension(of: folder.path + "/v.vec") == 3)
        #expect(try WordVectors.dimension(of: folder.path + "/v.safetensors") == 3)
    }

    /// GloVe's files have no header line.
    @Test func readsGloVeText() throws {
        let folder = TemporaryFolder()
        let path = folder.write("glove.txt", "the 0.1 0.2\nof -0.5 1e-3\n")
        let read = try WordVectors.read(path)
        #expect(read == WordVectors(tokens: ["the", "of"], dim: 2, values: [0.1, 0.2, -0.5, 1e-3]))
    }

    /// A short line, a word that is not a number and a wrong header each name the file and line.
    @Test(arguments: [
        ("2 3\nrocket 1 2 3\norbit 1 2\n", "line 3", "expected a word and 3 numbers, found 2"),
        ("rocket 1 2 3\norbit 1 x 3\n", "line 2", "'x' is not a finite number"),
        ("3 2\nrocket 1 2\n", "line 1", "announces 3 vectors"),
    ])
    func brokenFilesNameTheLine(text: String, place: String, message: String) {
        let folder = TemporaryFolder()
        let path = folder.write("broken.vec", text)
        do {
            _ = try WordVectors.read(path)
            Issue.record("read a broken file")
        } catch {
            #expect(error.file == path && error.place == place && error.message.contains(message), "\(error)")
        }
    }

    @Test func neighborsByCosine() {
        let vectors = WordVectors(tokens: ["rocket", "guitar", "moon", "orbit"], dim: 3, values: [2, 0, 0, -1, 0, 0, 0.7, 0.7, 0, 0.9, 0.1, 0])
        let found = vectors.neighbors(of: "rocket", count: 2)
        #expect(found?.map(\.token) == ["orbit", "moon"])
        #expect(abs((found?.first?.similarity ?? 0) - 0.9 / (0.82 as Float).squareRoot()) < 1e-6)
        #expect(vectors.neighbors(of: "missing", count: 2) == nil)
    }
}
