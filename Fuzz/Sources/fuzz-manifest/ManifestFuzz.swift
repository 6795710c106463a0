import FolioCore
import FolioShards
import FuzzSupport

/// Any bytes as a shard set's `manifest.json`: a manifest or a FolioError naming it.
let scratch = ScratchFolder()

@_cdecl("fuzz_manifest_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    scratch.readsCleanly(inputBytes(data, size), as: ShardManifest.fileName) { _ throws(FolioError) in
        _ = try ShardManifest.read(folder: scratch.path)
        _ = try ShardSet(folder: scratch.path)
    }
}
