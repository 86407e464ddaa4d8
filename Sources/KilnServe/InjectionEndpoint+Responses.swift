import Foundation
import Hummingbird
import KilnSubmission
import NIOCore

/// The answers of the injection API: JSON bodies, one error shape, `Cache-Control: no-store`.
extension InjectionEndpoint {
    /// `{"error": {"code", "message", "path"?}}`.
    struct ErrorBody: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
            var path: String?
        }
        var error: Detail
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable, headers extra: HTTPFields = [:]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        headers.append(contentsOf: extra)
        do {
            return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
        } catch {
            // Only strings, integers and booleans are encoded: this cannot happen, and would be Kiln's fault.
            let body = #"{"error":{"code":"internal","message":"The answer could not be encoded."}}"#
            return Response(status: .internalServerError, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
    }

    static func error(_ status: HTTPResponse.Status, code: String, _ message: String, path: String? = nil, headers: HTTPFields = [:]) -> Response {
        json(status, ErrorBody(error: .init(code: code, message: message, path: path)), headers: headers)
    }

    /// A refusal as its HTTP status, with `Retry-After` when it has one and the Basic
    /// challenge with a 401.
    static func error(_ refusal: SubmissionRefusal) -> Response {
        var headers: HTTPFields = [:]
        if let seconds = refusal.retryAfter { headers[.retryAfter] = String(max(0, seconds)) }
        if refusal.httpStatus == 401 { headers[.wwwAuthenticate] = #"Basic realm="kiln""# }
        var path: String?
        if case .invalid(let invalidPath) = refusal.kind { path = invalidPath }
        return error(HTTPResponse.Status(code: refusal.httpStatus), code: refusal.apiCode, refusal.message, path: path, headers: headers)
    }

    static func methodNotAllowed(allow methods: [HTTPRequest.Method]) -> Response {
        error(.methodNotAllowed, code: "method_not_allowed", "This resource does not take this method.",
              headers: [.allow: methods.map(\.rawValue).joined(separator: ", ")])
    }

    static func openAPIDocument() -> Response {
        Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.text)))
    }
}

extension SubmissionRefusal {
    /// The `error.code` of the injection API: the kind in snake case; `invalid` is
    /// `invalid_request`, as the endpoint's own decoding errors are.
    var apiCode: String {
        switch kind {
        case .tlsRequired: "tls_required"
        case .authenticationRequired: "authentication_required"
        case .badCredentials: "bad_credentials"
        case .forbiddenSource: "forbidden_source"
        case .lockedOut: "locked_out"
        case .forbiddenSender: "forbidden_sender"
        case .tooBig: "too_big"
        case .tooManyRecipients: "too_many_recipients"
        case .overQuota: "over_quota"
        case .invalid: "invalid_request"
        case .unavailable: "unavailable"
        }
    }
}
