import FolioCore
import FolioCorpus
import FolioNN
import FolioShards
import FolioText
import Foundation

/// What a finished `folio run` reports.
public struct PipelineResult: Codable, Sendable {
    public var name: String
    public var runDir: String
    public var accuracy: Double
    public var macroF1: Double
    public var testLoss: Double
    public var topK: Double?
    public var testExamples: Int
    /// `test` (the corpus's test split) or `validation` (the held-out part, when the corpus
    /// has no test split).
    public var evaluatedOn: String
    public var epochsRun: Int
    public var stagesRun: [String]
    public var stagesSkipped: [String]
    public var seconds: Double
    /// Peak resident memory of the process so far (MiB).
    public var peakRSSMegabytes: Double
    /// The last epoch's validation figures (nil without a validation split).
    public var valAccuracy: Double?
    public var valLoss: Double?

    enum CodingKeys: String, CodingKey {
        case name, accuracy, seconds
        case runDir = "run_dir", macroF1 = "macro_f1", testLoss = "test_loss", topK = "top_k", testExamples = "test_examples"
        case evaluatedOn = "evaluated_on", epochsRun = "epochs_run", stagesRun = "stages_run", stagesSkipped = "stages_skipped"
        case peakRSSMegabytes = "peak_rss_mb", valAccuracy = "val_accuracy", valLoss = "val_loss"
        // Where the evaluation ran on the held-out validation part (no test split): its
        // loss and size are never written under the test keys.
        case heldOutLoss = "validation_loss", heldOutExamples = "validation_examples"
    }
}

extension PipelineResult {
    /// True when ``accuracy`` and the other evaluation figures are the test split's.
    public var isTestEvaluation: Bool { evaluatedOn == "test" }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(runDir, forKey: .runDir)
        try container.encode(accuracy, forKey: .accuracy)
        try container.encode(macroF1, forKey: .macroF1)
        try container.encode(testLoss, forKey: isTestEvaluation ? .testLoss : .heldOutLoss)
        try container.encodeIfPresent(topK, forKey: .topK)
        try container.encode(testExamples, forKey: isTestEvaluation ? .testExamples : .heldOutExamples)
        try container.encode(evaluatedOn, forKey: .evaluatedOn)
        try container.encode(epochsRun, forKey: .epochsRun)
        try container.encode(stagesRun, forKey: .stagesRun)
        try container.encode(stagesSkipped, forKey: .stagesSkipped)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(peakRSSMegabytes, forKey: .peakRSSMegabytes)
        try container.encodeIfPresent(valAccuracy, forKey: .valAccuracy)
        try container.encodeIfPresent(valLoss, forKey: .valLoss)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        runDir = try container.decode(String.self, forKey: .runDir)
        accuracy = try container.decode(Double.self, forKey: .accuracy)
        macroF1 = try container.decode(Double.self, forKey: .macroF1)
        evaluatedOn = try container.decode(String.self, forKey: .evaluatedOn)
        let test = evaluatedOn == "test"
        testLoss = try container.decode(Double.self, forKey: test ? .testLoss : .heldOutLoss)
        topK = try container.decodeIfPresent(Double.self, forKey: .topK)
        testExamples = try container.decode(Int.self, forKey: test ? .testExamples : .heldOutExamples)
        epochsRun = try container.decode(Int.self, forKey: .epochsRun)
        stagesRun = try container.decode([String].self, forKey: .stagesRun)
        stagesSkipped = try container.decode([String].self, forKey: .stagesSkipped)
        seconds = try container.decode(Double.self, forKey: .seconds)
        peakRSSMegabytes = try container.decode(Double.self, forKey: .peakRSSMegabytes)
        valAccuracy = try container.decodeIfPresent(Double.self, forKey: .valAccuracy)
        valLoss = try container.decodeIfPresent(Double.self, forKey: .valLoss)
    }
}

