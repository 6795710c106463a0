import FolioCore
import FolioNN
import FolioText
import Foundation

extension PipelineConfig {
    /// The configuration as a pipeline file that ``read(path:overrides:)`` reads back to the
    /// same value: what `folio train` writes beside the model it trains, so the run can be
    /// repeated, changed and swept with `folio run` and `folio sweep`. Settings at their
    /// defaults are written too, so the file says everything the run used.
    public func toml() throws(FolioError) -> String {
        var lines = ["# Written by folio; `folio run` reads it.", "name = \(quoted(name))", "seed = \(seed)", "threads = \(threads)", ""]
        lines += ["[corpus]", "path = \(quoted(corpus.path))"]
        if let split = corpus.trainSplit { lines.append("train_split = \(quoted(split))") }
        if let split = corpus.testSplit { lines.append("test_split = \(quoted(split))") }
        lines += ["text_key = \(quoted(corpus.options.textKey))", "label_key = \(quoted(corpus.options.labelKey))",
                  "split_key = \(quoted(corpus.options.splitKey))"]
        if let key = corpus.options.groupKey { lines.append("group_key = \(quoted(key))") }
        lines.append("")
        lines += ["[tokenizer]", "normalization = \(quoted(tokenizer.normalization.rawValue))", "numbers = \(quoted(tokenizer.numbers.rawValue))",
                  "max_token_length = \(tokenizer.maxTokenLength)", ""]
        lines.append("[vocabulary]")
        if let maxTokens = vocabulary.options.maxTokens { lines.append("max_tokens = \(maxTokens)") }
        lines += ["min_count = \(vocabulary.options.minCount)", "memory = \(vocabulary.memory)", ""]
        lines += ["[shards]", "shard_size = \(shardBytes)", ""]
        lines += ["[loader]", "batch_size = \(loader.batchSize)", "max_length = \(loader.maxLength)", "bucketing = \(loader.bucketing)",
                  "padding = \(quoted(loader.padding == .longest ? "longest" : "max_length"))", "memory = \(loader.memoryBudget)",
                  "prefetch = \(loader.prefetch)", ""]
        lines += ["[model]", "ngrams = \(model.ngrams)", "buckets = \(model.buckets)", "weighting = \(quoted(model.weighting?.rawValue ?? "none"))"]
        if let subwords = model.subwords { lines += ["minn = \(subwords.minLength)", "maxn = \(subwords.maxLength)"] }
        let lastDense = model.layers.lastIndex { if case .dense = $0 { true } else { false } }
        for (index, layer) in model.layers.enumerated() {
            var keys = Self.tomlKeys(of: layer)
            if index == lastDense, model.outputSizedByLabels == true, let units = keys.firstIndex(where: { $0.key == "units" }) {
                keys[units].value = "\"labels\""
            }
            lines += ["", "[[model.layers]]"] + keys.map { "\($0.key) = \($0.value)" }
            if index == 0, let pretrained = model.pretrained {
                lines += ["weights = \(quoted(pretrained.path))", "trainable = \(pretrained.trainable)"]
            }
            if index == 0, let embed { lines.append("trainable = \(embed.embeddingTrainable)") }
        }
        if let embed {
            let options = embed.word2vec
            lines += ["", "[embed]", "model = \(quoted(options.model.rawValue))", "window = \(options.window)", "negative = \(options.negative)",
                      "epochs = \(options.epochs)", "min_count = \(options.minCount)", "subsample = \(options.subsample)"]
            if let rate = options.learningRate { lines.append("learning_rate = \(rate)") }
            lines.append("corpora = [\(embed.corpora.map(quoted).joined(separator: ", "))]")
        }
        lines += [""] + (try trainingTOML()) + ["", "[evaluation]"]
        if let size = evaluation.batchSize { lines.append("batch_size = \(size)") }
        lines.append("top_k = \(evaluation.topK)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The configuration with every file path absolute (relative ones are taken from
    /// `folder`): for a pipeline file written somewhere else than the one it was read from
    /// (a sweep's runs, a tune's `tuned.toml`), whose relative paths would then point elsewhere.
    public func withAbsolutePaths(from folder: String = FileManager.default.currentDirectoryPath) -> PipelineConfig {
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : folder + "/" + path }
        var config = self
        config.corpus.path = absolute(corpus.path)
        if let path = model.pretrained?.path { config.model.pretrained?.path = absolute(path) }
        if let corpora = embed?.corpora { config.embed?.corpora = corpora.map(absolute) }
        return config
    }

    private func trainingTOML() throws(FolioError) -> [String] {
        let (training, optimizer) = (self.training, self.training.optimizer)
        var lines = ["[training]", "epochs = \(training.epochs)", "accumulation_steps = \(training.accumulationSteps)",
                     "validation_split = \(training.validationSplit)",
                     "validation_by = \(quoted(training.validationByGroup == true ? "group" : "document"))", "checkpoint_every = \(training.checkpointEvery)",
                     "class_weight = \(quoted(training.balancedClassWeight ? "balanced" : "none"))",
                     "lazy_embedding_updates = \(training.lazyEmbeddingUpdates)", "optimizer = \(quoted(optimizer.kind.rawValue))",
                     "learning_rate = \(optimizer.initialLearningRate)"]
        lines.append("split_embedding_rows = \(training.keepsEmbeddingRowsWhole != true)")
        if let seed = training.validationSeed { lines.append("validation_seed = \(seed)") }
        if let seconds = training.checkpointSeconds { lines.append("checkpoint_seconds = \(seconds)") }
        if let samples = training.maxSamples { lines.append("max_samples = \(samples)") }
        if let seconds = training.maxSeconds { lines.append("max_seconds = \(seconds)") }
        switch optimizer.schedule {
        case .constant: break
        case .exponentialDecay(_, let steps, let rate, let staircase):
            lines += ["schedule = \"exponential\"", "decay_rate = \(rate)", "staircase = \(staircase)"]
            if training.decayEpochs == nil { lines.append("decay_steps = \(steps)") }
        case .cosineDecay(_, let steps, let alpha, let target, let warmup):
            lines += ["schedule = \"cosine\"", "alpha = \(alpha)", "warmup_steps = \(warmup)"]
            if let target { lines.append("warmup_target = \(target)") }
            if training.decayEpochs == nil { lines.append("decay_steps = \(steps)") }
        case .piecewiseConstant(let boundaries, let values):
            lines += ["schedule = \"piecewise\"", "boundaries = [\(boundaries.map(String.init).joined(separator: ", "))]",
                      "values = [\(values.map { "\($0)" }.joined(separator: ", "))]"]
        case .inverseTimeDecay:
            throw FolioError("an inverse-time schedule has no pipeline-file form", place: "key training.schedule")
        }
        if let epochs = training.decayEpochs { lines.append("decay_epochs = \(epochs)") }
        // Only the options this optimizer reads: the others are refused (validate()).
        let values: [String: String] = [
            "momentum": "\(optimizer.momentum)", "nesterov": "\(optimizer.nesterov)", "rho": "\(optimizer.rho)", "centered": "\(optimizer.centered)",
            "beta_1": "\(optimizer.beta1)", "beta_2": "\(optimizer.beta2)", "amsgrad": "\(optimizer.amsgrad)", "epsilon": "\(optimizer.epsilon)",
            "weight_decay": "\(optimizer.weightDecay)",
        ]
        for (key, kinds) in Self.optimizerOptions where kinds.contains(optimizer.kind) {
            if let value = values[key] { lines.append("\(key) = \(value)") }
        }
        if let norm = optimizer.clipping.norm { lines.append("clipnorm = \(norm)") }
        if let value = optimizer.clipping.value { lines.append("clipvalue = \(value)") }
        if let norm = optimizer.clipping.globalNorm { lines.append("global_clipnorm = \(norm)") }
        if let stopping = training.earlyStopping {
            lines += ["", "[training.early_stopping]", "monitor = \(quoted(stopping.monitor))", "patience = \(stopping.patience)",
                      "min_delta = \(stopping.minDelta)", "restore_best_weights = \(stopping.restoreBestWeights)"]
        }
        if let plateau = training.reduceLROnPlateau {
            lines += ["", "[training.reduce_lr_on_plateau]", "monitor = \(quoted(plateau.monitor))", "factor = \(plateau.factor)",
                      "patience = \(plateau.patience)", "min_delta = \(plateau.minDelta)", "cooldown = \(plateau.cooldown)",
                      "min_lr = \(plateau.minLearningRate)"]
        }
        if let monitor = training.checkpointMonitor {
            lines += ["", "[training.model_checkpoint]", "monitor = \(quoted(monitor))", "save_best_only = \(training.checkpointSavesBestOnly)"]
        }
        return lines
    }

    /// A layer's keys as `[[model.layers]]` writes them (values as TOML), from the layer's
    /// own statement of its arguments (``LayerSpec/call``).
    static func tomlKeys(of layer: LayerSpec) -> [(key: String, value: String)] {
        let call = layer.call
        return [("type", quoted(call.type))] + call.arguments.map { argument in
            switch argument.value {
            case .name(let name): (argument.key, quoted(name))
            case .layer(let inner): (argument.key, "{ " + tomlKeys(of: inner).map { "\($0.key) = \($0.value)" }.joined(separator: ", ") + " }")
            case .int, .float, .bool: (argument.key, argument.value.description)
            }
        }
    }
}

/// A TOML basic string.
private func quoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F { out += String(format: "\\u%04X", scalar.value) } else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}
