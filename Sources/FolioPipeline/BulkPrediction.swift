import Dispatch
import FolioCore
import FolioCorpus
import FolioNN
import Glibc

/// Settings of one bulk prediction run (`folio predict`).
public struct BulkPredictionOptions: Sendable {
    /// Predicting threads, each with its own copy of the model (one compute thread each).
    public var threads = 2
    /// Documents per forward pass.
    public var batchSize = 64
    public var topK = 3
    /// JSON lines, or tab-separated lines for a person (standard output only).
    public var jsonLines = true
    /// With an output file: discard an unfinished earlier run instead of resuming it.
    public var restart = false
    /// With an output file: seconds between commits (fsync and position); 0 commits after
    /// every batch (tests).
    public var commitSeconds = 2.0
    /// Only a document's first bytes are read (the model reads its first `max_length`
    /// tokens, far fewer); the rest is skipped and the line says `"truncated":true`.
    public var maxDocumentBytes = 1 << 20
    /// How inputs are read: unlabeled folders are accepted, JSONL `id` keys kept.
    public var corpus: CorpusOptions = {
        var options = CorpusOptions()
        options.allowsUnlabeled = true
        options.idKey = "id"
        options.readsEverySplit = true
        return options
    }()
    /// Measure the inputs' size first, for a fraction and an ETA.
    public var measureTotal = false
    /// Asks the run to stop after the batch in hand: committed, resumable (``FolioError/signal``).
    public var stopRequest: StopRequest?
    /// Crash tests: `predict-batch` (each batch written, before its commit).
    public var failpoints = Failpoints.fromEnvironment()

    public init() {}
}

/// What a bulk prediction run did, over the whole input (a resumed run included).
public struct BulkPredictionReport: Sendable, Codable {
    public var tally: PredictionTally
    public var labels: [String]
    /// Documents an earlier, interrupted run had already written.
    public var resumedAfter: Int
    public var seconds: Double
    /// Documents predicted by this run per second.
    public var documentsPerSecond: Double
    /// Scores against the inputs' labels, when documents had labels the model knows
    /// (the figures `folio eval` gives).
    public var report: ClassificationReport?
    public var output: String?

    enum CodingKeys: String, CodingKey {
        case tally, labels, seconds, report, output
        case resumedAfter = "resumed_after"
        case documentsPerSecond = "documents_per_second"
    }
}

/// Documents -> labels for any input Folio reads, in bounded memory, on several threads,
/// in input order.
///
/// The calling thread reads the inputs and deals batches of whole documents (at most
/// ``BulkPredictionOptions/batchSize``, or 4 MiB of text) to `threads` workers, each
/// holding its own ``Predictor`` (the weights shared); one writer thread puts the results back in reading order
/// and writes one JSON line per document (``PredictionLine``). At most `4 x threads`
/// batches are in flight, so memory does not grow with the input.
public enum BulkPrediction {
    /// Opens one input of `folio predict`: `-` (standard input, a text per line), a folder
    /// (label folders, or text files directly in it), a `.jsonl` / `.jsonl.zst` file, or any
    /// other file as one text.
    public static func openInput(_ path: String, options: CorpusOptions) throws(FolioError) -> any TextCorpus {
        if path == "-" { return try LinesCorpus(path: "/dev/stdin", name: "stdin", options: options) }
        let kind = FileKind(path: path)
        if (kind == .file || kind == .other) && !isJSONLPath(path) { return DirectoryCorpus(files: [path], options: options) }
        // Folders, JSONL, and the errors for what is neither, as every job opens a corpus.
        return try openCorpus(path: path, options: options)
    }

    struct Batch: Sendable {
        var sequence = 0
        var texts: [[UInt8]] = []
        var ids: [String] = []
        var labels: [String] = []
        var truncated: [Bool] = []
        var bytes = 0
    }

    struct Result: Sendable {
        var sequence: Int
        var lines: [UInt8] = []
        /// Per document: the true label's index (-1 none, -2 not the model's) and the prediction's.
        var scored: [(truth: Int, predicted: Int)] = []
        var empty = 0
        var truncated = 0
    }