/// Runs a pipeline's stages into its run directory, skipping each stage whose inputs and
/// settings have the fingerprint recorded when it last completed:
///
/// | stage | writes | fingerprint of |
/// |---|---|---|
/// | vocabulary | `vocabulary.tsv` | corpus files (path, size, mtime), tokenizer, vocabulary settings |
/// | shards | `shards/train`, `shards/test` | corpus files, tokenizer, vocabulary file, shard size |
/// | embed (with `[embed]`) | `vectors.safetensors`, `vectors.vec`, `shards/unlabeled-N` | training shards, vocabulary, unlabeled corpora files, word2vec settings, seed, threads |
/// | train | `checkpoints/`, `model/`, `metrics.jsonl` | shard manifests, model, loader, training, seed, pretrained vectors file (size, mtime) |
/// | evaluate | `evaluation.json` | the trained weights, test shards, evaluation settings |
/// | report | `report.md`, `*.svg` | (always written) |
///
/// A train stage whose fingerprint matches an unfinished checkpoint resumes from it, so a
/// killed `folio run` is continued by running it again. A run directory made by another
/// pipeline (another name) is refused rather than reused.
public final class PipelineRunner {
    public struct Events {
        public var stage: (String, _ skipped: Bool) -> Void = { _, _ in }
        public var job: (JobProgress) -> Void = { _ in }
        public var jobEnded: () -> Void = {}
        public var training: (TrainingProgress) -> Void = { _ in }
        public var epoch: (EpochLogs) -> Void = { _ in }
        public var warning: @Sendable (String) -> Void = { _ in }
        /// A line worth showing that is not a warning (how many tokens pretrained vectors covered).
        public var note: (String) -> Void = { _ in }
        public var embedding: (EmbedProgress) -> Void = { _ in }
        public init() {}
    }

    public let config: PipelineConfig
    public let runDir: String
    public var events = Events()
    /// Tests: stop training (as if killed) after this many micro-batches.
    public var stopTrainingAfter: Int?
    /// Honoured by the training stage at optimizer-step boundaries (SIGINT, SIGTERM).
    public var stopRequest: StopRequest?
    /// The pipeline file the configuration was read from, if any: errors found once the
    /// data is known (a classifier of the wrong size) then name its line.
    public var pipelineFile: String?
    /// The ranks of a distributed run (`mpirun -np N folio run`): every rank runs the
    /// stages together (vocabulary, shards, training and evaluation in parts; the `[embed]`
    /// stage on rank 0 while the others wait), rank 0 alone writes the run's files.
    public var communicator: any Communicator = SingleProcess()
    /// The shards keep unknown words' text (``ShardJobOptions/keepUnknownText``): always for
    /// a model with subwords; a tuner whose trials may add them sets it for all.
    public var keepsUnknownText: Bool

    public init(config: PipelineConfig, runDir: String? = nil) {
        self.config = config
        self.runDir = runDir ?? "runs/" + config.name
        keepsUnknownText = config.model.subwords != nil
    }

    var vocabularyPath: String { runDir + "/vocabulary.tsv" }
    var trainShards: String { runDir + "/shards/train" }
    var testShards: String { runDir + "/shards/test" }
    /// The documents `training.validation_split` holds out (``Holdout/keeps(_:corpusPath:)``).
    var validationShards: String { runDir + "/shards/validation" }
    /// The training side of the validation holdout (nil: no validation split).
    var trainingDocuments: Holdout? {
        config.training.validationSplit > 0
            ? Holdout.documents(fraction: config.training.validationSplit, keepsHeldOut: false, byGroup: config.training.validationByGroup == true,
                                seed: config.training.validationSeed) : nil
    }
    var checkpointFolder: String { runDir + "/checkpoints" }
    /// The `[embed]` stage's vectors (and `vectors.vec` beside).
    var vectorsPath: String { runDir + "/vectors.safetensors" }
    var modelFolder: String { runDir + "/model" }
    var stagesFile: String { runDir + "/stages.json" }

