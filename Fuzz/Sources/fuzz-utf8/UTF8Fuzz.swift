import FolioCorpus
import FuzzSupport

/// UTF-8 repair against Swift's own decoder (both replace each maximal invalid subpart
/// with U+FFFD), whole and cut into two chunks at a point the input chooses.
@_cdecl("fuzz_utf8_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = inputBytes(data, size)
    let expected = Array(String(decoding: bytes, as: UTF8.self).utf8)
    var whole: [UInt8] = []
    var repair = UTF8Repair()
    repair.repair(bytes, isFinal: true, into: &whole)
    check(whole == expected, "repair differs from Swift's decoder")
    check(UTF8Repair.isValid(UnsafeRawBufferPointer(start: nil, count: 0)) && whole.withUnsafeBytes { UTF8Repair.isValid($0) },
                 "repaired output is not valid UTF-8")
    guard size > 1 else { return 0 }
    let cut = Int(bytes[0]) % size
    var pieces: [UInt8] = []
    var chunked = UTF8Repair()
    chunked.repair(UnsafeRawBufferPointer(rebasing: bytes[..<cut]), isFinal: false, into: &pieces)
    chunked.repair(UnsafeRawBufferPointer(rebasing: bytes[cut...]), isFinal: true, into: &pieces)
    check(pieces == expected, "repair depends on where the input was cut (at \(cut))")
    check(chunked.replacements == repair.replacements, "replacement counts differ when cut")
    return 0
}
