import Foundation

/// Runs the built `folio` executable, as a user would.
public struct FolioProcess {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// The signal that ended the process, if one did.
    public var terminatedBySignal: Int32?

    public static var executable: URL { product("folio") }

    /// A built executable of this package (`folio`, `folio-serve`).
    public static func product(_ name: String) -> URL {
        // Test bundles sit next to the products they were built with.
        var folder = Bundle.main.bundleURL
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) && folder.path != "/" {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent(name)
    }

    /// Runs folio with `arguments`, standard input read from the file `stdin` when given.
    public init(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws {
        try self.init(executable: Self.executable.path, arguments, stdin: stdin, environment: environment)
    }

    /// Runs another program (a wrapper such as `unshare` that runs folio).
    public init(executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let stdin { process.standardInput = FileHandle(forReadingAtPath: stdin) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        status = process.terminationStatus
        terminatedBySignal = process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil
        stdout = String(decoding: outData, as: UTF8.self)
        stderr = String(decoding: errData, as: UTF8.self)
    }
}

extension FolioProcess {
    /// Open MPI's launcher (`make deps` installs it).
    public static let mpirun = "/usr/bin/mpirun"

    /// `mpirun -np RANKS folio ARGUMENTS` over this machine's loopback, as a user on one
    /// machine runs it: `--oversubscribe` as the test machine may have fewer cores than
    /// ranks, and root allowed (CI containers run as root).
    public init(ranks: Int, _ arguments: [String], environment: [String: String] = [:]) throws {
        let root = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]
        try self.init(executable: Self.mpirun, ["--oversubscribe", "-np", String(ranks), Self.executable.path] + arguments,
                      environment: root.merging(environment) { $1 })
    }
}