    /// The runner's record of completed stages.
    struct StageRecord: Codable {
        var pipeline: String
        var fingerprints: [String: String] = [:]
    }

    private var record = StageRecord(pipeline: "")
    private var ran: [String] = []
    private var skipped: [String] = []

    /// Runs `body` unless the stage's fingerprint and outputs are those of its last completion.
    private func stage(_ name: String, fingerprint: String, outputs: [String], _ body: () throws(FolioError) -> Void) throws(FolioError) {
        let recorded = record.fingerprints[name]
        let done = try communicator.onWriter { () throws(FolioError) in
            recorded == fingerprint && outputs.allSatisfy { FileManager.default.fileExists(atPath: $0) }
        }
        if done {
            skipped.append(name)
            events.stage(name, true)
            return
        }
        events.stage(name, false)
        record.fingerprints[name] = nil
        try writeRecord(record)
        try body()
        record.fingerprints[name] = fingerprint
        try writeRecord(record)
        ran.append(name)
    }

    /// The data stages alone (vocabulary and shards), e.g. once for many training runs;
    /// returns the vocabulary.
    /// With `includingTest` false the test split is not read at all (a tuner's search).
    @discardableResult
    public func prepareData(includingTest: Bool = true) throws(FolioError) -> Vocabulary {
        try refuseAnotherPipeline()
        try makeFolder(runDir)
        record = try communicator.onWriter { () throws(FolioError) in try readRecord() }
        let testSplit = includingTest ? resolvedTestSplit() : nil
        let corpusPrint = try corpusFingerprint()
        let textSettings = config.canonicalJSON([config.tokenizer.normalization.rawValue, config.tokenizer.numbers.rawValue,
                                                 String(config.tokenizer.maxTokenLength)])
        let holdout = trainingDocuments
        let holdoutPrint = holdout.map { config.canonicalJSON($0) } ?? []
        let vocabularyPrint = fingerprint(corpusPrint, textSettings, config.canonicalJSON(config.vocabulary), config.corpus.trainSplit ?? "", holdoutPrint)
        // The labels the vocabulary job saw, when it ran: the shard job then skips its label pass.
        var corpusLabels: [String]?
        try stage("vocabulary", fingerprint: vocabularyPrint, outputs: [vocabularyPath]) { () throws(FolioError) in
            var options = VocabularyJobOptions()
            options.corpus = corpusOptions(split: config.corpus.trainSplit)
            options.tokenizer = config.tokenizer
            options.vocabulary = config.vocabulary.options
            options.memoryBudget = config.vocabulary.memory
            options.threads = config.threads
            options.documents = holdout
            corpusLabels = try VocabularyJob.run(corpusPath: config.corpus.path, outputPath: vocabularyPath, options: options,
                                                 communicator: communicator, onWarning: events.warning, onProgress: events.job).corpusLabels
            events.jobEnded()
        }
        let vocabulary = try Vocabulary(contentsOf: vocabularyPath)
        // Shards without unknown text fingerprint as they always did.
        let shardsPrint = fingerprint(corpusPrint, textSettings, vocabulary.fingerprint, String(config.shardBytes),
                                      config.corpus.trainSplit ?? "", testSplit ?? "", holdoutPrint, keepsUnknownText ? ["unknown text"] : [])
        try stage("shards", fingerprint: shardsPrint, outputs: [trainShards + "/manifest.json"]
                  + (holdout == nil ? [] : [validationShards + "/manifest.json"])
                  + (testSplit == nil ? [] : [testShards + "/manifest.json"])) { () throws(FolioError) in
            try makeFolder(runDir + "/shards")
            var options = shardOptions(corpusOptions(split: config.corpus.trainSplit))
            options.documents = holdout
            options.corpusLabels = corpusLabels
            let report = try ShardJob.run(corpusPath: config.corpus.path, vocabularyPath: vocabularyPath, outputFolder: trainShards,
                                          options: options, communicator: communicator, onWarning: events.warning, onProgress: events.job)
            events.jobEnded()
            if var validation = holdout {
                validation.yieldsHeldOut = true
                options.documents = validation
                options.labels = report.labels
                let held = try ShardJob.run(corpusPath: config.corpus.path, vocabularyPath: vocabularyPath, outputFolder: validationShards,
                                            options: options, communicator: communicator, onWarning: events.warning, onProgress: events.job)
                events.jobEnded()
                guard held.records > 0 else {
                    throw FolioError("training.validation_split \(config.training.validationSplit) holds out none of the \(report.records) training documents: raise it, or set it to 0",
                                     file: pipelineFile)
                }
            }
            options.documents = nil
            if let testSplit {
                options.corpus = corpusOptions(split: testSplit)
                options.labels = report.labels
                _ = try ShardJob.run(corpusPath: config.corpus.path, vocabularyPath: vocabularyPath, outputFolder: testShards,
                                     options: options, communicator: communicator, onWarning: events.warning, onProgress: events.job)
                events.jobEnded()
            }
        }
        return vocabulary
    }

