import FolioCore
import FolioNN
import FuzzSupport

/// Any bytes as a safetensors file (weights, checkpoints): its tensors, each no larger
/// than the file, or a FolioError naming the file.
let scratch = ScratchFolder()

@_cdecl("fuzz_safetensors_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    scratch.readsCleanly(inputBytes(data, size), as: "weights.safetensors") { path throws(FolioError) in
        let file = try SafetensorsFile(path: path)
        for (name, tensor) in file.tensors {
            check(tensor.count >= 0 && tensor.count * 4 <= size, "tensor \(name) of \(tensor.count) floats in a file of \(size) bytes")
            var values = [Float](repeating: 0, count: tensor.count)
            try values.withUnsafeMutableBufferPointer { buffer throws(FolioError) in try file.read(name, into: buffer) }
        }
        _ = try Safetensors.read(path)
    }
}
