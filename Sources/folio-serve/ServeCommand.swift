import ArgumentParser
import FolioCore
import FolioNN
import FolioPipeline
import Foundation
import Hummingbird
import Logging

@main
enum FolioServeMain {
    static func main() async {
        BLASCoreSelection.reexecIfNeeded()
        if let error = KernelSet.environmentError {
            FileHandle.standardError.write(Data("folio-serve: error: \(error)\n".utf8))
            exit(2)
        }
        configureForTraining()
        await ServeCommand.main()
    }
}

/// `folio-serve MODEL`: the model behind HTTP until SIGTERM or SIGINT, which stop new
/// connections, let the requests in flight finish, and exit 0.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "folio-serve",
        abstract: "Serve a trained model over HTTP: POST /v1/predict, GET /v1/model, /healthz, /metrics, and a page at /.",
        version: "0.1.0"
    )

    @Argument(help: "A model folder (runs/<name>/model).") var model: String
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0: any free one; the chosen one is printed).") var port = 8080
    @Option(help: "Predicting threads, each with its own copy of the layers (the weights shared).") var workers = 2
    @Option(help: "A batch stops taking requests at this many texts.") var maxBatch = 64
    @Option(help: "Milliseconds a batch waits for more requests after its first.") var batchWindowMs = 1.0
    @Option(help: "Largest request body in bytes (413 beyond).") var maxBodyBytes = 1 << 20
    @Option(help: "Most texts in one request (413 beyond).") var maxTexts = 256
    @Option(help: "Most characters in one text (422 beyond).") var maxCharacters = 100_000
    @Option(help: "trace, debug, info (an access-log line per request), notice, warning, error.") var logLevel = "info"
    @Option(help: .hidden) var batchDelayMs = 0.0

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard (1...256).contains(workers) else { throw ValidationError("--workers must be between 1 and 256") }
        guard maxBatch >= 1, maxTexts >= 1, maxCharacters >= 1, maxBodyBytes >= 2 else {
            throw ValidationError("--max-batch, --max-texts, --max-characters and --max-body-bytes must be positive")
        }
        guard batchWindowMs >= 0, batchWindowMs <= 1000 else { throw ValidationError("--batch-window-ms must be between 0 and 1000") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level '\(logLevel)'") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "folio-serve")
        let metrics = ServiceMetrics()
        let service: PredictionService
        do throws(FolioError) {
            let predictor = try Predictor(folder: model)
            var settings = PredictionBatcher.Settings()
            settings.workers = workers
            settings.maxBatch = maxBatch
            settings.window = .microseconds(Int64(batchWindowMs * 1000))
            settings.minimumBatchTime = .microseconds(Int64(batchDelayMs * 1000))
            let batcher = try PredictionBatcher(predictor: predictor, settings: settings) { metrics.batch($0) }
            service = PredictionService(
                batcher: batcher, facts: ModelFacts(bundle: predictor.bundle, parameters: predictor.model.network.arena.count),
                limits: PredictRequest.Limits(bodyBytes: maxBodyBytes, texts: maxTexts, characters: maxCharacters), metrics: metrics)
        } catch {
            FileHandle.standardError.write(Data("folio-serve: error: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let host = host
        let app = Application(
            router: service.router(logger: logger),
            configuration: .init(address: .hostname(host, port: port), serverName: "folio-serve"),
            onServerRunning: { channel in
                // The one line a script waits for (the port, when 0 was asked for).
                FileHandle.standardOutput.write(Data("folio-serve: listening on http://\(host):\(channel.localAddress?.port ?? 0)\n".utf8))
            },
            logger: logger)
        try await app.runService()
        service.batcher.shutDown()
        print("folio-serve: stopped")
    }
}