    /// Every rank must run the same pipeline: a rank whose file says something else (a
    /// node with another copy of it) is refused before any stage runs.
    private func refuseAnotherPipeline() throws(FolioError) {
        guard communicator.isDistributed else { return }
        let prints = try communicator.allGather(FNV1a64.hash(config.canonicalJSON(config)).fingerprint)
        if let rank = prints.indices.first(where: { prints[$0] != prints[0] }) {
            throw FolioError("rank \(rank) read another pipeline than rank 0 (\(prints[rank]) against \(prints[0])): every rank must see the same file",
                             file: pipelineFile)
        }
    }

    /// Makes this run directory use another's finished data stages (symbolic links): a sweep
    /// prepares the data once for all its runs.
    public func adoptData(from other: String) throws(FolioError) {
        try makeFolder(runDir)
        record = try readRecord()
        let source: StageRecord
        do { source = try readJSON(StageRecord.self, from: other + "/stages.json", what: "stage record") } catch {
            throw FolioError("no finished data stages to adopt: \(error)", file: other)
        }
        let target = other.hasPrefix("/") ? other : FileManager.default.currentDirectoryPath + "/" + other
        for relative in ["vocabulary.tsv", "shards"] {
            try? FileManager.default.removeItem(atPath: runDir + "/" + relative)
            do { try FileManager.default.createSymbolicLink(atPath: runDir + "/" + relative, withDestinationPath: target + "/" + relative) } catch {
                throw FolioError("cannot link \(relative): \(error.localizedDescription)", file: runDir)
            }
        }
        for name in ["vocabulary", "shards"] { record.fingerprints[name] = source.fingerprints[name] }
        try writeRecord(record)
    }

    public func run() throws(FolioError) -> PipelineResult {
        try runEvaluation(try runTraining())
    }

    /// What a run's data and training stages leave for its evaluation: a caller may look at
    /// the training (a tuner checking its refit) before the test split is read.
    public struct TrainedRun {
        /// Every epoch's figures.
        public let history: [EpochLogs]
        let train: ShardSet
        let validation: ShardSet?
        let testSplit: String?
        let started: ContinuousClock.Instant
    }

