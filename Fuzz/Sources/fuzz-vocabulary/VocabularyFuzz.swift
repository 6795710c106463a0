import FolioCore
import FolioText
import FuzzSupport

/// Any bytes as `vocabulary.tsv`: a vocabulary whose ids are its lines, or a FolioError
/// naming the file and line.
let scratch = ScratchFolder()

@_cdecl("fuzz_vocabulary_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    scratch.readsCleanly(inputBytes(data, size), as: "vocabulary.tsv") { path throws(FolioError) in
        let vocabulary = try Vocabulary(contentsOf: path)
        check(vocabulary.count >= 2, "a vocabulary without <pad> and <oov>")
        for id in 2..<min(vocabulary.count, 64) {
            check(vocabulary.id(for: vocabulary.tokens[id]) == UInt32(id), "ids and tokens disagree at \(id)")
        }
    }
}
