import Dispatch
import FolioCore
import FolioCorpus
import FolioShards
import FolioText
import Synchronization

/// Settings of one vocabulary build.
public struct VocabularyJobOptions: Sendable, Hashable {
    public var corpus = CorpusOptions()
    public var tokenizer = TokenizerOptions()
    public var vocabulary = VocabularyOptions()
    /// Bytes for the token counts of all threads together; the rest of the process
    /// (queue, buffers, ICU) adds a constant on top (see README).
    public var memoryBudget = 256 << 20
    public var threads = 2
    /// Only one side of a validation holdout: a pipeline counts its training part alone.
    public var documents: Holdout?
    /// Add up the corpus size first, so that progress can show a fraction and an ETA
    /// (a walk over a folder corpus: worth it on a terminal, not in a script).
    public var measureTotal = false
    /// Crash tests: the points `vocab-chunk` (each corpus chunk read) and `vocab-merge`
    /// (counting done, spills on disk, the file not yet written).
    public var failpoints = Failpoints.fromEnvironment()

    public init() {}
}

/// What a vocabulary build did.
public struct VocabularyReport: Sendable, Codable, Equatable {
    public var documents = 0
    public var tokens = 0
    public var bytes = 0
    public var seconds = 0.0
    public var vocabularySize = 0
    public var distinctTokens = 0
    public var oovTokens = 0
    public var invalidUTF8Replacements = 0
    public var emptyDocuments = 0
    public var skippedFiles = 0
    public var truncatedTokens = 0
    public var forcedCuts = 0
    public var spillRuns = 0
    public var threads = 0
    public var warnings: [String] = []
    /// A JSONL corpus's labels (every rank's), what ``ShardJobOptions/corpusLabels`` takes;
    /// nil for a folder corpus, whose labels are its folders. Not in the JSON report.
    public var corpusLabels: [String]?

    enum CodingKeys: String, CodingKey {
        case documents, tokens, bytes, seconds, threads, warnings
        case vocabularySize = "vocabulary_size"
        case distinctTokens = "distinct_tokens"
        case oovTokens = "oov_tokens"
        case invalidUTF8Replacements = "invalid_utf8_replacements"
        case emptyDocuments = "empty_documents"
        case skippedFiles = "skipped_files"
        case truncatedTokens = "truncated_tokens"
        case forcedCuts = "forced_cuts"
        case spillRuns = "spill_runs"
    }
}

/// Progress of a running job, reported from the reading thread.
public struct JobProgress: Sendable {
    public var documents: Int
    /// Bytes of text read.
    public var bytes: Int
    /// Share of the corpus files consumed, when their total size was measured.
    public var fraction: Double?
    public var seconds: Double
}

/// Corpus -> tokens -> exact counts -> `vocabulary.tsv`, on `threads` tokenizing threads.
///
/// The calling thread reads and splits documents into ~1 MiB ``TextBatch``es; a bounded
/// queue (2 per thread) feeds the tokenizers, each counting into its own
/// ``SpillingCounter`` with `memoryBudget / threads` bytes. The merge that follows sums
/// counts exactly, so the file does not depend on the thread count or on spills.
public enum VocabularyJob {
    ///
    /// With several ranks (`communicator`), each counts its own part of the corpus
    /// (``CorpusPart``) into runs in its own spill folder; rank 0 merges every rank's runs
    /// (a shared filesystem) into the one file, the same bytes as one process writes.
    public static func run(
        corpusPath: String, outputPath: String, options: VocabularyJobOptions,
        communicator: any Communicator = SingleProcess(),
        onWarning: (@Sendable (String) -> Void)? = nil,
        onProgress: ((JobProgress) -> Void)? = nil
    ) throws(FolioError) -> VocabularyReport {
        let clock = ContinuousClock()
        let started = clock.now
        let threads = max(1, options.threads)
        let corpus = try openCorpus(path: corpusPath, options: options.corpus.part(of: communicator))
        corpus.onWarning = onWarning
        let totalSourceBytes = options.measureTotal ? corpus.totalSourceBytes() : nil
        // A killed run's spill folder and half-written vocabulary go before this run's start.
        StaleTemporaries.removeStaleTemporaries(in: parentFolder(of: outputPath))
        let spill = try SpillFolder(inside: parentFolder(of: outputPath))

        // Emptied batches come back for reuse, so that the number of batch buffers is
        // fixed (3 per thread + 1) instead of whatever the allocator keeps of freed ones.
        let recycled = BoundedQueue<TextBatch>(capacity: 3 * threads + 1)
        let counterBudget = options.memoryBudget / threads
        var splitter = DocumentSplitter()
        var failpoints = options.failpoints
        let workers = try TextBatchWorkers.run(
            corpus: corpus, threads: threads, totalSourceBytes: totalSourceBytes, started: started, onProgress: onProgress,
            fresh: { recycled.tryPop() ?? TextBatch() },
            worker: { queue throws(FolioError) in
                try countTokens(from: queue, recycling: recycled, tokenizer: options.tokenizer, budget: counterBudget, spill: spill)
            },
            add: { chunk, batch in
                failpoints.pass("vocab-chunk")
                if let documents = options.documents, !documents.keeps(chunk, corpusPath: corpusPath) { return false }
                splitter.add(chunk.bytes, isDocumentEnd: chunk.isDocumentEnd) { batch.append($0) }
                return batch.isFull
            })

        // Every line of the part was read (held-out ones too), so these are its labels.
        let labelsSeen = (corpus as? JSONLCorpus)?.labelsSeen
        var own = RankTally(runs: [], tokens: 0, truncatedTokens: 0, forcedCuts: splitter.forcedCuts, statistics: corpus.statistics,
                            labels: labelsSeen ?? [])
        for worker in workers {
            own.runs += worker.runs
            own.tokens += worker.tokens
            own.truncatedTokens += worker.truncatedTokens
        }
        let tally = try RankTally.sum(communicator.allGather(own))
        let statistics = tally.statistics
        if statistics.documents == 0 {
            throw FolioError("the corpus has no documents", file: corpusPath)
        }
        failpoints.pass("vocab-merge")
        // The other ranks' spill folders outlive the merge: they wait in onWriter.
        let summary = try communicator.onWriter { () throws(FolioError) in
            try VocabularyWriter.write(
                runs: tally.runs, totalTokens: tally.tokens, options: options.vocabulary,
                budget: options.memoryBudget, spill: spill, to: outputPath)
        }

        var report = VocabularyReport()
        report.tokens = tally.tokens
        report.truncatedTokens = tally.truncatedTokens
        report.documents = statistics.documents
        report.bytes = statistics.bytes
        report.invalidUTF8Replacements = statistics.invalidUTF8Replacements
        report.emptyDocuments = statistics.emptyDocuments
        report.skippedFiles = statistics.skippedFiles
        report.warnings = statistics.warnings
        report.forcedCuts = tally.forcedCuts
        report.spillRuns = tally.runs.count
        report.threads = threads
        report.vocabularySize = summary.size
        report.distinctTokens = summary.distinctTokens
        report.oovTokens = summary.oovTokens
        report.seconds = (clock.now - started).seconds
        if labelsSeen != nil { report.corpusLabels = ShardJob.sortedLabels(tally.labels) }
        onProgress?(progress(corpus, total: totalSourceBytes, since: started, clock: clock))
        return report
    }