    /// The stages up to the trained model: data, then training (each skipped when unchanged).
    public func runTraining() throws(FolioError) -> TrainedRun {
        let started = ContinuousClock().now
        ran = []
        skipped = []
        let vocabulary = try prepareData()
        let testSplit = resolvedTestSplit()
        let train = try ShardSet(folder: trainShards)
        try train.checkVocabulary(fingerprint: vocabulary.fingerprint, path: vocabularyPath)
        let validation = try validationSet(vocabulary)
        let trainingConfig = try embedVectors(try sizedForLabels(train.manifest.labels.count), vocabulary: vocabulary)
        // Pretrained vectors count by their file's size and time, as the corpus does.
        let vectorsStamp = trainingConfig.model.pretrained.flatMap { regularFileStamp($0.path) }.map { "\($0.size)\t\($0.modified)" } ?? ""
        let validationPrint = validation == nil ? "" : try manifestFingerprint(validationShards)
        let trainingPrint = fingerprint(try manifestFingerprint(trainShards), validationPrint,
                                        config.canonicalJSON(config.model), config.canonicalJSON(config.loader),
                                        config.canonicalJSON(config.training), String(config.seed), vectorsStamp,
                                        config.embed.map { config.canonicalJSON($0) } ?? "",
                                        // Another rank count is another virtual batch: it trains anew (one process keeps its old prints).
                                        communicator.isDistributed ? "ranks \(communicator.size)" : "")
        var history: [EpochLogs] = []
        try stage("train", fingerprint: trainingPrint, outputs: [modelFolder + "/" + ModelBundle.descriptionFile]) { () throws(FolioError) in
            history = try trainModel(trainingConfig, train: train, validation: validation, vocabulary: vocabulary, fingerprint: trainingPrint)
        }
        if history.isEmpty, let checkpoint = try Checkpoint.read(folder: checkpointFolder) { history = checkpoint.history }
        return TrainedRun(history: history, train: train, validation: validation, testSplit: testSplit, started: started)
    }

    /// The trained model evaluated (on the test split; without one, on the validation
    /// documents) and the run's report.
    public func runEvaluation(_ trained: TrainedRun) throws(FolioError) -> PipelineResult {
        let (history, train, validation, testSplit) = (trained.history, trained.train, trained.validation, trained.testSplit)
        let (bundle, model, _) = try ModelBundle.load(from: modelFolder, trainable: false)
        model.network.threads = config.threads
        // Without a test split the run is evaluated on its validation documents.
        let evaluationSet = try testSplit.map { _ throws(FolioError) in try ShardSet(folder: testShards) } ?? validation ?? train
        // Streamed in 1 MiB pieces: a hashed-n-gram model's file is tens of megabytes.
        let weightsPrint = String(try CRC32C.checksum(ofFile: modelFolder + "/" + ModelBundle.weightsFile))
        let evaluationPrint = fingerprint(weightsPrint, try manifestFingerprint(evaluationSet.folder), config.canonicalJSON(config.evaluation),
                                          testSplit == nil ? config.canonicalJSON(config.training.validationSplit) : [])
        var evaluation: EvaluationResult?
        try stage("evaluate", fingerprint: evaluationPrint, outputs: [runDir + "/evaluation.json"]) { () throws(FolioError) in
            var options = LoaderOptions(batchSize: config.evaluationBatchSize, maxLength: config.loader.maxLength, shuffle: false,
                                        memoryBudget: config.loader.memoryBudget)
            // Neither a test split nor validation documents: nothing is held out, nothing evaluated.
            if testSplit == nil && validation == nil { options.holdout = Holdout(fraction: 0, seed: config.seed, yieldsHeldOut: true) }
            (options.rank, options.worldSize) = (communicator.rank, communicator.size)
            let loader = try ShardLoader(shards: evaluationSet, options: options)
            let result = try model.evaluate(loader, classes: bundle.labels.count, topK: min(config.evaluation.topK, bundle.labels.count),
                                            communicator: communicator)
            if communicator.isWriter { try writeJSON(result, to: runDir + "/evaluation.json") }
            evaluation = result
        }
        let result: EvaluationResult
        if let evaluation { result = evaluation } else { result = try readJSON(EvaluationResult.self, from: runDir + "/evaluation.json", what: "evaluation") }
        if communicator.isWriter {
            // The report shows the classifier as trained: sized by the labels where the file left it out.
            try RunReport(config: try config.sizingOutput(labels: bundle.labels.count), labels: bundle.labels, history: history, evaluation: result,
                          evaluatedOn: testSplit == nil ? "validation" : "test", train: train.manifest).write(to: runDir)
        }
        return PipelineResult(
            name: config.name, runDir: runDir, accuracy: result.accuracy, macroF1: result.report?.macroF1 ?? 0, testLoss: result.loss,
            topK: result.topK, testExamples: result.examples, evaluatedOn: testSplit == nil ? "validation" : "test",
            epochsRun: history.count, stagesRun: ran, stagesSkipped: skipped, seconds: (ContinuousClock().now - trained.started).seconds,
            peakRSSMegabytes: peakResidentMegabytes(), valAccuracy: history.last?.valAccuracy, valLoss: history.last?.valLoss)
    }

