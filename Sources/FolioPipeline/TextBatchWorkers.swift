import Dispatch
import FolioCore
import FolioCorpus

/// What both data jobs (``VocabularyJob``, ``ShardJob``) do with a corpus: the calling thread
/// reads it and cuts it into ~1 MiB ``TextBatch``es, a bounded queue (2 per thread) feeds
/// `threads` workers, and progress is reported every 200 ms. Batches are numbered in
/// reading order (``TextBatch/sequence``), so that a job can put results back in order.
enum TextBatchWorkers {
    /// Returns each worker's result once the corpus is read and every worker has finished;
    /// a reading error first, else the first worker's error. A worker that fails must keep
    /// draining its queue, so that the reader never blocks on a full one.
    /// - Parameters:
    ///   - add: adds a chunk to the batch being filled; true when the batch should go now.
    ///   - fresh: an empty batch to fill next (a job may recycle emptied ones).
    static func run<WorkerResult: Sendable>(
        corpus: any TextCorpus, threads: Int, totalSourceBytes: Int?, started: ContinuousClock.Instant,
        onProgress: ((JobProgress) -> Void)?, fresh: () -> TextBatch = { TextBatch() },
        worker: @escaping @Sendable (BoundedQueue<TextBatch>) throws(FolioError) -> WorkerResult,
        add: (TextChunk, inout TextBatch) throws(FolioError) -> Bool
    ) throws(FolioError) -> [WorkerResult] {
        let clock = ContinuousClock()
        let queue = BoundedQueue<TextBatch>(capacity: 2 * threads)
        let results = Locked<[Result<WorkerResult, FolioError>]>([])
        let group = DispatchGroup()
        for _ in 0..<threads {
            DispatchQueue.global().async(group: group) {
                let result = Result { () throws(FolioError) in try worker(queue) }
                results.withLock { $0.append(result) }
            }
        }
        var batch = fresh()
        var sequence = 0
        var readError: FolioError?
        do throws(FolioError) {
            var lastReport = started
            while let chunk = try corpus.nextChunk() {
                guard try add(chunk, &batch) else { continue }
                batch.sequence = sequence
                sequence += 1
                queue.push(batch)
                batch = fresh()
                if let onProgress, clock.now - lastReport > .milliseconds(200) {
                    lastReport = clock.now
                    onProgress(progress(corpus, total: totalSourceBytes, since: started, clock: clock))
                }
            }
        } catch {
            readError = error
        }
        if !batch.bytes.isEmpty || !batch.pieceEnds.isEmpty {
            batch.sequence = sequence
            queue.push(batch)
        }
        queue.close()
        group.wait()
        if let readError { throw readError }
        var values: [WorkerResult] = []
        for result in results.withLock({ $0 }) { values.append(try result.get()) }
        return values
    }
}
