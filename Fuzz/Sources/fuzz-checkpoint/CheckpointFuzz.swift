import FolioCore
import FolioPipeline
import FuzzSupport

/// Any bytes as a checkpoint folder's `checkpoint.json`, beside the weights and optimizer
/// files of a real checkpoint (Fuzz/Fixed/checkpoint): a checkpoint whose files are in the
/// folder, or a FolioError naming a file there.
let scratch: ScratchFolder = {
    let folder = ScratchFolder()
    for name in ["weights-8.safetensors", "optimizer-8.safetensors"] { folder.copy("Fuzz/Fixed/checkpoint/" + name, as: name) }
    return folder
}()

@_cdecl("fuzz_checkpoint_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    scratch.readsCleanly(inputBytes(data, size), as: "checkpoint.json") { _ throws(FolioError) in
        _ = try Checkpoint.read(folder: scratch.path)
    }
}