    /// Builds the model and trains it (``TrainingSession``), resuming a checkpoint made by
    /// the same settings, and writes the model bundle.
    private func trainModel(
        _ config: PipelineConfig, train: ShardSet, validation: ShardSet?, vocabulary: Vocabulary, fingerprint: String
    ) throws(FolioError) -> [EpochLogs] {
        // A checkpoint made with other settings must not be continued.
        let ownerFile = checkpointFolder + "/fingerprint"
        let checkpointFolder = checkpointFolder
        let resume = try communicator.onWriter { () throws(FolioError) in
            let resume = (try? readWholeFile(ownerFile)).map { String(decoding: $0, as: UTF8.self) } == fingerprint
            if !resume {
                try? FileManager.default.removeItem(atPath: checkpointFolder)
                try makeFolder(checkpointFolder)
                let owner = try AtomicFile(path: ownerFile)
                try owner.write(fingerprint)
                try owner.commit()
            }
            return resume
        }
        let session = try TrainingSession(config: config, train: train, validation: validation, vocabularySize: vocabulary.count, checkpoints: checkpointFolder,
                                          metrics: runDir, stopRequest: stopRequest, tokens: vocabulary.tokens, communicator: communicator)
        if let match = session.pretrainedMatch { events.note(match.description) }
        let trainer = session.trainer
        trainer.stopAfterMicroBatches = stopTrainingAfter
        trainer.onProgress = events.training
        trainer.onEpochEnd = events.epoch
        try trainer.fit(resume: resume)
        if trainer.checkpointsSkipped > 0, let seconds = trainer.options.checkpointSeconds {
            events.note(String(format: "checkpoints: %d written, %d skipped as sooner than checkpoint_seconds = %g after the last",
                               trainer.checkpointsWritten, trainer.checkpointsSkipped, seconds))
        }
        if let reduction = trainer.reduction, reduction.reductions > 0 {
            events.note(String(format: "gradient reduction: %.3f s per step, %d floats and %d row ids a step",
                               reduction.seconds / Double(reduction.reductions), reduction.lastFloats, reduction.lastRowIDs))
        }
        if let sharded = trainer.shardedEmbedding, sharded.steps > 0 {
            let steps = Double(sharded.steps)
            let pooled = Double(sharded.shard.floats * 4)
            events.note(String(format: "embedding rows split between %d ranks: %.4f s per step in collectives, %.0f bytes a step sent by a rank "
                               + "(pooled sums %.4f s and %.0f bytes, synchronized rows %.4f s and %.0f bytes)", communicator.size,
                               (sharded.shard.seconds + sharded.seconds) / steps, sharded.bytesSent / steps, sharded.shard.seconds / steps,
                               pooled / steps, sharded.seconds / steps, (sharded.bytesSent - pooled) / steps))
        }
        // Rank 0's last checkpoint is written before any rank reads it.
        try communicator.barrier()
        guard try Checkpoint.read(folder: checkpointFolder)?.finished == true else {
            throw FolioError("training stopped before its end; run again to resume", file: checkpointFolder)
        }
        let modelFolder = modelFolder
        _ = try communicator.onWriter { () throws(FolioError) in
            try ModelBundle(config: config, labels: train.manifest.labels, vocabulary: vocabulary, model: session.model)
                .write(model: session.model, vocabularyPath: vocabularyPath, to: modelFolder)
            return true
        }
        return trainer.history
    }

