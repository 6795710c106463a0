import FolioCore
import FolioCorpus
import FolioNN
import FolioText

extension PipelineConfig {
    /// The ranges of the settings that both the file reader and ``validate()`` check: one
    /// place, so a file and a value made in code obey the same bounds.
    enum Limits {
        /// A decaying schedule's length when the file gives none (and the placeholder that
        /// `decay_epochs` replaces once the steps per epoch are known).
        static let defaultDecaySteps = 1000
        static let threads = 1...256
        static let batchSize = 1...(1 << 20)
        static let maxLength = 1...(1 << 24)
        static let ngrams = 1...8
        static let buckets = 1...(1 << 28)
        static let validationSplit = 0.0...0.9
        static let validationSeed = 0...Int.max
        static let epochs = 1...100_000
        static let accumulationSteps = 1...(1 << 16)
        /// `checkpoint_seconds`: 0 in a file means every checkpoint (nil in the value).
        static let checkpointSeconds = 0.0...1e9
    }

    /// A pipeline's name: it names `runs/<name>`, so letters, digits, '-', '_' and '.' only,
    /// not starting with '.'.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) && !name.hasPrefix(".")
    }
    static let nameRule = "every pipeline needs a name of letters, digits, '-', '_' or '.' (it names runs/<name>)"

    /// Keys of `[training]` that only some optimizers read, and which.
    static let optimizerOptions: [(key: String, kinds: Set<OptimizerSpec.Kind>)] = [
        ("momentum", [.sgd, .rmsprop]), ("nesterov", [.sgd]), ("rho", [.rmsprop]), ("centered", [.rmsprop]),
        ("beta_1", [.adam, .adamw]), ("beta_2", [.adam, .adamw]), ("amsgrad", [.adam, .adamw]),
        ("epsilon", [.rmsprop, .adam, .adamw]), ("weight_decay", [.adamw]),
        ("clipnorm", [.sgd, .rmsprop, .adam, .adamw]), ("clipvalue", [.sgd, .rmsprop, .adam, .adamw]),
        ("global_clipnorm", [.sgd, .rmsprop, .adam, .adamw]),
    ]

    /// Optimizers whose updates can be lazy (only the embedding rows a step touched).
    static let lazyOptimizers: Set<OptimizerSpec.Kind> = [.sgd, .adam, .adamw]

    /// Checks the configuration as a value: ranges, and the rules that tie settings together
    /// (a monitored validation metric needs validation data; an option of another optimizer,
    /// or lazy updates with an optimizer that updates every row, would be silently ignored).
    /// A configuration read from a file was checked when it was read, with each error's line;
    /// one made or changed in code is checked here, errors naming the key
    /// (`key training.momentum: ...`). ``TrainingSession`` calls it before building anything.
    public func validate() throws(FolioError) {
        if let problem = firstProblem() { throw FolioError(problem.message, place: "key \(problem.key)") }
    }

    /// The configuration with its classifier sized for `labels` labels: the last Dense
    /// layer's units set when ``ModelConfig/outputSizedByLabels``, otherwise checked against
    /// the count (a mismatch would fail only when training reached a label past the units).
    public func sizingOutput(labels: Int) throws(FolioError) -> PipelineConfig {
        if let problem = outputSizeProblem(labels: labels) { throw FolioError(problem.message, place: "key \(problem.key)") }
        guard model.outputSizedByLabels == true, let last = model.layers.lastIndex(where: { if case .dense = $0 { true } else { false } }),
              case .dense(_, let activation) = model.layers[last] else { return self }
        var sized = self
        sized.model.layers[last] = .dense(units: labels, activation: activation)
        return sized
    }

    /// A stated output size that is not the label count, as its key and what is wrong.
    func outputSizeProblem(labels: Int) -> (key: String, message: String)? {
        guard model.outputSizedByLabels != true, let last = model.layers.lastIndex(where: { if case .dense = $0 { true } else { false } }),
              case .dense(let units, _) = model.layers[last], units != labels else { return nil }
        return ("model.layers[\(last)].units",
                "the classifier has \(units) units but the training split has \(labels) labels: leave units out (or write \"labels\") to size it by the data")
    }

    /// The first broken rule, as the key it concerns and what is wrong.
    private func outside(_ key: String, _ value: Int, _ range: ClosedRange<Int>) -> (key: String, message: String)? {
        range.contains(value) ? nil : (key, "must be in \(range.lowerBound)...\(range.upperBound), not \(value)")
    }

    func firstProblem() -> (key: String, message: String)? {
        if !Self.isValidName(name) { return ("name", Self.nameRule) }
        if corpus.path.isEmpty { return ("corpus.path", "the corpus needs a path") }
        if let problem = outside("threads", threads, Limits.threads) ?? outside("loader.batch_size", loader.batchSize, Limits.batchSize)
            ?? outside("loader.max_length", loader.maxLength, Limits.maxLength)
            ?? evaluation.batchSize.flatMap({ outside("evaluation.batch_size", $0, Limits.batchSize) }) {
            return problem
        }
        guard case .embedding = model.layers.first else { return ("model.layers", "the model needs [[model.layers]] entries, the first an embedding") }
        if let problem = outside("model.ngrams", model.ngrams, Limits.ngrams) ?? outside("model.buckets", model.buckets, Limits.buckets) {
            return problem
        }
        if model.weighting != nil && Sequential.weightedPoolingIndex(model.layers) == nil {
            return ("model.weighting", "TF-IDF weighting needs \(Sequential.weightedPoolingRule)")
        }
        if let subwords = model.subwords, !subwords.hasValidLengths {
            return ("model.minn", "character n-gram lengths need 1 <= minn <= maxn <= \(SubwordHashing.longest), not \(subwords.minLength) and \(subwords.maxLength)")
        }
        return trainingProblem()
    }

    private func trainingProblem() -> (key: String, message: String)? {
        let (training, optimizer) = (self.training, self.training.optimizer)
        if let problem = outside("training.epochs", training.epochs, Limits.epochs)
            ?? outside("training.accumulation_steps", training.accumulationSteps, Limits.accumulationSteps)
            ?? training.validationSeed.flatMap({ outside("training.validation_seed", $0, Limits.validationSeed) }) {
            return problem
        }
        if !Limits.validationSplit.contains(training.validationSplit) { return ("training.validation_split", "must be in 0...0.9, not \(training.validationSplit)") }
        if let seconds = training.checkpointSeconds, !(seconds > 0 && Limits.checkpointSeconds.contains(seconds)) {
            return ("training.checkpoint_seconds", "must be above 0 and at most 1e9 (nil: a checkpoint at every epoch's end), not \(seconds)")
        }
        if training.validationByGroup == true && corpus.options.groupKey == nil && isJSONLPath(corpus.path) {
            return ("training.validation_by", "\"group\" on a JSONL corpus needs [corpus] group_key, the key that names a line's group")
        }
        let monitored = [training.earlyStopping?.monitor, training.reduceLROnPlateau?.monitor, training.checkpointMonitor].compactMap { $0 }
        if training.validationSplit == 0, let monitor = monitored.first(where: { $0.hasPrefix("val_") }) {
            return ("training.validation_split", "'\(monitor)' is monitored but there is no validation data: set validation_split above 0")
        }
        if !(optimizer.initialLearningRate > 0) { return ("training.learning_rate", "must be above 0") }
        if training.lazyEmbeddingUpdates && !Self.lazyOptimizers.contains(optimizer.kind) {
            return ("training.lazy_embedding_updates", "\(optimizer.kind.rawValue) updates every row; lazy updates apply to sgd, adam and adamw")
        }
        let usual = OptimizerSpec(kind: optimizer.kind)
        let given: [(String, Bool)] = [
            ("momentum", optimizer.momentum != usual.momentum), ("nesterov", optimizer.nesterov != usual.nesterov),
            ("rho", optimizer.rho != usual.rho), ("centered", optimizer.centered != usual.centered),
            ("beta_1", optimizer.beta1 != usual.beta1), ("beta_2", optimizer.beta2 != usual.beta2),
            ("amsgrad", optimizer.amsgrad != usual.amsgrad), ("epsilon", optimizer.epsilon != usual.epsilon),
            ("weight_decay", optimizer.weightDecay != usual.weightDecay), ("clipnorm", optimizer.clipping.norm != nil),
            ("clipvalue", optimizer.clipping.value != nil), ("global_clipnorm", optimizer.clipping.globalNorm != nil),
        ]
        for (key, isSet) in given where isSet {
            if let rule = Self.optimizerOptions.first(where: { $0.key == key }), !rule.kinds.contains(optimizer.kind) {
                return ("training.\(key)", Self.notRead(key, by: optimizer.kind, rule.kinds))
            }
        }
        if optimizer.kind == .rprop && optimizer.schedule != .constant(optimizer.initialLearningRate) {
            return ("training.schedule", "rprop adapts its own step sizes and takes no schedule")
        }
        return nil
    }

    static func notRead(_ key: String, by kind: OptimizerSpec.Kind, _ kinds: Set<OptimizerSpec.Kind>) -> String {
        "\(kind.rawValue) does not read \(key) (\(kinds.map(\.rawValue).sorted().joined(separator: ", ")) do)"
    }
}
