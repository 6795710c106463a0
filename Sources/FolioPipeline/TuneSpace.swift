import FolioCore
import FolioNN
import FolioText
import Foundation

/// What `folio tune` searches: a range per hyperparameter, and the most epochs a trial trains.
///
/// The defaults depend on the pipeline's model family (fastText's `-autotune` searches its
/// own model's settings the same way): every family the learning rate (log-uniform, a
/// decade either side of the pipeline's), the micro-batch and the embedding size; the bag
/// of n-grams also the n-gram order, the hash buckets and the TF-IDF weighting; recurrent
/// and convolutional models their width and dropout (a stack of recurrent layers also its
/// depth); every family, when batches are as long as their longest row, how many tokens of
/// a document it reads (the pipeline's `max_length`, twice or four times it), and the learning rate's
/// schedule (the pipeline's own, or a cosine decay to 0 over the trial's epochs, Keras's
/// `CosineDecay`) and character n-grams (none, or 3 to 6). A small TOML file replaces any range:
///
/// ```toml
/// epochs = 12                  # the most epochs a trial trains (default: the pipeline's)
/// [learning_rate]
/// min = 1e-4                   # log-uniform between min and max
/// max = 0.1
/// [batch_size]
/// values = [16, 64]            # one of these
/// [schedule]
/// values = ["cosine"]          # "pipeline": the pipeline's own schedule
/// ```
public struct TuneSpace: Sendable, Hashable, Encodable {
    public enum Parameter: String, CaseIterable, Sendable, Codable {
        case learningRate = "learning_rate", batchSize = "batch_size", dim, ngrams, buckets, weighting, units, dropout, filters
        /// 0: the pipeline's schedule; 1: cosine decay over the trial's epochs.
        case schedule
        /// Character n-grams (`[model] minn`, `maxn`): 0 none, else `minn * 10 + maxn`
        /// (36: fastText's 3 to 6). Last, so that adding it left every other draw of a seed as it was.
        case subwords
        /// How many of a stack of recurrent layers a trial keeps (the first ones; the last kept
        /// returns what the stack's last returned). After `subwords` for the same reason.
        case recurrentLayers = "recurrent_layers"
        /// The loader's `max_length`: how many of a document's first tokens the model reads.
        /// Last, for the same reason as `subwords`.
        case maxLength = "max_length"

        /// The n-gram lengths a `subwords` value stands for, `minn * 10 + maxn`; nil for 0
        /// (none). A space file's values are checked to be whole and to give valid lengths.
        static func subwordLengths(_ value: Double) -> SubwordHashing? {
            let code = Int(value.rounded())
            return code >= 1 ? SubwordHashing(minLength: code / 10, maxLength: code % 10) : nil
        }

        /// The tuned pipelines' shards keep unknown words' text when a trial may read them.
        func needsUnknownText(_ range: Range?) -> Bool {
            guard self == .subwords, case .values(let values)? = range else { return false }
            return values.contains { $0 >= 1 }
        }

        /// The whole numbers a space file may list for a count, and what such a number is (nil:
        /// any number).
        var wholeNumbers: (ClosedRange<Int>, String)? {
            switch self {
            case .recurrentLayers: (1...64, "a count of recurrent layers")
            case .maxLength: (PipelineConfig.Limits.maxLength, "a max_length in tokens")
            default: nil
            }
        }

        /// The names a space file may give instead of numbers.
        var names: [String: Double] {
            switch self {
            case .weighting: ["none": 0, "tfidf": 1]
            case .schedule: ["pipeline": 0, "cosine": 1]
            case .subwords: ["none": 0, "2-4": 24, "2-5": 25, "3-5": 35, "3-6": 36]
            default: [:]
            }
        }
    }

    public enum Range: Sendable, Hashable, Codable {
        case logUniform(min: Double, max: Double)
        case values([Double])
    }

    public var ranges: [Parameter: Range]
    public var maxEpochs: Int

    public init(ranges: [Parameter: Range], maxEpochs: Int) {
        self.ranges = ranges
        self.maxEpochs = maxEpochs
    }