    /// The `[embed]` stage, when the pipeline has one: the unlabeled corpora sharded with
    /// the run's vocabulary (`shards/unlabeled-N`), then word vectors over them and the
    /// training split (`vectors.safetensors`, `vectors.vec`), skipped when unchanged.
    /// Returns the configuration to train with: the embedding starting from the vectors.
    /// What a tuner's trials share, made once: the vocabulary, the training shards (the
    /// test split not read) and the configuration to train with (the classifier sized by
    /// the labels; with `[embed]`, the embedding starting from the vectors trained here).
    public func prepareTraining() throws(FolioError) -> (vocabulary: Vocabulary, train: ShardSet, validation: ShardSet?, config: PipelineConfig) {
        let vocabulary = try prepareData(includingTest: false)
        let train = try ShardSet(folder: trainShards)
        try train.checkVocabulary(fingerprint: vocabulary.fingerprint, path: vocabularyPath)
        let validation = try validationSet(vocabulary)
        return (vocabulary, train, validation, try embedVectors(try sizedForLabels(train.manifest.labels.count), vocabulary: vocabulary))
    }

    /// The held-out documents' shards, when the pipeline has a validation split.
    private func validationSet(_ vocabulary: Vocabulary) throws(FolioError) -> ShardSet? {
        guard trainingDocuments != nil else { return nil }
        let validation = try ShardSet(folder: validationShards)
        try validation.checkVocabulary(fingerprint: vocabulary.fingerprint, path: vocabularyPath)
        return validation
    }

    /// The configuration with its classifier sized by the training labels, before anything
    /// trains; a stated size that differs names the pipeline file's line.
    private func sizedForLabels(_ labels: Int) throws(FolioError) -> PipelineConfig {
        if let problem = config.outputSizeProblem(labels: labels), let file = pipelineFile {
            let line = (try? readWholeFile(file)).flatMap { PipelineSourceLines(String(decoding: $0, as: UTF8.self)).line(of: problem.key) }
            throw FolioError(problem.message, file: file, place: (line.map { "line \($0), " } ?? "") + "key \(problem.key)")
        }
        return try config.sizingOutput(labels: labels)
    }

    private func embedVectors(_ config: PipelineConfig, vocabulary: Vocabulary) throws(FolioError) -> PipelineConfig {
        guard let embed = config.embed, case .embedding(let dim) = config.model.layers.first else { return config }
        var options = embed.word2vec
        (options.dim, options.threads, options.seed) = (dim, config.threads, config.seed)
        var corpusPrints: [String] = []
        for corpus in embed.corpora { corpusPrints.append(try corpusFingerprint(of: corpus)) }
        let unlabeled = embed.corpora.indices.map { runDir + "/shards/unlabeled-\($0)" }
        let embedPrint = fingerprint(try manifestFingerprint(trainShards), vocabulary.fingerprint, corpusPrints, embed.corpora,
                                     config.canonicalJSON(options), config.canonicalJSON(config.tokenizer))
        try stage("embed", fingerprint: embedPrint, outputs: [vectorsPath] + unlabeled.map { $0 + "/manifest.json" }) { () throws(FolioError) in
            for (corpus, folder) in zip(embed.corpora, unlabeled) {
                var corpusOptions = config.corpus.options
                corpusOptions.split = nil
                corpusOptions.allowsUnlabeled = true
                corpusOptions.readsEverySplit = true
                _ = try ShardJob.run(corpusPath: corpus, vocabularyPath: vocabularyPath, outputFolder: folder, options: shardOptions(corpusOptions),
                                     communicator: communicator, onWarning: events.warning, onProgress: events.job)
                events.jobEnded()
            }
            // Word vectors train on one process (rank 0; the others wait for the file).
            _ = try communicator.onWriter { () throws(FolioError) in
                _ = try EmbedJob.run(shardFolders: [trainShards] + unlabeled, vocabularyPath: vocabularyPath, out: vectorsPath,
                                     options: options, onProgress: events.embedding)
                return true
            }
            events.jobEnded()
        }
        var trained = config
        trained.model.pretrained = .init(path: vectorsPath, trainable: embed.embeddingTrainable)
        return trained
    }

