import Dispatch
import FolioCore
import FolioPipeline
import Glibc

/// Requests' texts -> predictions, batched across concurrent requests.
///
/// `workers` threads each own a ``Predictor`` (the weights held once). A free worker takes
/// the waiting requests, whole, until they hold `maxBatch` texts; when they hold fewer, it
/// waits for more until `window` has passed since the first of them arrived. So a lone
/// request waits at most the window, and under load, when requests queue while every
/// worker is busy, batches fill without waiting at all.
final class PredictionBatcher: Sendable {
    struct Settings: Sendable {
        var workers = 2
        var maxBatch = 64
        var window: Duration = .milliseconds(1)
        /// Tests of draining: every batch takes at least this long.
        var minimumBatchTime: Duration = .zero
    }

    private struct Job: Sendable {
        var texts: [String]
        var topK: Int
        var arrived: ContinuousClock.Instant
        var reply: @Sendable (Result<[Predictor.Prediction], FolioError>) -> Void
    }

    private struct Waiting {
        var jobs: [Job] = []
        var closed = false
    }

    private let waiting = Locked(Waiting())
    private let arrivals = DispatchSemaphore(value: 0)
    private let finished = DispatchGroup()
    private let settings: Settings
    private let onBatch: @Sendable (Int) -> Void

    /// - Parameter onBatch: called with each batch's text count (metrics).
    init(predictor: Predictor, settings: Settings, onBatch: @escaping @Sendable (Int) -> Void) throws(FolioError) {
        self.settings = settings
        self.onBatch = onBatch
        var predictors = [predictor]
        for _ in 1..<max(1, settings.workers) { predictors.append(try predictor.forAnotherThread()) }
        for (index, predictor) in predictors.enumerated() {
            predictor.model.network.threads = 1
            let handover = Predictor.Handover(predictor)
            // A queue of its own: always a thread of its own (see BulkPrediction).
            DispatchQueue(label: "folio.serve.worker.\(index)").async(group: finished) { [self] in
                work(with: handover.predictor)
            }
        }
    }

    /// Predictions for `texts`, in their order.
    func predict(_ texts: [String], topK: Int) async throws -> [Predictor.Prediction] {
        guard !texts.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            let job = Job(texts: texts, topK: topK, arrived: .now) { result in continuation.resume(with: result) }
            let accepted = waiting.withLock { waiting in
                guard !waiting.closed else { return false }
                waiting.jobs.append(job)
                return true
            }
            if accepted {
                arrivals.signal()
            } else {
                continuation.resume(throwing: FolioError("the service is shutting down"))
            }
        }
    }

    /// Finishes the jobs already waiting, then stops the workers.
    func shutDown() {
        waiting.withLock { $0.closed = true }
        for _ in 0..<max(1, settings.workers) { arrivals.signal() }
        finished.wait()
    }

    /// Takes waiting jobs, whole, while the batch stays within `maxBatch` texts (the first
    /// always, however many texts it has).
    private func take(into batch: inout [Job], texts: inout Int) {
        waiting.withLock { waiting in
            while let next = waiting.jobs.first, batch.isEmpty || texts + next.texts.count <= settings.maxBatch {
                batch.append(waiting.jobs.removeFirst())
                texts += next.texts.count
            }
        }
    }

    private func work(with predictor: Predictor) {
        while true {
            arrivals.wait()
            var batch: [Job] = []
            var texts = 0
            take(into: &batch, texts: &texts)
            if batch.isEmpty {
                // A wake-up whose job another worker took, or the end.
                if waiting.withLock({ $0.closed && $0.jobs.isEmpty }) { return }
                continue
            }
            let deadline = batch[0].arrived + settings.window
            while texts < settings.maxBatch, ContinuousClock.now < deadline {
                guard arrivals.wait(timeout: .now() + (deadline - ContinuousClock.now).seconds) == .success else { break }
                take(into: &batch, texts: &texts)
            }
            run(batch, texts: texts, on: predictor)
        }
    }

    private func run(_ batch: [Job], texts: Int, on predictor: Predictor) {
        let started = ContinuousClock.now
        onBatch(texts)
        let result = Result { () throws(FolioError) -> [Predictor.Prediction] in
            var encoded: [Predictor.EncodedText] = []
            for job in batch {
                for text in job.texts { encoded.append(try predictor.encode(text)) }
            }
            return try predictor.predict(encoded, topK: batch.map(\.topK).max() ?? 1)
        }
        let rest = settings.minimumBatchTime - (ContinuousClock.now - started)
        if rest > .zero { usleep(UInt32(rest.seconds * 1e6)) }
        var start = 0
        for job in batch {
            let count = job.texts.count
            job.reply(result.map { predictions in
                predictions[start..<start + count].map { prediction in
                    var trimmed = prediction
                    trimmed.top = Array(prediction.top.prefix(job.topK))
                    return trimmed
                }
            })
            start += count
        }
    }
}
