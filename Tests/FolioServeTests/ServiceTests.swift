import FolioTestSupport
import Foundation
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A `folio-serve` process on a free loopback port, talked to over real HTTP.
final class ServedModel: @unchecked Sendable {  // set up in init, then only read
    let process = Process()
    let port: Int
    private let output = Pipe()
    private let errors = Pipe()

    init(model: String, _ extra: [String] = []) throws {
        process.executableURL = FolioProcess.product("folio-serve")
        process.arguments = [model, "--port", "0", "--log-level", "warning"] + extra
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // The first line names the port: read byte by byte so that nothing after it is taken.
        var line: [UInt8] = []
        let handle = output.fileHandleForReading
        while line.last != 0x0A {
            let byte = handle.readData(ofLength: 1)
            guard let first = byte.first else { break }
            line.append(first)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("folio-serve: listening on http://127.0.0.1:"), let port = Int(text.split(separator: ":").last!.dropLast()) else {
            process.terminate()
            throw ServeFailure(message: "no listening line: '\(text)' \(String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self))")
        }
        self.port = port
    }

    struct ServeFailure: Error { var message: String }

    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:] }
        var error: [String: Any] { json["error"] as? [String: Any] ?? [:] }
    }

    func request(_ method: String, _ path: String, body: Data? = nil) async throws -> Answer {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.httpBody = body
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        var headers: [String: String] = [:]
        for (key, value) in http.allHeaderFields { headers[String(describing: key).lowercased()] = String(describing: value) }
        return Answer(status: http.statusCode, headers: headers, body: data)
    }

    func predict(_ texts: [String], topK: Int = 3) async throws -> Answer {
        try await request("POST", "/v1/predict", body: JSONSerialization.data(withJSONObject: ["texts": texts, "top_k": topK]))
    }

    /// Sends SIGTERM; returns the exit status and what was printed after the first line.
    func terminate() -> (status: Int32, stdout: String) {
        process.terminate()
        let rest = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: rest, as: UTF8.self))
    }

    deinit { if process.isRunning { process.terminate() } }
}

/// `folio-serve` as a client sees it: routes, refusals with their status and field, the
/// same predictions as `folio predict`, batching across requests, draining on SIGTERM, and
/// the page in a real browser.
@Suite(.serialized) struct ServiceTests {
    let temporary = TemporaryFolder(prefix: "folio-serve-")
    var folder: String { temporary.path }
    var model: String { folder + "/run/model" }
    static let texts = ["the comet and the galaxy", "melody of the choir", "", "zyzzyva quux", "tomato basil oven and garlic"]

    init() throws {
        try TinyCorpus.writeRun(into: folder, training: "epochs = 3\nlearning_rate = 0.05")
        let run = try FolioProcess(["run", folder + "/tiny.toml", "--run-dir", folder + "/run"])
        #expect(run.status == 0, "\(run.stderr)")
    }

    @Test func routesAnswerAndPredictAsFolioPredictDoes() async throws {
        let served = try ServedModel(model: model)
        let health = try await served.request("GET", "/healthz")
        #expect(health.status == 200 && health.json["status"] as? String == "ok")
        let facts = try await served.request("GET", "/v1/model").json
        #expect(facts["labels"] as? [String] == TinyCorpus.labels.sorted())
        #expect(facts["pipeline"] as? String == "tiny")
        #expect((facts["layers"] as? [String])?.first?.hasPrefix("Embedding(") == true && (facts["parameters"] as? Int ?? 0) > 0)

        let answer = try await served.predict(Self.texts, topK: 2)
        #expect(answer.status == 200 && answer.headers["content-type"] == "application/json")
        let predictions = try #require(answer.json["predictions"] as? [[String: Any]])
        try Self.texts.joined(separator: "\n").write(toFile: folder + "/texts.txt", atomically: true, encoding: .utf8)
        let cli = try FolioProcess(["predict", model, "--json", "--top-k", "2"], stdin: folder + "/texts.txt")
        let lines = cli.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(predictions.count == Self.texts.count && lines.count == Self.texts.count)
        for (http, line) in zip(predictions, lines) {
            #expect(http["label"] as? String == line?["label"] as? String)
            #expect(http["tokens"] as? Int == line?["tokens"] as? Int && http["unknown_tokens"] as? Int == line?["unknown_tokens"] as? Int)
            let top = (http["top"] as? [[String: Any]])?.map { Float($0["probability"] as? Double ?? -1) }
            let cliTop = (line?["top"] as? [[String: Any]])?.map { Float($0["probability"] as? Double ?? -2) }
            #expect(top == cliTop, "the same probabilities, to float precision")
        }
        let page = try await served.request("GET", "/")
        #expect(page.status == 200 && String(decoding: page.body, as: UTF8.self).contains("/v1/predict"))
        #expect(served.terminate().status == 0)
    }

