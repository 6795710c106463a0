import ArgumentParser
import FolioCore
import FolioNN
import Foundation

/// The reference model of ../shared/peers/lstm_bench.py on pre-made random batches.
struct LSTMBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm",
        abstract: "Train and infer the reference LSTM on random batches: tokens/s and peak RSS."
    )

    @Option(help: "Batch size.") var batch = 64
    @Option(help: "Sequence length.") var seqLen = 200
    @Option(help: "Vocabulary size.") var vocab = 20_000
    @Option(help: "Embedding size.") var embed = 128
    @Option(help: "LSTM units.") var units = 128
    @Option(help: "LSTM layers.") var layers = 2
    @Option(help: "Classes.") var classes = 10
    @Option(help: "Optimizer: adam or sgd.") var optimizer = "adam"
    @Option(help: "Threads: the LSTM's lanes run on these; BLAS itself runs single-threaded inside them.") var threads = 2
    @Option(help: "Timed training steps (after 3 warm-up steps).") var steps = 20
    @OptionGroup var output: OutputOptionGroup

    struct Result: Encodable {
        var batch: Int
        var train_tokens_per_s: Double
        var infer_tokens_per_s: Double
        var peak_rss_mb: Double
        /// Page faults per timed training step: pages the step had the kernel map and zero
        /// anew instead of reusing freed memory (``FreedMemoryReuse``).
        var minor_page_faults_per_step: Double
        /// OpenBLAS's kernel family (the weight-gradient GEMMs) and the instruction set of
        /// Folio's own kernels (the rest of the LSTM).
        var blas_core: String
        var kernels: String
        var loss_first: Double
        var loss_last: Double
        var steps: Int
    }

    func run() throws {
        Gemm.setThreads(1)
        LSTM.threads = threads
        let model = LSTMClassifier(vocabulary: vocab, embeddingDim: embed, units: units, layers: layers, classes: classes, seed: 1)
        let optimizer: any Optimizer = self.optimizer == "sgd"
            ? SGD(arena: model.arena, learningRate: 0.01) : Adam(arena: model.arena)
        let accumulator = GradientAccumulator(steps: 1)
        // A pool of 8 batches of Zipf-distributed ids, cycled (data making is not timed).
        var random = SplitMix64(seed: 7)
        let pool: [(TokenBatch, [UInt32])] = (0..<8).map { _ in
            let ids = (0..<batch * seqLen).map { _ in UInt32(min(Double(vocab - 1), 1 / max(random.nextUnit(), 1e-9))) }
            return (TokenBatch(rows: batch, length: seqLen, ids: ids, lengths: [Int32](repeating: Int32(seqLen), count: batch)),
                    (0..<batch).map { _ in UInt32(random.next() % UInt64(classes)) })
        }
        let result = try runReportingErrors { () throws(FolioError) -> Result in
            var losses: [Double] = []
            for step in 0..<3 { losses.append(try model.trainStep(pool[step % 8].0, labels: pool[step % 8].1, optimizer: optimizer, accumulator: accumulator)) }
            let clock = ContinuousClock()
            let faultsBefore = minorPageFaults()
            var start = clock.now
            for step in 0..<steps {
                losses.append(try model.trainStep(pool[step % 8].0, labels: pool[step % 8].1, optimizer: optimizer, accumulator: accumulator))
            }
            let trainSeconds = (clock.now - start).seconds
            let faultsPerStep = Double(minorPageFaults() - faultsBefore) / Double(max(1, steps))
            start = clock.now
            let inferBatches = max(1, steps / 2)
            for step in 0..<inferBatches { _ = try model.forward(pool[step % 8].0) }
            let inferSeconds = (clock.now - start).seconds
            let tokens = Double(batch * seqLen)
            return Result(
                batch: batch, train_tokens_per_s: tokens * Double(steps) / trainSeconds,
                infer_tokens_per_s: tokens * Double(inferBatches) / inferSeconds, peak_rss_mb: peakResidentMegabytes(),
                minor_page_faults_per_step: faultsPerStep, blas_core: Gemm.coreName, kernels: LSTM.kernelInstructionSet,
                loss_first: losses.first ?? 0, loss_last: losses.last ?? 0, steps: steps)
        }
        if output.json {
            try printJSON(result)
        } else {
            print("train \(Int(result.train_tokens_per_s)) tokens/s, infer \(Int(result.infer_tokens_per_s)) tokens/s, peak RSS \(Int(result.peak_rss_mb)) MB, loss \(result.loss_first) -> \(result.loss_last)")
        }
    }
}
