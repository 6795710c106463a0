import FolioCore
import FolioNN
import FolioTestSupport
import FolioText
import Foundation
import Testing
@testable import FolioPipeline

@Suite struct TuneSpaceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Every shipped pipeline's own settings lie inside its default space (regression: the
    /// learning rate was capped at 1, below the bag pipeline's SGD rate of 4), and its
    /// family's parameters are the ones searched.
    @Test(arguments: ["bag-of-ngrams.toml", "conv.toml", "demo.toml"])
    func theDefaultSpaceHoldsThePipelinesOwnSettings(pipeline: String) throws {
        let config = try PipelineConfig.read(path: Self.root + "/pipelines/" + pipeline)
        let space = TuneSpace.defaults(for: config)
        guard case .logUniform(let low, let high) = try #require(space.ranges[.learningRate]) else { Issue.record("no rate range"); return }
        let rate = Double(config.training.optimizer.initialLearningRate)
        #expect(low < rate && rate < high, "\(low)...\(high) misses \(rate)")
        #expect(space.maxEpochs == config.training.epochs)
        let searched = Set(space.ranges.keys)
        #expect(searched.isSuperset(of: [.learningRate, .batchSize, .schedule]))
        switch pipeline {
        case "bag-of-ngrams.toml":
            #expect(searched.isSuperset(of: [.ngrams, .buckets, .weighting]) && !searched.contains(.units))
            #expect(space.ranges[.subwords] == .values([0, 36]) && TuneSpace.Parameter.subwords.needsUnknownText(space.ranges[.subwords]))
        case "demo.toml":
            #expect(searched.isSuperset(of: [.units, .dropout, .subwords]) && !searched.contains(.ngrams))
            #expect(space.ranges[.recurrentLayers] == .values([1, 2]), "the pipeline stacks two LSTMs")
        default: #expect(searched.contains(.filters) && !searched.contains(.units) && !searched.contains(.recurrentLayers))
        }
        // Every family may read more of a document where batches are as long as their longest
        // row; fixed widths keep theirs (every trial would pay for the longer ones).
        let length = Double(config.loader.maxLength)
        #expect(space.ranges[.maxLength] == .values([length, 2 * length, 4 * length]))
        var fixed = config
        fixed.loader.padding = .maxLength
        #expect(TuneSpace.defaults(for: fixed).ranges[.maxLength] == nil)
    }

    /// Draws come from the seed, within their ranges; applying one edits exactly those settings.
    @Test func drawsAreSeededAndApplyAsTypedEdits() throws {
        let config = try PipelineConfig.read(path: Self.root + "/pipelines/demo.toml")
        let space = TuneSpace.defaults(for: config)
        var first = SplitMix64(seed: 9), second = SplitMix64(seed: 9)
        let draws = (0..<20).map { _ in space.sample(&first) }
        #expect(draws == (0..<20).map { _ in space.sample(&second) })
        #expect(Set(draws).count > 1)
        for draw in draws {
            let rate = try #require(draw.values["learning_rate"])
            #expect((0.0003...0.03).contains(rate))
            let tuned = config.applying(draw, epochs: 2)
            #expect(tuned.training.epochs == 2)
            #expect(abs(Double(tuned.training.optimizer.initialLearningRate) - rate) < 1e-6 * rate)
            #expect(tuned.loader.batchSize == Int(draw.values["batch_size"] ?? 0))
            #expect(tuned.model.layers[0] == .embedding(outputDim: Int(draw.values["dim"] ?? 0)))
            let units = Int(draw.values["units"] ?? 0)
            #expect(tuned.model.layers.allSatisfy { if case .lstm(let width, _, _, _) = $0 { width == units } else { true } })
            #expect(tuned.model.layers.filter(\.isRecurrent).count == Int(draw.values["recurrent_layers"] ?? 0))
            #expect(tuned.loader.maxLength == Int(draw.values["max_length"] ?? 0))
            #expect(tuned.model.layers.allSatisfy { if case .dropout(let rate) = $0 { rate == Float(draw.values["dropout"] ?? -1) } else { true } })
            try tuned.validate()
        }
    }

    /// A stack cut to its first layers keeps what its last layer returned, so the layers after
    /// it read the same shape; counts beyond the stack keep it whole.
    @Test func keepingTheFirstRecurrentLayersKeepsTheStacksOutput() throws {
        let pooled: [LayerSpec] = [.embedding(outputDim: 8), .dropout(rate: 0.2), .lstm(units: 5, returnSequences: true),
                                   .lstm(units: 5, returnSequences: true), .globalMaxPooling1D, .dense(units: 3)]
        #expect(LayerSpec.keepingRecurrentLayers(1, of: pooled) == [.embedding(outputDim: 8), .dropout(rate: 0.2),
                                                                    .lstm(units: 5, returnSequences: true), .globalMaxPooling1D, .dense(units: 3)])
        let last: [LayerSpec] = [.embedding(outputDim: 8), .bidirectional(.lstm(units: 5, returnSequences: true)),
                                 .gru(units: 4, returnSequences: true), .lstm(units: 3, dropout: 0.1), .dense(units: 2)]
        #expect(LayerSpec.keepingRecurrentLayers(1, of: last) == [.embedding(outputDim: 8), .bidirectional(.lstm(units: 5)), .dense(units: 2)])
        #expect(LayerSpec.keepingRecurrentLayers(2, of: last) == [.embedding(outputDim: 8), .bidirectional(.lstm(units: 5, returnSequences: true)),
                                                                  .gru(units: 4), .dense(units: 2)])
        for count in [3, 4] { #expect(LayerSpec.keepingRecurrentLayers(count, of: last) == last) }
        for (specs, count) in [(pooled, 1), (last, 1), (last, 2)] {
            _ = try Sequential(LayerSpec.keepingRecurrentLayers(count, of: specs), vocabulary: 10, seed: 1)
        }
        // A space file's counts are whole and at least 1.
        let folder = TemporaryFolder()
        let config = try PipelineConfig.read(path: Self.root + "/pipelines/demo.toml")
        folder.write("space.toml", "[recurrent_layers]\nvalues = [1]\n")
        #expect(try TuneSpace.defaults(for: config).reading(folder.path + "/space.toml").ranges[.recurrentLayers] == .values([1]))
        for bad in ["values = [0]", "values = [1.5]", "min = 1\nmax = 2"] {
            folder.write("bad.toml", "[recurrent_layers]\n\(bad)\n")
            let error = #expect(throws: FolioError.self) { try TuneSpace.defaults(for: config).reading(folder.path + "/bad.toml") }
            #expect(error?.place?.contains("recurrent_layers.") == true, "\(String(describing: error))")
        }
        // And its lengths whole, within the loader's limits.
        folder.write("space.toml", "[max_length]\nvalues = [64, 512]\n")
        #expect(try TuneSpace.defaults(for: config).reading(folder.path + "/space.toml").ranges[.maxLength] == .values([64, 512]))
        for bad in ["values = [0]", "values = [100.5]", "values = [1e9]", "min = 100\nmax = 400"] {
            folder.write("bad.toml", "[max_length]\n\(bad)\n")
            let error = #expect(throws: FolioError.self) { try TuneSpace.defaults(for: config).reading(folder.path + "/bad.toml") }
            #expect(error?.place?.contains("max_length.") == true, "\(String(describing: error))")
        }
    }

    /// A drawn cosine schedule decays over the trial's own epochs from the drawn learning
    /// rate, whatever order the settings are stored in; "pipeline" keeps the file's schedule.
    /// The tuned configuration reads back from the pipeline file it is written to.
    @Test func aDrawnScheduleDecaysOverTheTrialsEpochs() throws {
        let config = try PipelineConfig.read(path: Self.root + "/pipelines/demo.toml")
        var settings = TrialSettings()
        settings.values = ["learning_rate": 0.002, "schedule": 1]
        let tuned = config.applying(settings, epochs: 7)
        guard case .cosineDecay(let initial, _, let alpha, _, _) = tuned.training.optimizer.schedule else {
            Issue.record("not a cosine decay: \(tuned.training.optimizer.schedule)")
            return
        }
        #expect(initial == 0.002 && alpha == 0 && tuned.training.decayEpochs == 7)
        try tuned.validate()
        let again = try PipelineConfig.parse(try tuned.toml(), file: "tuned.toml", baseFolder: "/")
        #expect(again.training.optimizer.schedule == tuned.training.optimizer.schedule && again.training.decayEpochs == 7)
        settings.values["schedule"] = 0
        let kept = config.applying(settings, epochs: 7)
        #expect(kept.training.optimizer.schedule == config.training.optimizer.schedule.withInitialRate(0.002))
        #expect(kept.training.decayEpochs == config.training.decayEpochs)
    }

    /// A space file may name a schedule; an unknown name is an error naming the key and the names.
    @Test func aSpaceFileNamesTheSchedule() throws {
        let config = try PipelineConfig.read(path: Self.root + "/pipelines/demo.toml")
        let folder = TemporaryFolder()
        folder.write("space.toml", "[schedule]\nvalues = [\"cosine\"]\n")
        let space = try TuneSpace.defaults(for: config).reading(folder.path + "/space.toml")
        #expect(space.ranges[.schedule] == .values([1]))
        folder.write("bad.toml", "[schedule]\nvalues = [\"linear\"]\n")
        let error = try #require(throws: FolioError.self) { try TuneSpace.defaults(for: config).reading(folder.path + "/bad.toml") }
        #expect(error.message.contains("\"cosine\", \"pipeline\"") && error.place?.contains("schedule.values") == true, "\(error)")
    }

    /// Character n-gram lengths by name or code; a drawn pair becomes `minn`/`maxn`, 0 none;
    /// a code that is not a pair of lengths, or a range, is refused naming the key.
    @Test func aSpaceFileNamesSubwordLengths() throws {
        let config = try PipelineConfig.read(path: Self.root + "/pipelines/bag-of-ngrams.toml")
        let folder = TemporaryFolder()
        folder.write("space.toml", "[subwords]\nvalues = [\"none\", \"2-5\", 47]\n")
        let space = try TuneSpace.defaults(for: config).reading(folder.path + "/space.toml")
        #expect(space.ranges[.subwords] == .values([0, 25, 47]))
        for (code, expected) in [(0.0, nil), (25, SubwordHashing(minLength: 2, maxLength: 5)), (47, SubwordHashing(minLength: 4, maxLength: 7))] {
            var settings = TrialSettings()
            settings.values = ["subwords": code]
            let tuned = config.applying(settings, epochs: 2)
            #expect(tuned.model.subwords == expected)
            try tuned.validate()
        }
        for bad in ["values = [97]", "values = [5]", "values = [3.5]", "min = 1\nmax = 2"] {
            folder.write("bad.toml", "[subwords]\n\(bad)\n")
            let error = try #require(throws: FolioError.self) { try TuneSpace.defaults(for: config).reading(folder.path + "/bad.toml") }
            #expect(error.place?.contains("subwords.") == true, "\(error)")
        }
    }

    /// A draw near a trial: every parameter stays in its range, a listed one at its entry or
    /// the one before or after it, a log-uniform one within a quarter of its span (in log);
    /// at least one moves; the same stream gives the same point.
    @Test func aDrawNearATrialMovesToNeighbouringSettings() throws {
        let config = try PipelineConfig.read(path: Self.root + "/pipelines/demo.toml")
        let space = TuneSpace.defaults(for: config)
        var random = SplitMix64(seed: 9)
        var moves: [String: Int] = [:]
        for _ in 0..<200 {
            let start = space.sample(&random)
            var again = random
            let near = space.neighbour(of: start, &random)
            #expect(space.neighbour(of: start, &again) == near)
            #expect(near != start)
            for (parameter, range) in space.ranges {
                let (from, to) = (try #require(start.values[parameter.rawValue]), try #require(near.values[parameter.rawValue]))
                if from != to { moves[parameter.rawValue, default: 0] += 1 }
                switch range {
                case .logUniform(let low, let high):
                    #expect(low <= to && to <= high)
                    #expect(abs(log(to) - log(from)) <= (log(high) - log(low)) / 4 + 1e-12)
                case .values(let values):
                    let (i, j) = (try #require(values.firstIndex(of: from)), try #require(values.firstIndex(of: to)))
                    #expect(abs(i - j) <= 1, "\(parameter): \(from) -> \(to)")
                }
            }
        }
        // Every parameter moves sometimes, and none every time.
        #expect(Set(moves.keys) == Set(space.ranges.keys.map(\.rawValue)))
        #expect(moves.values.allSatisfy { $0 > 40 && $0 < 200 }, "\(moves)")
    }

    /// Regression: with a parameter fixed by a space file (a list of one value), the draw
    /// near a trial still moves one parameter; it had drawn the fixed one to move and
    /// returned a copy of the trial.
    @Test func aDrawNearATrialMovesEvenWithFixedParameters() throws {
        let config = try PipelineConfig.read(path: Self.root + "/pipelines/bag-of-ngrams.toml")
        let folder = TemporaryFolder()
        folder.write("space.toml", "[dim]\nvalues = [8]\n[buckets]\nvalues = [1000]\n[ngrams]\nvalues = [2]\n[weighting]\nvalues = [\"tfidf\"]\n"
                     + "[subwords]\nvalues = [\"none\"]\n[max_length]\nvalues = [400]\n[schedule]\nvalues = [\"cosine\"]\n")
        let space = try TuneSpace.defaults(for: config).reading(folder.path + "/space.toml")
        var random = SplitMix64(seed: 4)
        for _ in 0..<200 {
            let start = space.sample(&random)
            #expect(space.neighbour(of: start, &random) != start)
        }
    }

    /// A chosen setting at an end of an ordered range is named; inside it, in a list of two,
    /// or of a parameter whose values are kinds (schedule, weighting, subwords), it is not.
    @Test func settingsAtTheEndsOfTheirRangesAreNamed() throws {
        let space = TuneSpace(ranges: [
            .dim: .values([128, 32, 64]),  // a space file's list, out of order
            .buckets: .values([100_000, 400_000]),
            .schedule: .values([0, 1]),
            .learningRate: .logUniform(min: 0.4, max: 40),
            .maxLength: .values([400, 800, 1600]),
            .ngrams: .values([1, 2, 3]),
        ], maxEpochs: 5)
        func settings(_ values: [TuneSpace.Parameter: Double]) -> TrialSettings {
            var settings = TrialSettings()
            for (parameter, value) in values { settings.values[parameter.rawValue] = value }
            return settings
        }
        // Unigrams are the bottom of the n-gram list, but no wider list goes below them.
        let inside: [TuneSpace.Parameter: Double] = [.dim: 64, .buckets: 400_000, .schedule: 1, .learningRate: 5.08, .maxLength: 800, .ngrams: 1]
        #expect(space.edges(of: settings(inside)).isEmpty)
        #expect(space.edgeNote(for: settings(inside)) == nil)

        var atEnds = inside
        (atEnds[.dim], atEnds[.learningRate], atEnds[.maxLength], atEnds[.ngrams]) = (128, 38, 400, 3)
        #expect(space.edges(of: settings(atEnds)) == [
            TuneSpaceEdge(parameter: .learningRate, value: 38, isHighest: true),
            TuneSpaceEdge(parameter: .dim, value: 128, isHighest: true),
            TuneSpaceEdge(parameter: .ngrams, value: 3, isHighest: true),
            TuneSpaceEdge(parameter: .maxLength, value: 400, isHighest: false),
        ])
        let note = try #require(space.edgeNote(for: settings(atEnds)))
        #expect(note.contains("dim 128 (the highest of 32, 64, 128)"))
        #expect(note.contains("learning_rate 38 (near the highest of 0.4-40)"))
        #expect(note.contains("max_length 400 (the lowest of 400, 800, 1600)"))
        #expect(note.hasSuffix("a --space file can widen their ranges"))

        // The log-uniform range's ends are its outer tenths, in log: 0.4 * 100^0.1 = 0.63.
        var low = inside
        low[.learningRate] = 0.6
        #expect(space.edges(of: settings(low)) == [TuneSpaceEdge(parameter: .learningRate, value: 0.6, isHighest: false)])
        low[.learningRate] = 0.7
        #expect(space.edges(of: settings(low)).isEmpty)
    }
}
