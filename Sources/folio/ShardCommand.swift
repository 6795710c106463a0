import ArgumentParser
import FolioCore
import FolioPipeline
import FolioShards
import FolioText
import Foundation

struct ShardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shard",
        abstract: "Encode a corpus with a vocabulary into zstd-compressed shard files and a manifest.",
        discussion: "The shards are byte-identical for any --threads. Sequence length limits are applied by the loader, not here, so one shard set serves many models."
    )

    @Argument(help: "A folder of label folders or a .jsonl / .jsonl.zst file (as for folio vocab).")
    var corpus: String

    @Option(help: "The vocabulary (from folio vocab).")
    var vocabulary: String

    @Option(help: "The folder to write shard-NNNNN.fol files and manifest.json into.")
    var out: String

    @Option(help: "Close a shard once it reaches this size, e.g. 64MB.")
    var shardSize = ByteSize(bytes: 64 << 20)

    @Option(help: "Use the labels (and their ids) of another shard set, e.g. the training split's.")
    var labelsFrom: String?

    @Flag(help: "Keep the text of words outside the vocabulary in the records, for models with character n-grams ([model] minn, maxn).")
    var keepUnknownText = false
    @OptionGroup var corpusOptions: CorpusOptionGroup
    @OptionGroup var tokenizer: TokenizerOptionGroup
    @Option(help: "Tokenizing threads (default: the number of cores).")
    var threads: Int?
    @OptionGroup var output: OutputOptionGroup

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if shardSize.bytes < 1 << 16 { throw ValidationError("--shard-size must be at least 64KB") }
    }

    func run() throws {
        var options = ShardJobOptions()
        options.corpus = corpusOptions.unlabeledAllowed
        options.tokenizer = tokenizer.options
        options.shardBytes = shardSize.bytes
        options.keepUnknownText = keepUnknownText
        options.threads = threads ?? ProcessInfoLite.activeProcessorCount
        let display = ProgressDisplay(title: "shard")
        options.measureTotal = display.showsBar
        let report = try runReportingErrors(display) { () throws(FolioError) in
            if let labelsFrom { options.labels = try ShardSet(folder: labelsFrom).manifest.labels }
            return try ShardJob.run(
                corpusPath: corpus, vocabularyPath: vocabulary, outputFolder: out, options: options, communicator: Ranks.communicator,
                onWarning: { ProcessInfoLite.printError($0) }, onProgress: { display.update($0) })
        }
        guard Ranks.prints else { return }
        if output.json {
            try printJSON(report)
        } else {
            let perToken = report.tokens > 0 ? Double(report.bytesOnDisk) / Double(report.tokens) : 0
            print("""
                \(report.records) records, \(report.tokens) tokens in \(report.shards) shards, \
                \(report.bytesOnDisk) bytes (\(String(format: "%.2f", perToken)) bytes/token), written to \(out) \
                in \(String(format: "%.1f", report.seconds)) s
                """)
        }
    }
}

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a shard set: counts, labels, lengths, compression; --verify checks every checksum."
    )

    @Argument(help: "A shard set folder (with manifest.json).")
    var shards: String

    @Flag(help: "Check every shard's file checksum and every block's; exit non-zero at the first failure.")
    var verify = false

    @Option(help: "Refuse the shards unless they were made with this vocabulary.")
    var vocabulary: String?

    @Flag(help: "Print every record's tokens instead, one record per line, separated by spaces (what models see; --vocabulary or a vocabulary.tsv beside the shards names them).")
    var tokens = false

    @OptionGroup var output: OutputOptionGroup

    struct Report: Encodable {
        var records: Int
        var tokens: Int
        var shards: Int
        var bytes_on_disk: Int
        var bytes_per_token: Double
        var compression_ratio: Double
        var labels: [String: Int]
        var length_percentiles: [String: Int]
        /// Whether the records keep unknown words' text (`folio shard --keep-unknown-text`).
        var unknown_text: Bool
        var verified: Bool
    }

    func run() throws {
        if tokens { return try printTokens() }
        let report = try runReportingErrors { () throws(FolioError) -> Report in
            let set = try ShardSet(folder: shards)
            if let vocabulary {
                try set.checkVocabulary(fingerprint: try Vocabulary(contentsOf: vocabulary).fingerprint, path: vocabulary)
            }
            if verify { try set.verify() }
            let histogram = try set.labelCounts()
            // Lengths and sizes come from the footers alone.
            var lengths: [UInt32] = []
            var compressed = 0
            var decompressed = 0
            var unknownText = !set.manifest.shards.isEmpty
            for index in set.manifest.shards.indices {
                let reader = try set.reader(forShard: index)
                lengths += reader.tokenCounts
                unknownText = unknownText && reader.keepsUnknownText
                for info in reader.blocks {
                    compressed += Int(info.compressedBytes)
                    decompressed += Int(info.decompressedBytes)
                }
            }
            lengths.sort()
            let percentile = { (p: Double) -> Int in
                lengths.isEmpty ? 0 : Int(lengths[min(lengths.count - 1, Int(p / 100 * Double(lengths.count)))])
            }
            let bytes = set.manifest.shards.reduce(0) { $0 + $1.bytes }
            return Report(
                records: set.manifest.records, tokens: set.manifest.tokens, shards: set.manifest.shards.count,
                bytes_on_disk: bytes, bytes_per_token: Double(bytes) / Double(max(1, set.manifest.tokens)),
                compression_ratio: Double(decompressed) / Double(max(1, compressed)),
                labels: Dictionary(uniqueKeysWithValues: zip(set.manifest.labels, histogram)),
                length_percentiles: ["p0": percentile(0), "p50": percentile(50), "p90": percentile(90),
                                     "p99": percentile(99), "p100": percentile(100)],
                unknown_text: unknownText, verified: verify)
        }
        if output.json {
            try printJSON(report)
        } else {
            print("\(report.records) records, \(report.tokens) tokens, \(report.shards) shards, \(report.bytes_on_disk) bytes on disk "
                + "(\(String(format: "%.2f", report.bytes_per_token)) bytes/token, compression \(String(format: "%.1f", report.compression_ratio))x)")
            print("lengths: " + ["p0", "p50", "p90", "p99", "p100"].map { "\($0) \(report.length_percentiles[$0]!)" }.joined(separator: ", "))
            if report.unknown_text { print("unknown words' text kept (for character n-grams)") }
            for (label, count) in report.labels.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                print("  \(label)\t\(count)")
            }
            if verify { print("verified: every checksum matches") }
        }
    }

    /// The records as text, in stored order, written in blocks of about 1 MiB.
    func printTokens() throws {
        try runReportingErrors { () throws(FolioError) in
            let set = try ShardSet(folder: shards)
            let path = try requiredVocabulary(named: vocabulary, besideShards: shards)
            let words = try Vocabulary(contentsOf: path)
            try set.checkVocabulary(fingerprint: words.fingerprint, path: path)
            var text: [UInt8] = []
            for shard in set.manifest.shards.indices {
                let reader = try set.reader(forShard: shard)
                for block in reader.blocks.indices {
                    try reader.forEachRecord(inBlock: block) { _, _, ids throws(FolioError) in
                        for (index, id) in ids.enumerated() {
                            if index > 0 { text.append(0x20) }
                            text += Int(id) < words.count ? words.tokens[Int(id)].utf8 : "<oov>".utf8
                        }
                        text.append(0x0A)
                    }
                    FileHandle.standardOutput.write(Data(text))
                    text.removeAll(keepingCapacity: true)
                }
            }
        }
    }
}
