import Glibc

/// An error that says what went wrong, in which file and where in it.
///
/// Every stage reports bad input through this type so that the CLI can print one
/// line of the form `file:place: message` and exit non-zero (DESIGN.md section 8).
public struct FolioError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file (or folder) the problem is in, when there is one.
    public var file: String?
    /// Where in the file: `line 12`, `byte 4096`, `block 3`, `key model.units`.
    public var place: String?
    public var message: String
    /// Set when the job stopped because a signal asked it to (``StopRequest``): the CLI
    /// then exits with 128 + the signal's number, as a shell reports a killed process.
    public var signal: Int32?

    public init(_ message: String, file: String? = nil, place: String? = nil, signal: Int32? = nil) {
        self.message = message
        self.file = file
        self.place = place
        self.signal = signal
    }

    public var description: String {
        switch (file, place) {
        case let (file?, place?): return "\(file): \(place): \(message)"
        case let (file?, nil): return "\(file): \(message)"
        case let (nil, place?): return "\(place): \(message)"
        case (nil, nil): return message
        }
    }

    /// The C library's text for an `errno` value.
    public static func systemMessage(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

