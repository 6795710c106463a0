import FolioPipeline
import HTTPTypes
import Hummingbird
import Logging

/// The routes, each a few lines over typed values:
///
/// | route | answer |
/// |---|---|
/// | `POST /v1/predict` | ``PredictRequest`` -> ``PredictResponse`` |
/// | `GET /v1/model` | ``ModelFacts`` |
/// | `GET /healthz` | `{"status": "ok"}` |
/// | `GET /metrics` | Prometheus text (``ServiceMetrics``) |
/// | `GET /` | the page (``ServicePage``) |
struct PredictionService: Sendable {
    let batcher: PredictionBatcher
    let facts: ModelFacts
    let limits: PredictRequest.Limits
    let metrics: ServiceMetrics

    static let routes: [String: [HTTPRequest.Method]] = [
        "/": [.get], "/v1/predict": [.post], "/v1/model": [.get], "/healthz": [.get], "/metrics": [.get],
    ]

    struct Health: Codable { var status = "ok" }

    func router(logger: Logger) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ServiceMiddleware(routes: Self.routes, metrics: metrics, logger: logger))
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: ServicePage.html)))
        }
        router.get("/healthz") { _, _ in JSONResponse.make(Health()) }
        router.get("/metrics") { [metrics] _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.text())))
        }
        router.get("/v1/model") { [facts] _, _ in JSONResponse.make(facts) }
        router.post("/v1/predict") { [batcher, limits, facts] request, _ in
            var request = request
            let body = try await request.collectBody(upTo: limits.bodyBytes)
            let parsed = try PredictRequest(body: body, limits: limits, labels: facts.labels.count)
            return JSONResponse.make(PredictResponse(predictions: try await batcher.predict(parsed.texts, topK: parsed.topK)))
        }
        return router
    }
}
