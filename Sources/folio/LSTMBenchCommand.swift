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
    @Option(help: "Untimed inference batches first (as the peers' --infer-warmup).") var inferWarmup = 3
    @Option(help: "Timed inference batches (as the peers' --infer-steps).") var inferSteps = 20
    @Flag(inversion: .prefixedNo, help: "Infer as a model that only predicts does: the first LSTM's input projections read from a table once enough tokens pay for it.")
    var projectedEmbedding = true
    @OptionGroup var output: OutputOptionGroup

    struct Result: Encodable {
        var batch: Int
        var train_tokens_per_s: Double
        var infer_tokens_per_s: Double
        var peak_rss_mb: Double
        /// Page faults per timed training step: pages the step had the kernel map and zero
        /// anew instead of reusing freed memory (``FreedMemoryReuse``).
        var minor_page_faults_per_step: Double
        /// OpenBLAS's kernel family (the weight-gradient GEMMs) and the path of Folio's own
        /// kernels (the rest of the LSTM: `avx512`, `avx2`, `generic`; `FOLIO_ISA` forces one).
        var blas_core: String
        var kernels: String
        /// This CPU's multiply-add peak on that path with `threads` threads, measured in
        /// process (independent FMA chains on the path's widest vectors), and the fraction of
        /// it that training and inference reached (`flops_per_token` each: the LSTM layers'
        /// products, 2 FLOP per multiply-add; training counts forward and backward, 3x).
        var fma_peak_gflops: Double
        var train_flops_per_token: Double
        var infer_flops_per_token: Double
        var train_peak_fraction: Double
        var infer_peak_fraction: Double
        /// The products training ran, not the model's arithmetic: the first LSTM's three
        /// input-kernel products run over a batch's distinct ids alone (``LSTM/inputProductRows(embeddedIDs:)``),
        /// `distinct_fraction` of the tokens on average over the pool of batches.
        var distinct_fraction: Double
        var train_run_flops_per_token: Double
        var train_run_peak_fraction: Double
        /// Whether inference read the first LSTM's input projections from a table
        /// (``ProjectedEmbedding``): its products are then not done, nor counted in
        /// `infer_flops_per_token`. Built once inference has read as many tokens as the
        /// vocabulary has words (at batch 32 that is the first timed batch, whose time includes it).
        var projected_embedding: Bool
        var projection_build_s: Double?
        var threads: Int
        var loss_first: Double
        var loss_last: Double
        var steps: Int
    }

    func run() throws {
        Gemm.setThreads(1)
        let model = LSTMClassifier(vocabulary: vocab, embeddingDim: embed, units: units, layers: layers, classes: classes, seed: 1)
        model.threads = threads
        let optimizer: any Optimizer = self.optimizer == "sgd"
            ? SGD(arena: model.arena, learningRate: 0.01) : Adam(arena: model.arena)
        let accumulator = GradientAccumulator(steps: 1)
        // A pool of 8 batches of ids, cycled (data making is not timed), drawn as the peers'
        // make_pool draws them: ids 1 ..< vocab with weights 1 / id^1.07 (Zipf, as words are).
        // (Until 2026-12-04 ids were 1 / u, u uniform: far more skewed, weights 1 / id^2.)
        var cumulative = [Double](repeating: 0, count: max(1, vocab - 1))
        var total = 0.0
        for index in cumulative.indices {
            total += 1 / Foundation.pow(Double(index + 1), 1.07)
            cumulative[index] = total
        }
        var random = SplitMix64(seed: 7)
        func zipfID() -> UInt32 {
            let target = random.nextUnit() * total
            var (low, high) = (0, cumulative.count - 1)
            while low < high {
                let middle = (low + high) / 2
                if cumulative[middle] < target { low = middle + 1 } else { high = middle }
            }
            return UInt32(min(low + 1, vocab - 1))
        }
        let pool: [(TokenBatch, [UInt32])] = (0..<8).map { _ in
            let ids = (0..<batch * seqLen).map { _ in zipfID() }
            return (TokenBatch(rows: batch, length: seqLen, ids: ids, lengths: [Int32](repeating: Int32(seqLen), count: batch)),
                    (0..<batch).map { _ in UInt32(random.next() % UInt64(classes)) })
        }
        // The products of the LSTM layers, per token: input and recurrent kernels, 4 gates.
        let forwardFlops = (0..<layers).reduce(0.0) { total, layer in
            total + 2 * Double((layer == 0 ? embed : units) + units) * Double(4 * units)
        }
        let distinctFraction = pool.reduce(0.0) { $0 + Double(LSTM.inputProductRows(embeddedIDs: $1.0.ids)) } / Double(pool.count * batch * seqLen)
        let trainRunFlops = 3 * forwardFlops - 3 * 2 * Double(embed * 4 * units) * (1 - distinctFraction)
        let peak = KernelSet.selected.fmaPeak(threads: threads)
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
            // The peers' protocol: a few untimed batches (the first inference pass sets up its
            // own buffers), then the timed ones.
            if projectedEmbedding { model.freezeForPrediction() }
            for step in 0..<inferWarmup { _ = try model.forward(pool[step % 8].0, training: false) }
            start = clock.now
            let inferBatches = max(1, inferSteps)
            for step in 0..<inferBatches { _ = try model.forward(pool[step % 8].0, training: false) }
            let inferSeconds = (clock.now - start).seconds
            let tokens = Double(batch * seqLen)
            let (train, infer) = (tokens * Double(steps) / trainSeconds, tokens * Double(inferBatches) / inferSeconds)
            let projected = model.projectedEmbedding?.isBuilt == true
            let inferFlops = forwardFlops - (projected ? 2 * Double(embed * 4 * units) : 0)
            return Result(
                batch: batch, train_tokens_per_s: train, infer_tokens_per_s: infer, peak_rss_mb: peakResidentMegabytes(),
                minor_page_faults_per_step: faultsPerStep, blas_core: Gemm.coreName, kernels: KernelSet.selected.description,
                fma_peak_gflops: peak / 1e9, train_flops_per_token: 3 * forwardFlops, infer_flops_per_token: inferFlops,
                train_peak_fraction: train * 3 * forwardFlops / peak, infer_peak_fraction: infer * inferFlops / peak,
                distinct_fraction: distinctFraction, train_run_flops_per_token: trainRunFlops, train_run_peak_fraction: train * trainRunFlops / peak,
                projected_embedding: projected, projection_build_s: model.projectedEmbedding?.buildSeconds, threads: threads,
                loss_first: losses.first ?? 0, loss_last: losses.last ?? 0, steps: steps)
        }
        if output.json {
            try printJSON(result)
        } else {
            let percent = { (fraction: Double) in String(format: "%.0f %%", 100 * fraction) }
            print("train \(Int(result.train_tokens_per_s)) tokens/s (\(percent(result.train_peak_fraction)) of FMA peak; \(percent(result.train_run_peak_fraction)) counting the products run, \(percent(result.distinct_fraction)) of ids distinct), infer \(Int(result.infer_tokens_per_s)) tokens/s (\(percent(result.infer_peak_fraction))), peak RSS \(Int(result.peak_rss_mb)) MB, loss \(result.loss_first) -> \(result.loss_last)")
            let build = result.projection_build_s.map { String(format: " (built in %.3f s)", $0) } ?? ""
            print("inference \(result.projected_embedding ? "read layer 0's input projections from the projected embedding\(build)" : "multiplied every product")")
            print("kernels \(result.kernels), FMA peak \(Int(result.fma_peak_gflops)) GFLOP/s on \(threads) threads, BLAS core \(result.blas_core)")
        }
    }
}