    /// One rank's counting: its runs (paths in its spill folder) and figures.
    struct RankTally: Codable {
        var runs: [String]
        var tokens: Int
        var truncatedTokens: Int
        var forcedCuts: Int
        var statistics: CorpusStatistics
        var labels: [String]

        static func sum(_ tallies: [RankTally]) -> RankTally {
            var total = RankTally(runs: [], tokens: 0, truncatedTokens: 0, forcedCuts: 0, statistics: CorpusStatistics(), labels: [])
            for tally in tallies {
                total.labels += tally.labels
                total.runs += tally.runs
                total.tokens += tally.tokens
                total.truncatedTokens += tally.truncatedTokens
                total.forcedCuts += tally.forcedCuts
                total.statistics.add(tally.statistics)
            }
            return total
        }
    }

    struct WorkerResult: Sendable {
        var runs: [String]
        var tokens: Int
        var truncatedTokens: Int
    }

    /// One tokenizing thread: batches from the queue into a spilling counter. After an
    /// error it keeps draining the queue so that the reader never blocks on a full one.
    private static func countTokens(
        from queue: BoundedQueue<TextBatch>, recycling recycled: BoundedQueue<TextBatch>,
        tokenizer options: TokenizerOptions, budget: Int, spill: SpillFolder
    ) throws(FolioError) -> WorkerResult {
        var failure: FolioError?
        var counter: SpillingCounter?
        var tokenizer: Tokenizer?
        do throws(FolioError) {
            tokenizer = try Tokenizer(options: options)
            counter = SpillingCounter(budget: budget, spill: spill)
        } catch {
            failure = error
        }
        while var batch = queue.pop() {
            defer {
                batch.removeAll()
                recycled.tryPush(batch)
            }
            guard failure == nil, let tokenizer, let counter else { continue }
            do throws(FolioError) {
                try batch.bytes.withBytes { bytes throws(FolioError) in
                    var start = 0
                    for end in batch.pieceEnds {
                        let piece = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                        var addError: FolioError?
                        try tokenizer.forEachToken(in: piece) { token in
                            guard addError == nil else { return }
                            do throws(FolioError) { try counter.add(token) } catch { addError = error }
                        }
                        if let addError { throw addError }
                        start = end
                    }
                }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        guard let counter, let tokenizer else { throw FolioError("tokenizer did not start") }
        return WorkerResult(runs: try counter.finish(), tokens: counter.tokens, truncatedTokens: tokenizer.truncatedTokens)
    }
}

/// A job's progress: documents and text read, and the share of the corpus files consumed
/// when their total was measured.
func progress(
    _ corpus: any TextCorpus, total: Int?, since start: ContinuousClock.Instant, clock: ContinuousClock
) -> JobProgress {
    let fraction = total.map { $0 > 0 ? min(1, Double(corpus.consumedSourceBytes) / Double($0)) : 1 }
    return JobProgress(
        documents: corpus.statistics.documents, bytes: corpus.statistics.bytes, fraction: fraction,
        seconds: (clock.now - start).seconds)
}

func parentFolder(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let parent = String(path[..<slash])
    return parent.isEmpty ? "/" : parent
}
