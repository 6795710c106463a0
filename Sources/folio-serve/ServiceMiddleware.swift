import FolioCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Around every request: errors as JSON (``ServiceError``), 405 for a known route asked
/// with another method (the router answers 404 for both), one structured access-log line,
/// and the request metrics.
struct ServiceMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    /// Each route's methods, for 405 and its `Allow` header.
    let routes: [String: [HTTPRequest.Method]]
    let metrics: ServiceMetrics
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let path = request.uri.path
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as ServiceError {
            response = try error.response(from: request, context: context)
        } catch let error as HTTPError where error.status == .notFound {
            if let methods = routes[path] {
                var refusal = ServiceError(.methodNotAllowed, "\(path) takes \(methods.map(\.rawValue).joined(separator: ", "))")
                refusal.headers = [.allow: methods.map(\.rawValue).joined(separator: ", ")]
                response = try refusal.response(from: request, context: context)
            } else {
                response = try ServiceError(.notFound, "no such route (routes: \(routes.keys.sorted().joined(separator: ", ")))")
                    .response(from: request, context: context)
            }
        } catch let error as any HTTPResponseError {
            // Hummingbird's own refusals (a body over the limit, ...), in the same JSON shape.
            response = try ServiceError(error.status, error.status.code == 413 ? "the body is too large" : error.status.reasonPhrase)
                .response(from: request, context: context)
        } catch {
            logger.error("request failed", metadata: ["path": .string(path), "error": .string("\(error)")])
            response = try ServiceError(.internalServerError, "internal error").response(from: request, context: context)
        }
        let duration = ContinuousClock.now - started
        let route = routes[path] == nil ? "other" : path
        metrics.request(route: route, method: request.method.rawValue, status: response.status.code, duration: duration)
        logger.info("request", metadata: [
            "method": .string(request.method.rawValue), "path": .string(path), "status": .stringConvertible(response.status.code),
            "ms": .string(String(format: "%.2f", duration.seconds * 1000)),
            "id": .string(context.id),
        ])
        return response
    }
}
