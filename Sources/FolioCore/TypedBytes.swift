extension Array where Element == UInt8 {
    /// `withUnsafeBytes` for bodies that throw ``FolioError``: the standard one rethrows
    /// untyped errors, which typed-throws callers cannot pass on.
    @inlinable
    public func withBytes<Result>(
        _ body: (UnsafeRawBufferPointer) throws(FolioError) -> Result
    ) throws(FolioError) -> Result {
        let outcome = withUnsafeBytes { bytes in
            Swift.Result { () throws(FolioError) in try body(bytes) }
        }
        return try outcome.get()
    }
}

/// Text of a NUL-terminated C buffer.
public func string(fromCBuffer buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
