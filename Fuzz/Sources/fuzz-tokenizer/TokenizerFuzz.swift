import FolioCorpus
import FolioText
import FuzzSupport

/// Differential: the tokenizer's ASCII fast path against ICU alone gives the same tokens
/// for any text (the input made valid UTF-8 first, as the corpus readers do).
// One process runs one input at a time: the tokenizers are never shared between threads.
nonisolated(unsafe) let tokenizers: [Tokenizer] = {
    let variants = [TokenizerOptions(), TokenizerOptions(numbers: .map), TokenizerOptions(normalization: .none, maxTokenLength: 8)]
    return variants.map { options in
        guard let tokenizer = try? Tokenizer(options: options) else { fatalError("cannot open ICU") }
        return tokenizer
    }
}()

@_cdecl("fuzz_tokenizer_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv, fuzzOne)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = inputBytes(data, size)
    var text: [UInt8] = []
    var repair = UTF8Repair()
    repair.repair(UnsafeRawBufferPointer(rebasing: bytes.dropFirst()), isFinal: true, into: &text)
    let tokenizer = tokenizers[Int(bytes[0]) % tokenizers.count]
    var fast: [[UInt8]] = []
    var reference: [[UInt8]] = []
    do {
        try text.withUnsafeBytes { raw in
            try tokenizer.forEachToken(in: raw) { fast.append(Array($0)) }
            try tokenizer.forEachTokenICUOnly(in: raw) { reference.append(Array($0)) }
        }
    } catch {
        return 0
    }
    check(fast == reference, "fast path \(fast.map { String(decoding: $0, as: UTF8.self) }) != ICU \(reference.map { String(decoding: $0, as: UTF8.self) })")
    return 0
}
