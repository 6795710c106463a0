import FolioNN
import FolioPipeline
import Foundation
import HTTPTypes
import Hummingbird

/// `POST /v1/predict`'s body: `{"texts": ["...", ...], "top_k": 3}` (`top_k` optional).
///
/// Every refusal names its field (`texts[3]`) and picks its status: malformed or mistyped
/// 400, too many texts 413, a text too long or a `top_k` out of range 422.
struct PredictRequest: Sendable {
    var texts: [String]
    var topK: Int

    struct Limits: Sendable {
        var bodyBytes = 1 << 20
        var texts = 256
        var characters = 100_000
    }

    /// The body as sent: which keys, and the two the service knows.
    private struct Fields: Decodable {
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        var keys: [String]
        var texts: [String]?
        var topK: Int?

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            keys = container.allKeys.map(\.stringValue)
            texts = try container.decodeIfPresent([String].self, forKey: Key(stringValue: "texts"))
            topK = try container.decodeIfPresent(Int.self, forKey: Key(stringValue: "top_k"))
        }
    }

    init(body: ByteBuffer, limits: Limits, labels: Int) throws(ServiceError) {
        let fields: Fields
        do {
            fields = try JSONDecoder().decode(Fields.self, from: Data(buffer: body))
        } catch let DecodingError.typeMismatch(_, context) {
            throw Self.mistyped(context.codingPath)
        } catch let DecodingError.valueNotFound(_, context) {
            throw Self.mistyped(context.codingPath)
        } catch {
            throw ServiceError(.badRequest, "the body is not valid JSON")
        }
        if let unknown = fields.keys.sorted().first(where: { $0 != "texts" && $0 != "top_k" }) {
            throw ServiceError(.badRequest, "unknown field (known: texts, top_k)", field: unknown)
        }
        guard let texts = fields.texts else { throw ServiceError(.badRequest, "missing", field: "texts") }
        guard texts.count <= limits.texts else {
            throw ServiceError(.contentTooLarge, "\(texts.count) texts; at most \(limits.texts) per request", field: "texts")
        }
        for (index, text) in texts.enumerated() where text.unicodeScalars.count > limits.characters {
            throw ServiceError(.unprocessableContent, "\(text.unicodeScalars.count) characters; at most \(limits.characters)",
                               field: "texts[\(index)]")
        }
        self.texts = texts
        topK = 3
        if let topK = fields.topK {
            guard topK >= 1 else { throw ServiceError(.unprocessableContent, "must be at least 1", field: "top_k") }
            self.topK = min(topK, labels)
        }
    }

    /// A value of the wrong type (or null) at `path`: `texts`, `texts[1]`, `top_k`, or the body.
    private static func mistyped(_ path: [any CodingKey]) -> ServiceError {
        guard let first = path.first else { return ServiceError(.badRequest, "the body must be a JSON object with a \"texts\" array") }
        let field = first.stringValue + path.dropFirst().map { "[\($0.intValue ?? 0)]" }.joined()
        let expected = first.stringValue == "top_k" ? "an integer" : path.count > 1 ? "a string" : "an array of strings"
        return ServiceError(.badRequest, "must be \(expected)", field: field)
    }
}

struct PredictResponse: Codable, Sendable {
    var predictions: [Predictor.Prediction]
}

/// `GET /v1/model`: what is being served.
struct ModelFacts: Codable, Sendable {
    var pipeline: String?
    var labels: [String]
    var vocabularySize: Int
    var layers: [String]
    var parameters: Int
    var maxLength: Int
    var ngrams: Int?
    /// Character n-gram lengths, `[minn, maxn]`, for a model with subwords.
    var subwords: [Int]?

    init(bundle: ModelBundle, parameters: Int) {
        pipeline = bundle.pipeline
        labels = bundle.labels
        vocabularySize = bundle.vocabularySize
        layers = bundle.layers.map(\.description)
        self.parameters = parameters
        maxLength = bundle.maxLength
        ngrams = bundle.ngrams?.order
        subwords = bundle.subwords.map { [$0.minLength, $0.maxLength] }
    }

    enum CodingKeys: String, CodingKey {
        case pipeline, labels, layers, parameters, ngrams, subwords
        case vocabularySize = "vocabulary_size"
        case maxLength = "max_length"
    }
}

/// Every error the service answers: the status, and `{"error": {"status": 413, "message":
/// "...", "field": "texts"}}` (`field` when one is to blame).
struct ServiceError: Error, HTTPResponseError, Sendable {
    var status: HTTPResponse.Status
    var message: String
    var field: String?
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, field: String? = nil) {
        self.status = status
        self.message = message
        self.field = field
    }

    struct Body: Codable {
        struct Detail: Codable {
            var status: Int
            var message: String
            var field: String?
        }
        var error: Detail
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(Body(error: .init(status: status.code, message: message, field: field)), status: status)
        response.headers.append(contentsOf: headers)
        return response
    }
}

enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":{"status":500,"message":"cannot encode the response"}}"#.utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
