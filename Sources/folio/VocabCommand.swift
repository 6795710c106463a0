import ArgumentParser
import FolioCore
import FolioPipeline
import FolioText
import Foundation

struct VocabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vocab",
        abstract: "Count the tokens of a corpus and write its vocabulary (token<TAB>count, in id order).",
        discussion: "Ids: 0 <pad>, 1 <oov>, then tokens by count descending, ties by UTF-8 bytes. Counting spills to disk beyond --memory, so any corpus fits; the file is the same for any memory budget and thread count."
    )

    @Argument(help: "A folder of label folders (<label>/<name>.txt, optionally under train/ and test/) or a .jsonl / .jsonl.zst file.")
    var corpus: String

    @Option(help: "Where to write the vocabulary.")
    var out = "vocabulary.tsv"

    @Option(help: "Largest vocabulary, <pad> and <oov> included (as Keras max_tokens).")
    var maxTokens: Int?

    @Option(help: "Leave out tokens seen fewer times.")
    var minCount = 1

    @OptionGroup var corpusOptions: CorpusOptionGroup
    @OptionGroup var tokenizer: TokenizerOptionGroup
    @OptionGroup var resources: ResourceOptionGroup
    @OptionGroup var output: OutputOptionGroup

    func validate() throws {
        if let maxTokens, maxTokens < 2 { throw ValidationError("--max-tokens must be at least 2 (<pad> and <oov>)") }
        if minCount < 1 { throw ValidationError("--min-count must be at least 1") }
    }

    func run() throws {
        var options = VocabularyJobOptions()
        options.corpus = corpusOptions.unlabeledAllowed
        options.tokenizer = tokenizer.options
        options.vocabulary = VocabularyOptions(maxTokens: maxTokens, minCount: minCount)
        options.memoryBudget = resources.memory.bytes
        options.threads = resources.threadCount
        let display = ProgressDisplay(title: "vocab")
        options.measureTotal = display.showsBar
        let report = try runReportingErrors(display) { () throws(FolioError) in
            try VocabularyJob.run(
                corpusPath: corpus, outputPath: out, options: options, communicator: Ranks.communicator,
                onWarning: { ProcessInfoLite.printError($0) },
                onProgress: { display.update($0) })
        }
        guard Ranks.prints else { return }
        if output.json {
            try printJSON(report)
        } else {
            print("""
                \(report.documents) documents, \(report.tokens) tokens, \(report.distinctTokens) distinct; \
                vocabulary of \(report.vocabularySize) written to \(out) in \(String(format: "%.1f", report.seconds)) s
                """)
        }
    }
}

/// Runs a job; a ``FolioError`` becomes one line on standard error and exit status 1, or,
/// for a job a signal stopped, 128 + the signal with `resumeHint` after the error.
func runReportingErrors<Result>(
    _ display: ProgressDisplay? = nil, resumeHint: String = "", _ body: () throws(FolioError) -> Result
) throws -> Result {
    do {
        let result = try body()
        display?.finish()
        return result
    } catch {
        display?.finish()
        if let signal = error.signal {
            ProcessInfoLite.printError("folio: stopped: \(error)\(resumeHint)")
            throw ExitCode(128 + signal)
        }
        ProcessInfoLite.printError("folio: error: \(error)")
        throw ExitCode(1)
    }
}

/// One JSON object on one line, keys sorted, as the last line of output.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    print(String(decoding: data, as: UTF8.self))
}
