import ArgumentParser
import FolioCore
import FolioPipeline
import FolioShards
import Foundation

/// Trains one pipeline at several batch sizes from the same seeds and budget, each run in
/// its own `folio run` process (so that each one's peak memory is its own), and writes
/// sweep.md, sweep.jsonl and plots.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Does batch size affect quality? Train a pipeline at several batch sizes and seeds; write sweep.md, sweep.jsonl and SVG plots.",
        discussion: "With --accumulate-to N, each micro-batch size below N is also run with gradient accumulation to a virtual batch of N. Early stopping is switched off so that every run gets the same budget."
    )

    enum Scaling: String, ExpressibleByArgument, CaseIterable { case none, linear, sqrt }
    enum Budget: String, ExpressibleByArgument, CaseIterable { case epochs, samples, time }

    @OptionGroup var pipeline: PipelineOptionGroup
    @Option(help: "Micro-batch sizes, comma-separated.") var batchSizes = "8,16,32,64,128,256,512"
    @Option(help: "Learning rate scaling with the virtual batch, relative to the pipeline's batch: none, linear, sqrt.") var lrScaling = Scaling.none
    @Option(help: "Also run each smaller micro-batch accumulated to this virtual batch.") var accumulateTo: Int?
    @Option(help: "Seeds per setting (1, 2, ...).") var seeds = 1
    @Option(help: "The same budget for every run: epochs (training.epochs), samples (--samples), time (--seconds).") var budget = Budget.epochs
    @Option(help: "Training examples per run with --budget samples.") var samples: Int?
    @Option(help: "Seconds of training per run with --budget time.") var seconds: Double?
    @Option(help: "The sweep folder (default: runs/<pipeline name>-sweep).") var out: String?
    @Flag(help: "Only rewrite sweep.md and the plots from the folder's sweep.jsonl (no training).") var render = false
    @OptionGroup var output: OutputOptionGroup

    func validate() throws {
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--batch-sizes takes positive integers, e.g. 8,16,32") }
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1") }
        if budget == .samples && (samples ?? 0) < 1 { throw ValidationError("--budget samples needs --samples N") }
        if budget == .time && (seconds ?? 0) <= 0 { throw ValidationError("--budget time needs --seconds S") }
    }

    var sizes: [Int] { batchSizes.split(separator: ",").compactMap { Int($0.trimmed(" ")) } }

    func run() throws {
        let display = ProgressDisplay(title: "sweep")
        let summary = try runReportingErrors(display) { () throws(FolioError) -> SweepReport in
            let config = try pipeline.read()
            let folder = out ?? "runs/\(config.name)-sweep"
            let baseBatch = config.loader.batchSize * config.training.accumulationSteps
            let baseRate = Double(config.training.optimizer.initialLearningRate)
            let report = { (records: [SweepRecord]) in
                SweepReport(name: config.name, records: records, budget: budgetText(config), lrScaling: lrScaling.rawValue,
                            baseBatch: baseBatch, baseLearningRate: baseRate)
            }
            if render {
                let lines = try readWholeFile(folder + "/sweep.jsonl").split(separator: 0x0A)
                var records: [SweepRecord] = []
                for (number, line) in lines.enumerated() {
                    do { records.append(try JSONDecoder().decode(SweepRecord.self, from: Data(line))) } catch {
                        throw FolioError("not a sweep record: \(error)", file: folder + "/sweep.jsonl", place: "line \(number + 1)")
                    }
                }
                try report(records).write(to: folder)
                return report(records)
            }
            let data = PipelineRunner(config: config, runDir: folder + "/data")
            data.events.stage = { name, skipped in display.note("data: \(name)\(skipped ? " (unchanged)" : "")") }
            try data.prepareData()
            let records = try ShardManifest.read(folder: folder + "/data/shards/train").records
            var settings: [(micro: Int, steps: Int)] = sizes.map { ($0, 1) }
            if let accumulateTo {
                settings += sizes.filter { $0 < accumulateTo && accumulateTo % $0 == 0 }.map { ($0, accumulateTo / $0) }
            }
            var results: [SweepRecord] = []
            for (index, setting) in settings.enumerated() {
                for seed in 1...UInt64(seeds) {
                    let virtual = Double(setting.micro * setting.steps)
                    let scale = lrScaling == .none ? 1 : lrScaling == .linear ? virtual / Double(baseBatch) : (virtual / Double(baseBatch)).squareRoot()
                    let runDir = folder + "/b\(setting.micro)-k\(setting.steps)-s\(seed)"
                    var record = SweepRecord(microBatch: setting.micro, accumulationSteps: setting.steps, seed: seed,
                                             learningRate: baseRate * scale, runDir: runDir)
                    let sweepBudget: SweepBudget = switch budget {
                    case .epochs: .epochs
                    case .samples: .samples(samples ?? 0)
                    case .time: .seconds(seconds ?? 0)
                    }
                    // Typed edits of the pipeline, validated, written where the run goes: the
                    // child reads exactly this configuration.
                    // The file lands in another folder: its paths must not depend on where it is.
                    let runConfig = try config.sweepRun(microBatch: setting.micro, accumulationSteps: setting.steps, seed: seed,
                                                        learningRate: record.learningRate, budget: sweepBudget, trainingRecords: records).withAbsolutePaths()
                    display.note("sweep \(index * seeds + Int(seed))/\(settings.count * seeds): micro-batch \(setting.micro) x \(setting.steps), seed \(seed), learning rate \(String(format: "%.4g", record.learningRate))")
                    let runner = PipelineRunner(config: runConfig, runDir: runDir)
                    try runner.adoptData(from: folder + "/data")
                    try writeText(try runConfig.toml(), to: runDir + "/pipeline.toml")
                    switch runChild(["run", runDir + "/pipeline.toml", "--run-dir", runDir, "--json"], log: runDir + "/run.log") {
                    case .success(let result): record.complete(with: result)
                    case .failure(let message): record.failure = message
                    }
                    results.append(record)
                    try report(results).write(to: folder)
                }
            }
            display.note("sweep written to \(folder)/sweep.md")
            return report(results)
        }
        print(summary.markdown())
        if output.json { try printJSON(summary.records) }
    }

    private func budgetText(_ config: PipelineConfig) -> String {
        switch budget {
        case .epochs: "\(config.training.epochs) epochs"
        case .samples: "\(samples ?? 0) training examples"
        case .time: "\(seconds ?? 0) s of training"
        }
    }

    enum ChildOutcome {
        case success(PipelineResult)
        case failure(String)
    }

    /// Runs this executable with `arguments`, its progress going to `log`; its last output
    /// line is its JSON result.
    private func runChild(_ arguments: [String], log: String) -> ChildOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = arguments
        let out = Pipe()
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        guard let logHandle = FileHandle(forWritingAtPath: log) else { return .failure("cannot write \(log)") }
        defer { try? logHandle.close() }
        process.standardOutput = out
        process.standardError = logHandle
        do { try process.run() } catch { return .failure("cannot start: \(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errorText = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        guard process.terminationStatus == 0, let last = lines.last,
              let result = try? JSONDecoder().decode(PipelineResult.self, from: Data(last.utf8)) else {
            let lastLine = errorText.split(separator: "\n").last.map(String.init) ?? ""
            return .failure("exit \(process.terminationStatus)" + (lastLine.isEmpty ? "" : ": " + lastLine))
        }
        return .success(result)
    }
}
