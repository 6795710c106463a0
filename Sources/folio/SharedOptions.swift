import FolioCore
import ArgumentParser
import FolioCorpus
import FolioText
import Foundation

extension TokenizerOptions.Normalization: ExpressibleByArgument {}
extension TokenizerOptions.Numbers: ExpressibleByArgument {}

/// How the corpus is read.
struct CorpusOptionGroup: ParsableArguments {
    @Option(help: "Split to read: a subfolder (train, test) or the JSONL 'split' value. Default: train when the corpus has splits.")
    var split: String?

    @Option(help: "JSONL key holding the text.")
    var textKey = "text"

    @Option(help: "JSONL key holding the label.")
    var labelKey = "label"

    var options: CorpusOptions {
        var options = CorpusOptions(split: split)
        options.textKey = textKey
        options.labelKey = labelKey
        return options
    }

    /// For commands that need no labels (vocab, shard): flat folders and JSONL without
    /// labels are corpora too.
    var unlabeledAllowed: CorpusOptions {
        var options = options
        options.allowsUnlabeled = true
        return options
    }
}

/// How text becomes tokens.
struct TokenizerOptionGroup: ParsableArguments {
    @Option(help: "Unicode normalization: \(TokenizerOptions.Normalization.allCases.map(\.rawValue).joined(separator: ", ")).")
    var normalization = TokenizerOptions.Normalization.nfkcCasefold

    @Option(help: "Numbers: keep them as tokens, or map them to <num>.")
    var numbers = TokenizerOptions.Numbers.keep

    @Option(help: "Cut longer tokens to this many characters (0: no limit).")
    var maxTokenLength = 100

    var options: TokenizerOptions {
        TokenizerOptions(normalization: normalization, numbers: numbers, maxTokenLength: maxTokenLength)
    }

    func validate() throws {
        guard maxTokenLength >= 0 else { throw ValidationError("--max-token-length must be 0 or more") }
    }
}

/// How much of the machine a command may use.
struct ResourceOptionGroup: ParsableArguments {
    @Option(help: "Memory budget for the counts, e.g. 64MB, 1GB (spills to disk beyond it).")
    var memory = ByteSize(bytes: 256 << 20)

    @Option(help: "Tokenizing threads (default: the number of cores).")
    var threads: Int?

    var threadCount: Int { threads ?? ProcessInfoLite.activeProcessorCount }

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if memory.bytes < 1 << 20 { throw ValidationError("--memory must be at least 1MB") }
    }
}

/// Output shape.
struct OutputOptionGroup: ParsableArguments {
    @Flag(help: "Print one JSON object with the results as the last line.")
    var json = false
}

/// The vocabulary named, else one beside the shards; an error naming the shards when neither.
func requiredVocabulary(named: String?, besideShards shards: String) throws(FolioError) -> String {
    guard let path = named ?? vocabularyBeside(shards: shards) else {
        throw FolioError("no vocabulary.tsv beside the shards: name it with --vocabulary", file: shards)
    }
    return path
}

/// A `vocabulary.tsv` in the shard folder's parent or grandparent (where `folio run` and
/// the README's recipes put it), if there is one.
func vocabularyBeside(shards: String) -> String? {
    let parent = ((shards as NSString).standardizingPath as NSString).deletingLastPathComponent
    return [parent, (parent as NSString).deletingLastPathComponent].map { $0 + "/vocabulary.tsv" }
        .first { FileManager.default.fileExists(atPath: $0) }
}
