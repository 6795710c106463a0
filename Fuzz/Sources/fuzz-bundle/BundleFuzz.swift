import FolioCore
import FolioPipeline
import FuzzSupport

/// Any bytes as a model bundle's `model.json`, beside the vocabulary and weights of a
/// real bundle (Fuzz/Fixed/bundle): a model or a
/// FolioError naming a file of the bundle, never a crash or an allocation that layer sizes
/// from outside make unbounded.
let scratch: ScratchFolder = {
    let folder = ScratchFolder()
    for name in [ModelBundle.vocabularyFile, ModelBundle.weightsFile] { folder.copy("Fuzz/Fixed/bundle/" + name, as: name) }
    return folder
}()

@_cdecl("fuzz_bundle_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    scratch.readsCleanly(inputBytes(data, size), as: ModelBundle.descriptionFile) { _ throws(FolioError) in
        _ = try ModelBundle.load(from: scratch.path)
    }
}
