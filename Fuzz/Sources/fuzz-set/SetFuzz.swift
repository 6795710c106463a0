import FolioCore
import FolioPipeline
import FuzzSupport

/// `--set` assignments (one per line of the input) applied to the demo pipeline: a valid
/// configuration or a FolioError.
let demo: String = {
    guard let bytes = try? readWholeFile("pipelines/demo.toml") else { fatalError("run from the repository root") }
    return String(decoding: bytes, as: UTF8.self)
}()

@_cdecl("fuzz_set_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let text = String(decoding: inputBytes(data, size), as: UTF8.self)
    checkParse(demo, overrides: text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init))
    return 0
}
