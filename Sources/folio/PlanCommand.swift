import ArgumentParser
import FolioCore
import FolioNN
import FolioPipeline
import FolioShards
import FolioText
import Foundation

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "The largest micro-batch whose training fits a memory limit, and the accumulation steps to reach a virtual batch.",
        discussion: "The estimate covers the training stage: parameters, gradients, optimizer state, activations kept for backward, loader and a measured fixed part. With the run directory's vocabulary and shards present it uses their sizes; otherwise vocabulary.max_tokens and the loader budget. With --ranks N (mpirun -np N), the memory is each rank's and the virtual batch is ranks x micro-batch x accumulation steps."
    )

    @OptionGroup var pipeline: PipelineOptionGroup
    @Option(help: "The memory limit, e.g. 2GB.") var memory: ByteSize
    @Option(help: "The batch the optimizer should see: micro-batch x accumulation steps.") var virtualBatch: Int?
    @Option(help: "The run directory (default: runs/<pipeline name>).") var runDir: String?
    @Option(help: "Ranks of a distributed run (mpirun -np N): each needs the memory shown.") var ranks = 1
    @OptionGroup var output: OutputOptionGroup

    struct Plan: Encodable {
        var ranks: Int
        var memory_limit: Int
        var fits: Bool
        var micro_batch: Int?
        var accumulation_steps: Int?
        var virtual_batch: Int?
        var predicted_peak: Int?
        var breakdown: MemoryEstimate?
        var configured_batch: Int
        var configured_peak: Int
        var warning: String?
    }

    func validate() throws {
        if let virtualBatch, virtualBatch < 1 { throw ValidationError("--virtual-batch must be at least 1") }
        if ranks < 1 { throw ValidationError("--ranks must be at least 1") }
    }

    func run() throws {
        let plan = try runReportingErrors { () throws(FolioError) -> Plan in
            var config = try pipeline.read()
            let folder = runDir ?? "runs/" + config.name
            // A classifier sized by the labels: by the prepared shards' labels when there are some.
            if let labels = try? ShardManifest.read(folder: folder + "/shards/train").labels.count { config = try config.sizingOutput(labels: labels) }
            var vocabularySize = config.vocabulary.options.maxTokens
            if FileManager.default.fileExists(atPath: folder + "/vocabulary.tsv") {
                vocabularySize = try Vocabulary(contentsOf: folder + "/vocabulary.tsv").count
            }
            guard let vocabularySize else {
                throw FolioError("the vocabulary size is unknown: set vocabulary.max_tokens or run the pipeline's data stages first",
                                 file: pipeline.pipeline)
            }
            // A model that cannot be built is an error here too, naming the layer.
            _ = try Sequential.layout(config.model.layers, vocabulary: vocabularySize)
            // The loaders decode the training documents and the held-out ones: both sets bound them.
            var shards = try? ShardManifest.read(folder: folder + "/shards/train")
            if let held = try? ShardManifest.read(folder: folder + "/shards/validation") {
                shards?.tokens += held.tokens
                shards?.records += held.records
            }
            let current = MemoryModel.estimate(config: config, vocabularySize: vocabularySize, microBatch: config.loader.batchSize,
                                                   trainShards: shards).perRank(of: ranks)
            // The reduction's buffers do not grow with the micro-batch: the search fits the rest in what they leave.
            let reduction = current.reduction
            guard let largest = MemoryModel.largestFittingMicroBatch(config: config, vocabularySize: vocabularySize,
                                                                          limit: memory.bytes - reduction, trainShards: shards) else {
                let smallest = MemoryModel.estimate(config: config, vocabularySize: vocabularySize, microBatch: 1, trainShards: shards).perRank(of: ranks)
                return Plan(ranks: ranks, memory_limit: memory.bytes, fits: false, breakdown: smallest, configured_batch: config.loader.batchSize,
                            configured_peak: current.total,
                            warning: "even a micro-batch of 1 needs \(megabytes(smallest.total)): parameters, gradients and optimizer state "
                                + "\(megabytes(smallest.parameters + smallest.gradients + smallest.optimizerState)), loader \(megabytes(smallest.loader)) "
                                + "(lower it with --set loader.memory=...), fixed \(megabytes(smallest.fixed))")
            }
            var micro = largest
            var steps = 1
            if let virtualBatch {
                steps = max(1, (virtualBatch + ranks * largest - 1) / (ranks * largest))
                micro = max(1, (virtualBatch + ranks * steps - 1) / (ranks * steps))
            }
            let estimate = MemoryModel.estimate(config: config, vocabularySize: vocabularySize, microBatch: micro, trainShards: shards).perRank(of: ranks)
            return Plan(ranks: ranks, memory_limit: memory.bytes, fits: true, micro_batch: micro, accumulation_steps: steps, virtual_batch: ranks * micro * steps,
                        predicted_peak: estimate.total, breakdown: estimate, configured_batch: config.loader.batchSize,
                        configured_peak: current.total,
                        warning: virtualBatch.map { ranks * micro * steps != $0 ? "virtual batch \(ranks * micro * steps) is the nearest to \($0) this micro-batch reaches" : nil } ?? nil)
        }
        if output.json { return try printJSON(plan) }
        if let warning = plan.warning, !plan.fits {
            print("does not fit in \(megabytes(plan.memory_limit)): \(warning)")
            throw ExitCode(2)
        }
        if let micro = plan.micro_batch, let steps = plan.accumulation_steps, let peak = plan.predicted_peak, let parts = plan.breakdown {
            let perRank = plan.ranks > 1 ? " per rank" : ""
            print((plan.ranks > 1 ? "\(plan.ranks) ranks x " : "") + "micro-batch \(micro) x \(steps) accumulation steps = virtual batch \(plan.ranks * micro * steps); "
                  + "predicted peak \(megabytes(peak))\(perRank) of \(megabytes(plan.memory_limit))")
            print("  parameters \(megabytes(parts.parameters)), gradients \(megabytes(parts.gradients)), optimizer state \(megabytes(parts.optimizerState)), "
                  + "activations \(megabytes(parts.activations)), loader \(megabytes(parts.loader)), fixed \(megabytes(parts.fixed))"
                  + (parts.weighting > 0 ? ", TF-IDF weighting \(megabytes(parts.weighting))" : "")
                  + (parts.reduction > 0 ? ", gradient reduction \(megabytes(parts.reduction))" : ""))
            print("  (the pipeline's batch \(plan.configured_batch) would need \(megabytes(plan.configured_peak)))")
            if let warning = plan.warning { print("  note: \(warning)") }
            print("run it: " + (plan.ranks > 1 ? "mpirun -np \(plan.ranks) " : "")
                  + "folio run \(pipeline.pipeline) --set loader.batch_size=\(micro) --set training.accumulation_steps=\(steps)")
        }
    }
}

func megabytes(_ bytes: Int) -> String { String(format: "%.0f MB", Double(bytes) / 1_048_576) }