    /// Runs over `inputs` in order. With `output`, lines go to that file (atomically at the
    /// end, resumable: ``PredictionOutput``); without, each batch's lines to `onLines`.
    public static func run(
        model: String, inputs: [String], output: String?, options: BulkPredictionOptions,
        onLines: (@Sendable ([UInt8]) -> Void)? = nil, onWarning: (@Sendable (String) -> Void)? = nil,
        onProgress: ((JobProgress) -> Void)? = nil
    ) throws(FolioError) -> BulkPredictionReport {
        let clock = ContinuousClock()
        let started = clock.now
        let threads = max(1, options.threads)
        let first = try Predictor(folder: model)
        var predictors = [Predictor.Handover(first)]
        for _ in 1..<threads { predictors.append(Predictor.Handover(try first.forAnotherThread())) }
        for handover in predictors { handover.predictor.model.network.threads = 1 }
        let labels = predictors[0].predictor.labels
        let file = try output.map { path throws(FolioError) in
            try PredictionOutput(path: path, fingerprint: try fingerprint(model: model, inputs: inputs, options: options),
                                 restart: options.restart)
        }
        let resumedAfter = file?.resumed?.tally.documents ?? 0
        // The inputs' size on disk, for a fraction and an ETA; none when one cannot tell (stdin).
        var total = 0
        if options.measureTotal {
            for input in inputs {
                guard let size = (try? openInput(input, options: options.corpus))?.totalSourceBytes() else { total = 0; break }
                total += size
            }
        }

        let work = BoundedQueue<Batch>(capacity: 2 * threads)
        let results = BoundedQueue<Result>(capacity: 2 * threads)
        let inFlight = DispatchSemaphore(value: 4 * threads)
        let failure = Locked<FolioError?>(nil)
        let group = DispatchGroup()
        // Each long-lived loop gets a queue of its own: such queues always get a thread,
        // whereas blocks on the global queue beyond the core count wait for a free one, and
        // here the writer that would free them could be the one waiting.
        for (index, handover) in predictors.enumerated() {
            DispatchQueue(label: "folio.predict.worker.\(index)").async(group: group) {
                predict(from: work, into: results, with: handover.predictor, options: options, failure: failure)
            }
        }
        let tally = Locked(file?.resumed?.tally ?? PredictionTally(classes: labels.count))
        let writer = DispatchGroup()
        DispatchQueue(label: "folio.predict.writer").async(group: writer) {
            write(results, to: file, onLines: onLines, tally: tally, inFlight: inFlight, failure: failure, options: options)
        }

        var batch = Batch()
        var sequence = 0
        var documents = 0
        var finishedBytes = 0
        var lastReport = started
        var stopped: Int32?
        func send() {
            batch.sequence = sequence
            sequence += 1
            inFlight.wait()
            work.push(batch)
            batch = Batch()
        }
        do throws(FolioError) {
            reading: for input in inputs {
                let corpus = try openInput(input, options: options.corpus)
                corpus.onWarning = onWarning
                var text: [UInt8] = []
                var truncated = false
                while let chunk = try corpus.nextChunk() {
                    let skipping = documents < resumedAfter
                    if !skipping { truncated = append(chunk.bytes, to: &text, limit: options.maxDocumentBytes) || truncated }
                    guard chunk.isDocumentEnd else { continue }
                    documents += 1
                    if !skipping {
                        batch.texts.append(text)
                        batch.ids.append(chunk.id ?? chunk.source)
                        batch.labels.append(chunk.label)
                        batch.truncated.append(truncated)
                        batch.bytes += text.count
                        if batch.texts.count >= options.batchSize || batch.bytes >= 4 << 20 { send() }
                    }
                    text = []
                    truncated = false
                    if failure.withLock({ $0 != nil }) { break reading }
                    if let signal = options.stopRequest?.signal {
                        stopped = signal
                        break reading
                    }
                    if let onProgress, clock.now - lastReport > .milliseconds(200) {
                        lastReport = clock.now
                        let consumed = finishedBytes + corpus.consumedSourceBytes
                        onProgress(JobProgress(documents: documents, bytes: consumed,
                                               fraction: total > 0 ? min(1, Double(consumed) / Double(total)) : nil,
                                               seconds: (clock.now - started).seconds))
                    }
                }
                finishedBytes += corpus.consumedSourceBytes
            }
        } catch {
            failure.withLock { if $0 == nil { $0 = error } }
        }
        if !batch.texts.isEmpty { send() }
        work.close()
        group.wait()
        results.close()
        writer.wait()
        if let error = failure.withLock({ $0 }) { throw error }

        let final = tally.withLock { $0 }
        if let stopped {
            try file?.commit(final)
            let name = stopped == SIGINT ? "SIGINT" : stopped == SIGTERM ? "SIGTERM" : "signal \(stopped)"
            throw FolioError("interrupted by \(name) after \(final.documents) documents; their predictions are saved; "
                             + "run the same command again to go on", file: file?.partPath, signal: stopped)
        }
        try file?.finish()
        let seconds = (clock.now - started).seconds
        return BulkPredictionReport(
            tally: final, labels: labels, resumedAfter: resumedAfter, seconds: seconds,
            documentsPerSecond: seconds > 0 ? Double(final.documents - resumedAfter) / seconds : 0,
            report: final.labeled > 0 ? ClassificationReport(confusion: final.confusion) : nil, output: output)
    }

