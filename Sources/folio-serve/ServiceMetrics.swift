import Prometheus

/// What `GET /metrics` reports, in Prometheus's text format: requests by route, method and
/// status, their latency, the size of each prediction batch. Held by the service and
/// passed in (no process-wide metrics system).
struct ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let batchSizes: ValueHistogram
    private let texts: Counter

    static let latencyBuckets: [Duration] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000].map { .milliseconds($0) }

    init() {
        batchSizes = registry.makeValueHistogram(
            descriptor: Self.name("batch_size", "texts", "Texts per forward pass (requests batched together)."),
            buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
        texts = registry.makeCounter(descriptor: Self.name("texts", "total", "Texts predicted."))
    }

    func batch(_ size: Int) {
        batchSizes.record(Double(size))
        texts.increment(by: Int64(size))
    }

    func request(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(descriptor: Self.name("requests", "total", "HTTP requests answered."),
                             labels: [("route", route), ("method", method), ("status", String(status))]).increment()
        registry.makeDurationHistogram(descriptor: Self.name("request_duration", "seconds", "Time from request to response."),
                                       labels: [("route", route)], buckets: Self.latencyBuckets).record(duration)
    }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "folio", metricName: metric, unitName: unit, helpText: help)
    }

    func text() -> [UInt8] { registry.emitToBuffer() }
}