    enum CodingKeys: String, CodingKey { case ranges, maxEpochs }

    /// The ranges by parameter name: a dictionary whose keys are not strings encodes as an
    /// array in its iteration order, which changes from process to process, and a tune's
    /// identity (``Tuner/tuneIdentity()``) must not, or a rerun discards the trials it
    /// should resume from.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Dictionary(uniqueKeysWithValues: ranges.map { ($0.key.rawValue, $0.value) }), forKey: .ranges)
        try container.encode(maxEpochs, forKey: .maxEpochs)
    }

    /// The default space for `config`'s model.
    public static func defaults(for config: PipelineConfig) -> TuneSpace {
        let layers = config.model.layers
        let rate = Double(config.training.optimizer.initialLearningRate)
        var ranges: [Parameter: Range] = [
            // The reader's own bounds, no others: SGD on a unit-norm bag takes rates of 4.
            .learningRate: .logUniform(min: max(1e-6, rate / 10), max: min(100, rate * 10)),
            .batchSize: .values([16, 32, 64, 128]),
            .schedule: .values([0, 1]),
        ]
        // Vectors from a file or an [embed] stage fix the embedding's size.
        if config.model.pretrained == nil && config.embed == nil { ranges[.dim] = .values([32, 64, 128]) }
        let recurrentCount = layers.filter(\.isRecurrent).count
        let recurrent = recurrentCount > 0
        let convolutional = layers.contains { if case .conv1D = $0 { true } else { false } }
        let dropout = layers.contains { if case .dropout = $0 { true } else { false } }
        if recurrent || convolutional {
            ranges[recurrent ? .units : .filters] = recurrent ? .values([32, 64, 128]) : .values([64, 128, 256])
            if dropout { ranges[.dropout] = .values([0, 0.2, 0.4]) }
        } else {
            ranges[.ngrams] = .values([1, 2, 3])
            ranges[.buckets] = .values([100_000, 400_000])
            if Sequential.weightedPoolingIndex(layers) != nil { ranges[.weighting] = .values([0, 1]) }
        }
        // Every family: character n-grams of 3 to 6 or none, what fastText's autotune finds on
        // the corpora where words alone fall short.
        ranges[.subwords] = .values([0, 36])
        // A stack may be deeper than a corpus rewards: one layer of the shipped LSTM pipeline's
        // two validated 5 points better on the docstrings (bench/results/2026-12-03-docstrings-depth.md).
        if recurrentCount > 1 { ranges[.recurrentLayers] = .values((1...recurrentCount).map(Double.init)) }
        // Long documents lose their ends to `max_length`, in every family. Reading more of them
        // validated better for the LSTM on the manual pages and worse on the docstrings: a
        // corpus's choice. Where batches are as wide as their longest row, corpora of short
        // documents pay nothing for the longer values; with fixed widths every trial would, so
        // those keep theirs unless a space file says.
        if config.loader.padding == .longest {
            let length = config.loader.maxLength
            ranges[.maxLength] = .values([1, 2, 4].map { Double(min($0 * length, PipelineConfig.Limits.maxLength.upperBound)) })
        }
        return TuneSpace(ranges: ranges, maxEpochs: config.training.epochs)
    }

    /// `path`'s ranges over these: errors name the file, line and key.
    public func reading(_ path: String) throws(FolioError) -> TuneSpace {
        let text = String(decoding: try readWholeFile(path), as: UTF8.self)
        let value = try PipelineValue.parse(toml: text, file: path)
        let root = try PipelineTableReader(value, path: "", context: .init(file: path, lines: PipelineSourceLines(text), overridden: []))
        var space = self
        space.maxEpochs = try root.int("epochs", default: maxEpochs, in: 1...PipelineConfig.Limits.epochs.upperBound)
        for parameter in Parameter.allCases {
            guard let table = try root.table(parameter.rawValue) else { continue }
            if let values = try table.array("values") {
                var numbers: [Double] = []
                for value in values {
                    switch value {
                    case .integer(let number): numbers.append(Double(number))
                    case .float(let number): numbers.append(number)
                    case .string(let name) where parameter.names[name] != nil: numbers.append(parameter.names[name] ?? 0)
                    default:
                        let names = parameter.names.keys.sorted().map { "\"\($0)\"" }
                        throw table.error(names.isEmpty ? "expected numbers" : "expected numbers or \(names.joined(separator: ", "))", key: "values")
                    }
                }
                guard !numbers.isEmpty else { throw table.error("give at least one value", key: "values") }
                if let (whole, what) = parameter.wholeNumbers,
                   let bad = numbers.first(where: { $0 != $0.rounded() || !(Double(whole.lowerBound)...Double(whole.upperBound)).contains($0) }) {
                    throw table.error("\(bad) is not \(what) (\(whole.lowerBound) to \(whole.upperBound))", key: "values")
                }
                if parameter == .subwords, let bad = numbers.first(where: { value in
                    value != 0 && (value != value.rounded() || Parameter.subwordLengths(value)?.hasValidLengths != true)
                }) {
                    throw table.error("\(bad) is not a pair of n-gram lengths: 0 (none) or minn * 10 + maxn, 1 <= minn <= maxn <= 9 (e.g. 36 or \"3-6\")", key: "values")
                }
                space.ranges[parameter] = .values(numbers)
            } else {
                let listed: [Parameter: String] = [.subwords: "n-gram lengths", .recurrentLayers: "layer counts", .maxLength: "lengths"]
                if let what = listed[parameter] {
                    throw table.error("give values = [...]: \(what) are not drawn from a range", key: "min")
                }
                let low = try table.double("min", in: 1e-12...1e12), high = try table.double("max", in: 1e-12...1e12)
                guard let low, let high, low <= high else { throw table.error("give values = [...], or min <= max", key: "min") }
                space.ranges[parameter] = .logUniform(min: low, max: high)
            }
            try table.finish()
        }
        try root.finish()
        return space
    }

    /// One point of the space, drawn from `random` (parameters in a fixed order, so a seed
    /// gives the same trials).
    public func sample(_ random: inout SplitMix64) -> TrialSettings {
        var settings = TrialSettings()
        for parameter in Parameter.allCases {
            guard let range = ranges[parameter] else { continue }
            switch range {
            case .logUniform(let low, let high):
                settings.values[parameter.rawValue] = Foundation.exp(Foundation.log(low) + random.nextUnit() * (Foundation.log(high) - Foundation.log(low)))
            case .values(let values):
                settings.values[parameter.rawValue] = values[Int(random.next() % UInt64(values.count))]
            }
        }
        return settings
    }

    /// A point near `settings`, the search's second way of drawing once it has a best trial
    /// (fastText's autotune searches only this way, from its defaults). Each parameter moves
    /// with probability 1/2, and one drawn at random always does: a log-uniform one by a
    /// factor of up to a quarter of its range's span (in log) either way, kept inside it; one
    /// of a list to the entry before or after it (the lists are in order: sizes, rates, two
    /// choices), turning back at the ends. Every parameter takes its two draws whether it
    /// moves or not, so the stream, and a seed's trials, do not depend on which moved.
    public func neighbour(of settings: TrialSettings, _ random: inout SplitMix64) -> TrialSettings {
        let parameters = Parameter.allCases.filter { ranges[$0] != nil }
        // The one that always moves is drawn among those that can: a list of one value (a
        // space file fixing a parameter) cannot, and drawing it made a copy of `settings`.
        let movable = parameters.filter { if case .values(let values)? = ranges[$0] { values.count > 1 } else { true } }
        guard !movable.isEmpty else { return settings }
        let forced = movable[Int(random.next() % UInt64(movable.count))]
        var moved = settings
        for parameter in parameters {
            let (moves, step) = (random.nextUnit() < 0.5, random.nextUnit())
            guard parameter == forced || moves, let range = ranges[parameter], let value = settings.values[parameter.rawValue] else { continue }
            switch range {
            case .logUniform(let low, let high):
                let (bottom, top) = (Foundation.log(low), Foundation.log(high))
                let logValue = Foundation.log(value) + (step * 2 - 1) * (top - bottom) / 4
                // Clamped after exp as well: exp(log(low)) may round below low.
                moved.values[parameter.rawValue] = min(max(Foundation.exp(logValue), low), high)
            case .values(let values):
                guard values.count > 1 else { continue }
                // A value the list no longer holds (a space file narrowed it) starts from the nearest.
                let index = values.indices.min { abs(values[$0] - value) < abs(values[$1] - value) } ?? 0
                let next = step < 0.5 ? index - 1 : index + 1
                moved.values[parameter.rawValue] = values[next < 0 ? 1 : next == values.count ? values.count - 2 : next]
            }
        }
        return moved
    }
}