    /// Appends `bytes` while `text` is under `limit`, cut at a character boundary; true
    /// when something was left out.
    static func append(_ bytes: [UInt8], to text: inout [UInt8], limit: Int) -> Bool {
        let room = limit - text.count
        if bytes.count <= room {
            text += bytes
            return false
        }
        var end = max(0, room)
        while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        text += bytes[..<end]
        return true
    }

    /// A worker: encode, predict, format. After a failure it keeps draining, so that the
    /// reader never waits on a full queue.
    private static func predict(
        from work: BoundedQueue<Batch>, into results: BoundedQueue<Result>, with predictor: Predictor,
        options: BulkPredictionOptions, failure: Locked<FolioError?>
    ) {
        let labelIndex = Dictionary(uniqueKeysWithValues: predictor.labels.enumerated().map { ($1, $0) })
        while let batch = work.pop() {
            var result = Result(sequence: batch.sequence)
            if failure.withLock({ $0 == nil }) {
                do throws(FolioError) {
                    var encoded: [Predictor.EncodedText] = []
                    for text in batch.texts {
                        encoded.append(try text.withBytes { raw throws(FolioError) in try predictor.encode(raw) })
                    }
                    let predictions = try predictor.predict(encoded, topK: options.topK)
                    for (row, prediction) in predictions.enumerated() {
                        let label = batch.labels[row]
                        let truth = label.isEmpty ? -1 : labelIndex[label] ?? -2
                        let line = PredictionLine(id: batch.ids[row], prediction: prediction, trueLabel: label.isEmpty ? nil : label,
                                                  truncated: batch.truncated[row])
                        if options.jsonLines { line.append(to: &result.lines) } else { line.appendText(to: &result.lines) }
                        result.scored.append((truth, labelIndex[prediction.label] ?? 0))
                        if prediction.tokens == 0 { result.empty += 1 }
                        if batch.truncated[row] { result.truncated += 1 }
                    }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                }
            }
            results.push(result)
        }
    }

    /// The writer: results back in reading order, lines out, tallies kept, commits.
    private static func write(
        _ results: BoundedQueue<Result>, to file: PredictionOutput?, onLines: (@Sendable ([UInt8]) -> Void)?,
        tally: Locked<PredictionTally>, inFlight: DispatchSemaphore, failure: Locked<FolioError?>, options: BulkPredictionOptions
    ) {
        var failpoints = options.failpoints
        var pending: [Int: Result] = [:]
        var next = 0
        let clock = ContinuousClock()
        var lastCommit = clock.now
        while let result = results.pop() {
            pending[result.sequence] = result
            while let ready = pending.removeValue(forKey: next) {
                next += 1
                defer { inFlight.signal() }
                guard failure.withLock({ $0 == nil }) else { continue }
                let counts = tally.withLock { tally in
                    tally.documents += ready.scored.count
                    tally.emptyDocuments += ready.empty
                    tally.truncatedDocuments += ready.truncated
                    for (truth, predicted) in ready.scored {
                        if truth >= 0 {
                            tally.labeled += 1
                            tally.confusion[truth][predicted] += 1
                        } else if truth == -2 {
                            tally.unknownLabels += 1
                        }
                    }
                    return tally
                }
                do throws(FolioError) {
                    if let file {
                        try file.append(ready.lines)
                        failpoints.pass("predict-batch")
                        if clock.now - lastCommit >= .seconds(options.commitSeconds) {
                            try file.commit(counts)
                            lastCommit = clock.now
                        }
                    } else {
                        onLines?(ready.lines)
                    }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                }
            }
        }
    }

    /// What a resumed run must share with the one it continues: the model, the inputs (and
    /// their sizes, for files), the output settings.
    static func fingerprint(model: String, inputs: [String], options: BulkPredictionOptions) throws(FolioError) -> String {
        var hash = FNV1a64()
        hash.combine(try readWholeFile(model + "/" + ModelBundle.descriptionFile))
        hash.combine(String(fileSize(model + "/" + ModelBundle.weightsFile) ?? 0).utf8)
        for input in inputs { hash.combine("\0\(input)\0\(fileSize(input) ?? 0)".utf8) }
        hash.combine("\0\(options.topK)\0\(options.maxDocumentBytes)".utf8)
        return hash.fingerprint
    }
}
