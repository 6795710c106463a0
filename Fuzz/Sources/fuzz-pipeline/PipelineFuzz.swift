import FolioCore
import FolioPipeline
import FuzzSupport

/// Any text as a pipeline file: a configuration that passes its own validation and
/// survives a TOML round trip, or a FolioError naming the file.
@_cdecl("fuzz_pipeline_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let text = String(decoding: inputBytes(data, size), as: UTF8.self)
    checkParse(text, overrides: [])
    return 0
}