    @Test func refusalsNameTheirFieldAndStatus() async throws {
        let served = try ServedModel(model: model, ["--max-texts", "4", "--max-characters", "40", "--max-body-bytes", "2000"])
        func refused(_ body: String) async throws -> ServedModel.Answer {
            try await served.request("POST", "/v1/predict", body: Data(body.utf8))
        }
        let cases: [(String, Int, String?)] = [
            ("{not json", 400, nil),
            ("[1, 2]", 400, nil),
            (#"{"text": ["a"]}"#, 400, "text"),
            (#"{"top_k": 2}"#, 400, "texts"),
            (#"{"texts": "one"}"#, 400, "texts"),
            (#"{"texts": ["a", 7]}"#, 400, "texts[1]"),
            (#"{"texts": ["a"], "top_k": "2"}"#, 400, "top_k"),
            (#"{"texts": ["a"], "top_k": true}"#, 400, "top_k"),
            (#"{"texts": ["a"], "top_k": 0}"#, 422, "top_k"),
            (#"{"texts": ["a", "b", "c", "d", "e"]}"#, 413, "texts"),
            (#"{"texts": ["short", "\#(String(repeating: "long ", count: 9))"]}"#, 422, "texts[1]"),
            (#"{"texts": ["\#(String(repeating: "x", count: 3000))"]}"#, 413, nil),
        ]
        for (body, status, field) in cases {
            let answer = try await refused(body)
            #expect(answer.status == status, "\(body.prefix(60)): \(String(decoding: answer.body, as: UTF8.self))")
            #expect(answer.error["status"] as? Int == status && !(answer.error["message"] as? String ?? "").isEmpty)
            #expect(answer.error["field"] as? String == field, "\(body.prefix(60))")
        }
        let unknown = try await served.request("GET", "/v2/predict")
        #expect(unknown.status == 404 && unknown.error["status"] as? Int == 404)
        let wrongMethod = try await served.request("GET", "/v1/predict")
        #expect(wrongMethod.status == 405 && wrongMethod.headers["allow"] == "POST")
        let fine = try await served.predict(["comet"], topK: 99)
        #expect(fine.status == 200 && ((fine.json["predictions"] as? [[String: Any]])?.first?["top"] as? [Any])?.count == 3,
                "top_k beyond the labels lists them all")

        let metrics = String(decoding: try await served.request("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"folio_requests_total{route="/v1/predict",method="POST",status="400"} 8"#), "\(metrics)")
        #expect(metrics.contains(#"folio_requests_total{route="/v1/predict",method="GET",status="405"} 1"#))
        #expect(metrics.contains(#"folio_requests_total{route="other",method="GET",status="404"} 1"#))
        #expect(metrics.contains("folio_request_duration_seconds_bucket{route=\"/v1/predict\""))
        #expect(metrics.contains("folio_texts_total 1"), "only the accepted request reached the model")
        #expect(served.terminate().status == 0)
    }

    /// Concurrent requests inside one window share a forward pass.
    @Test func concurrentRequestsAreBatched() async throws {
        let served = try ServedModel(model: model, ["--workers", "1", "--batch-window-ms", "200", "--max-batch", "64"])
        let labels = try await withThrowingTaskGroup(of: String?.self) { group in
            for index in 0..<12 {
                group.addTask { try await (served.predict([Self.texts[index % 2]]).json["predictions"] as? [[String: Any]])?.first?["label"] as? String }
            }
            var labels: [String?] = []
            for try await label in group { labels.append(label) }
            return labels
        }
        #expect(labels.count == 12 && labels.allSatisfy { $0 == "astro" || $0 == "music" })
        let metrics = String(decoding: try await served.request("GET", "/metrics").body, as: UTF8.self)
        let count = metrics.split(separator: "\n").first { $0.hasPrefix("folio_batch_size_texts_count") }.flatMap { Int($0.split(separator: " ").last!) }
        #expect((count ?? 99) < 12, "12 requests in fewer forward passes: \(metrics)")
        #expect(metrics.contains("folio_texts_total 12"))
        #expect(served.terminate().status == 0)
    }

    /// SIGTERM while requests are being answered: each still gets its answer, then the
    /// process exits 0.
    @Test func sigtermDrainsRequestsInFlight() async throws {
        let served = try ServedModel(model: model, ["--batch-delay-ms", "1500", "--batch-window-ms", "0"])
        async let first = served.predict(["comet"])
        async let second = served.predict(["violin"])
        async let third = served.predict(["garlic"])
        try await Task.sleep(for: .milliseconds(500))
        let started = ContinuousClock.now
        served.process.terminate()
        let answers = try await [first, second, third]
        #expect(answers.map(\.status) == [200, 200, 200])
        #expect(answers.compactMap { ($0.json["predictions"] as? [[String: Any]])?.first?["label"] as? String } == ["astro", "music", "cook"])
        let (status, stdout) = served.terminate()
        #expect(status == 0 && stdout.contains("folio-serve: stopped"), "\(stdout)")
        #expect(ContinuousClock.now - started > .milliseconds(500), "it waited for the batches in flight")
    }

    /// The page in headless Chromium: opened with a text, it shows the model's labels and
    /// probabilities for it, as `POST /v1/predict` gives them.
    @Test func thePageShowsTheModelsPredictionInABrowser() async throws {
        let chromium = "/usr/bin/chromium"
        try #require(FileManager.default.isExecutableFile(atPath: chromium), "Chromium is missing: `make deps` installs it")
        let served = try ServedModel(model: model)
        let text = "melody chord and the violin"
        let expected = try #require((try await served.predict([text], topK: 5).json["predictions"] as? [[String: Any]])?.first)
        let browser = try FolioProcess(executable: chromium, [
            "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000", "--dump-dom",
            "http://127.0.0.1:\(served.port)/?text=" + text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
        ], environment: ["HOME": folder])
        #expect(browser.status == 0, "\(browser.stderr.suffix(500))")
        let shown = browser.stdout.matches(of: #/data-label="([^"]*)" data-probability="([^"]*)"/#).map { (String($0.1), Double($0.2)) }
        let top = try #require(expected["top"] as? [[String: Any]])
        #expect(shown.map(\.0) == top.map { $0["label"] as? String ?? "" }, "\(browser.stdout.suffix(2000))")
        #expect(zip(shown, top).allSatisfy { abs(($0.1 ?? -1) - ($1["probability"] as? Double ?? -2)) < 1e-9 })
        #expect(browser.stdout.contains("data-state=\"done\""))
        #expect(served.terminate().status == 0)
    }
}