/// One trial's hyperparameters by name (the space's parameter names).
public struct TrialSettings: Sendable, Hashable, Codable {
    public var values: [String: Double] = [:]
    public init() {}
}

extension PipelineConfig {
    /// This configuration with `settings` applied, training `epochs` epochs: typed edits,
    /// validated by ``TrainingSession`` like any configuration.
    public func applying(_ settings: TrialSettings, epochs: Int) -> PipelineConfig {
        var config = self
        config.training.epochs = epochs
        // The schedule first, so that a drawn learning rate starts whichever schedule runs;
        // the rest in the space's order, never the dictionary's.
        let order = [TuneSpace.Parameter.schedule] + TuneSpace.Parameter.allCases.filter { $0 != .schedule }
        for parameter in order {
            guard let value = settings.values[parameter.rawValue] else { continue }
            switch parameter {
            case .schedule:
                guard value >= 0.5 else { break }
                config.training.optimizer.schedule = .cosineDecay(initial: config.training.optimizer.initialLearningRate,
                                                                  decaySteps: PipelineConfig.Limits.defaultDecaySteps)
                config.training.decayEpochs = epochs
            case .learningRate:
                config.training.optimizer.schedule = config.training.optimizer.schedule.withInitialRate(Float(value))
            case .batchSize: config.loader.batchSize = Int(value)
            case .dim: config.model.layers[0] = .embedding(outputDim: Int(value))
            case .ngrams: config.model.ngrams = Int(value)
            case .buckets: config.model.buckets = Int(value)
            case .weighting: config.model.weighting = value >= 0.5 ? .tfidf : nil
            case .subwords: config.model.subwords = TuneSpace.Parameter.subwordLengths(value)
            case .units:
                config.model.layers = config.model.layers.map { layer in
                    switch layer {
                    case .lstm(_, let sequences, let dropout, let recurrent): .lstm(units: Int(value), returnSequences: sequences, dropout: dropout, recurrentDropout: recurrent)
                    case .gru(_, let sequences): .gru(units: Int(value), returnSequences: sequences)
                    case .bidirectional(.lstm(_, let sequences, let dropout, let recurrent)):
                        .bidirectional(.lstm(units: Int(value), returnSequences: sequences, dropout: dropout, recurrentDropout: recurrent))
                    case .bidirectional(.gru(_, let sequences)): .bidirectional(.gru(units: Int(value), returnSequences: sequences))
                    default: layer
                    }
                }
            case .filters:
                config.model.layers = config.model.layers.map { layer in
                    if case .conv1D(_, let size, let padding, let activation) = layer {
                        return .conv1D(filters: Int(value), kernelSize: size, padding: padding, activation: activation)
                    }
                    return layer
                }
            case .dropout:
                config.model.layers = config.model.layers.map { layer in
                    if case .dropout = layer { return .dropout(rate: Float(value)) }
                    return layer
                }
            case .recurrentLayers:
                config.model.layers = LayerSpec.keepingRecurrentLayers(Int(value), of: config.model.layers)
            case .maxLength: config.loader.maxLength = Int(value)
            }
        }
        return config
    }
}
