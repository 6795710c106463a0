import ArgumentParser
import FolioCore
import FolioShards
import Foundation

/// One epoch through the loader, timing batch delivery only.
struct LoaderBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loader",
        abstract: "Tokens/s and peak RSS of the loader over full epochs of a shard set."
    )

    @Argument(help: "A shard set folder.") var shards: String
    @Option(help: "Batch size.") var batch = 64
    @Option(help: "Sequence length (pad/truncate).") var maxLength = 200
    @Option(help: "Loader memory budget, e.g. 256MB.") var memory = ByteSize(bytes: 256 << 20)
    @Flag(help: "Length bucketing (pads to the longest row).") var bucketing = false
    @Option(help: "Epochs.") var epochs = 1
    @OptionGroup var output: OutputOptionGroup

    struct Result: Encodable {
        var batches: Int
        var records: Int
        var tokens: Int
        var cells: Int
        var seconds: Double
        var tokens_per_s: Double
        var cells_per_s: Double
        var padding_fraction: Double
        var peak_rss_mb: Double
    }

    func run() throws {
        let result = try runReportingErrors { () throws(FolioError) -> Result in
            let set = try ShardSet(folder: shards)
            let loader = try ShardLoader(shards: set, options: LoaderOptions(
                batchSize: batch, maxLength: maxLength, padding: bucketing ? .longest : .maxLength,
                bucketing: bucketing, memoryBudget: memory.bytes))
            let clock = ContinuousClock()
            let start = clock.now
            var batches = 0, records = 0, tokens = 0, cells = 0
            for epoch in 0..<epochs {
                let iterator = loader.epoch(epoch)
                while let next = try iterator.next() {
                    batches += 1
                    records += next.rows
                    tokens += next.lengths.reduce(0) { $0 + Int($1) }
                    cells += next.ids.count
                }
            }
            let seconds = (clock.now - start).seconds
            return Result(
                batches: batches, records: records, tokens: tokens, cells: cells, seconds: seconds,
                tokens_per_s: Double(tokens) / seconds, cells_per_s: Double(cells) / seconds,
                padding_fraction: 1 - Double(tokens) / Double(max(1, cells)), peak_rss_mb: peakResidentMegabytes())
        }
        if output.json {
            try printJSON(result)
        } else {
            print("\(result.batches) batches, \(Int(result.tokens_per_s)) tokens/s (\(Int(result.cells_per_s)) cells/s), peak RSS \(Int(result.peak_rss_mb)) MB")
        }
    }
}
