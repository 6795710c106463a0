@testable import FolioCorpus
import FuzzSupport

/// The JSONL line parser on any bytes: fields or a syntax error at an offset inside the
/// line, never a crash or a hang; the same line parses the same way twice.
@_cdecl("fuzz_jsonl_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let line = inputBytes(data, size)
    var replacements = 0
    let keys = ["text", "label", "split", "id"]
    do {
        let first = try JSONLineParser.fields(keys, in: line, replacements: &replacements)
        var again = 0
        let second = try JSONLineParser.fields(keys, in: line, replacements: &again)
        check(first == second && replacements == again, "the parser is not a function of its input")
    } catch {
        guard case let .syntax(offset, _) = error else { return 0 }
        check(offset >= 0 && offset <= size, "syntax error offset \(offset) outside a line of \(size) bytes")
    }
    return 0
}