    /// The pipeline's sharding settings, for reading `corpus` as given.
    private func shardOptions(_ corpus: CorpusOptions) -> ShardJobOptions {
        var options = ShardJobOptions()
        options.corpus = corpus
        options.tokenizer = config.tokenizer
        options.shardBytes = config.shardBytes
        options.threads = config.threads
        options.keepUnknownText = keepsUnknownText
        return options
    }

    private func corpusOptions(split: String?) -> CorpusOptions {
        var options = config.corpus.options
        options.split = split
        return options
    }

    /// The configured test split, or `test` when the corpus has one: a folder's `test/`, or
    /// JSONL lines whose split key says `test`. Looked for once per runner (a JSONL file
    /// may be read to its end to find out; `corpus.test_split` saves that).
    func resolvedTestSplit() -> String? {
        if let split = config.corpus.testSplit { return split }
        if let detected = detectedTestSplit { return detected }
        let split = corpusHasSplit(path: config.corpus.path, split: "test", options: config.corpus.options) ? "test" : nil
        detectedTestSplit = .some(split)
        return split
    }
    /// What ``resolvedTestSplit()`` found (`.some(nil)`: looked, none).
    private var detectedTestSplit: String??

    /// Path, size and modification time of every file under the corpus path: changes to
    /// the corpus show without reading it (hashing a corpus of gigabytes would cost a pass).
    /// The pipeline's corpus: its files and how they are read (another `label_key`, `text_key`
    /// or `group_key` over the same files is other documents, labels or validation part).
    func corpusFingerprint() throws(FolioError) -> String {
        fingerprint(try corpusFingerprint(of: config.corpus.path), config.canonicalJSON(config.corpus.options))
    }

    func corpusFingerprint(of path: String) throws(FolioError) -> String {
        var hasher = FNV1a64()
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw FolioError("no such file or folder", file: path) }
        let files = isFolder.boolValue ? (FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String }.sorted() ?? []) : [""]
        for file in files {
            let full = file.isEmpty ? path : path + "/" + file
            guard let stamp = regularFileStamp(full) else { continue }
            hasher.combine("\(file)\t\(stamp.size)\t\(stamp.modified)\n".utf8)
        }
        return hasher.fingerprint
    }

    private func manifestFingerprint(_ folder: String) throws(FolioError) -> String {
        FNV1a64.hash(try readWholeFile(folder + "/" + ShardManifest.fileName)).fingerprint
    }

    private func fingerprint(_ parts: Any...) -> String {
        var hasher = FNV1a64()
        for part in parts {
            if let bytes = part as? [UInt8] { hasher.combine(bytes) } else { hasher.combine(String(describing: part).utf8) }
            hasher.combine([0x1F])
        }
        return hasher.fingerprint
    }

    private func readRecord() throws(FolioError) -> StageRecord {
        guard FileManager.default.fileExists(atPath: stagesFile) else {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: runDir)) ?? []
            guard entries.filter({ !$0.hasPrefix(".") }).isEmpty else {
                throw FolioError("the run directory is not empty and was not made by `folio run` (no stages.json); choose another --run-dir",
                                 file: runDir)
            }
            return StageRecord(pipeline: config.name)
        }
        let record = try readJSON(StageRecord.self, from: stagesFile, what: "stage record")
        guard record.pipeline == config.name else {
            throw FolioError("this run directory belongs to pipeline '\(record.pipeline)', not '\(config.name)'; use another --run-dir",
                             file: runDir)
        }
        return record
    }

    private func writeRecord(_ record: StageRecord) throws(FolioError) {
        if communicator.isWriter { try writeJSON(record, to: stagesFile) }
    }
}
