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
    let path = scratch.write(inputBytes(data, size), as: ShardManifest.fileName)
    do {
        _ = try ShardManifest.read(folder: scratch.path)
        _ = try ShardSet(folder: scratch.path)
    } catch {
        check(error.file?.hasPrefix(scratch.path) == true, "error without the file's name: \(error) (\(path))")
    }
    return 0
}
