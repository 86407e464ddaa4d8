import Foundation
import Hummingbird
import KilnCore
import KilnSubmission
import NIOCore

/// The HTTP injection API (`/v1`), described by `docs/openapi.json` (served at
/// `GET /v1/openapi.json`):
///
/// | route | answer |
/// |---|---|
/// | `POST /v1/messages` | 200 `{"accepted", "messages", "rejected"}` from `SubmissionBackend.submit(message:principal:)` |
/// | `GET /v1/messages/{id}` | 200 the message's state and events; 404 when there is none (or it is another tenant's, or `id` is not a decimal message id) |
/// | `GET /v1/openapi.json` | the OpenAPI 3.1 document, without authentication |
/// | `HEAD` of a `GET` route | the same status and headers, no body |
/// | any other method on these paths | 405 with `Allow` |
/// | any other path under `/v1` | 404 |
///
/// Both `/v1/messages` routes take `Authorization: Basic base64(name:secret)`, checked by
/// `SubmissionBackend.authenticate(name:secret:peer:)` with the client's address; a
/// missing or malformed header is 401 with `WWW-Authenticate: Basic realm="kiln"`. Then a
/// POST must be `Content-Type: application/json` (415), at most `maxBodyBytes` (413) and
/// a valid message (400 naming the JSON path, 413 over `maxRecipients`; see
/// `InjectionRequest` for the rules).
///
/// Every error is `{"error": {"code", "message", "path"?}}` with the refusal's HTTP status
/// and `Retry-After` when waiting helps; every answer carries `Cache-Control: no-store`.
/// The only 5xx is 503 when the backend is unavailable.
///
/// The client's address comes from the request context, so the router must be built with
/// `PeerRequestContext` (or another `RemoteAddressRequestContext`):
/// ```swift
/// let router = Hummingbird.Router(context: PeerRequestContext.self)
/// InjectionEndpoint(backend: gate).addRoutes(to: router)
/// ```
public struct InjectionEndpoint: Sendable {
    let backend: any SubmissionBackend
    let maxRecipients: Int
    let maxBodyBytes: Int

    /// - Parameters:
    ///   - backend: authenticates, authorizes and stores.
    ///   - maxRecipients: recipients of one message at most (the document says 1,000).
    ///   - maxBodyBytes: bytes of a request body at most; a raw message in base64 takes 4/3 of its size.
    public init(backend: any SubmissionBackend, maxRecipients: Int = 1000, maxBodyBytes: Int = 32 * 1024 * 1024) {
        self.backend = backend
        self.maxRecipients = maxRecipients
        self.maxBodyBytes = maxBodyBytes
    }

    /// Adds the `/v1` routes to `router`.
    public func addRoutes<Context: RemoteAddressRequestContext>(to router: Hummingbird.Router<Context>) {
        router.post("/v1/messages") { request, context in try await self.submit(request, peer: context.peer) }
        let reads: [(RouterPath, @Sendable (Request, Context) async -> Response)] = [
            ("/v1/messages/{id}", { request, context in
                // Hummingbird hands the segment over as sent; %31 is 1.
                let id = context.parameters.get("id").flatMap { $0.removingPercentEncoding } ?? ""
                return await self.status(id: id, request, peer: context.peer)
            }),
            ("/v1/openapi.json", { _, _ in Self.openAPIDocument() }),
        ]
        for (path, answer) in reads {
            router.get(path) { request, context in await answer(request, context) }
            // HEAD answers as GET does, without the body (RFC 9110 §9.3.2).
            router.head(path) { request, context in
                let full = await answer(request, context)
                return Response(status: full.status, headers: full.headers)
            }
        }
        let allowed: [(RouterPath, [HTTPRequest.Method])] = [
            ("/v1/messages", [.post]), ("/v1/messages/{id}", [.get, .head]), ("/v1/openapi.json", [.get, .head]),
        ]
        for (path, methods) in allowed {
            for method in Self.methods where !methods.contains(method) {
                router.on(path, method: method) { _, _ in Self.methodNotAllowed(allow: methods) }
            }
        }
        // Any other path under /v1 is a JSON 404 too. Routes of their own (added by anyone) take precedence; the
        // router does not go back up a path once a segment matched, hence a catch-all below each route.
        for path: RouterPath in ["/v1", "/v1/**", "/v1/messages/{id}/**", "/v1/openapi.json/**"] {
            for method in Self.methods {
                router.on(path, method: method) { _, _ in Self.error(.notFound, code: "not_found", "There is no such resource.") }
            }
        }
    }

    /// The methods answered on every `/v1` path: 405 (with `Allow`) where the route does not take them.
    static let methods: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options, .trace]
        + (HTTPRequest.Method("QUERY").map { [$0] } ?? [])

    func submit(_ request: Request, peer: String) async throws -> Response {
        let principal: Principal
        switch await authenticate(request, peer: peer) {
        case .success(let authenticated): principal = authenticated
        case .failure(let refusal): return Self.error(refusal)
        }
        guard Self.isJSON(request.headers[.contentType]) else {
            return Self.error(.unsupportedMediaType, code: "unsupported_media_type", "The body must be JSON (Content-Type: application/json).")
        }
        let tooBig = SubmissionRefusal(.tooBig, "The body is over \(maxBodyBytes) bytes.")
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBodyBytes {
            return Self.error(tooBig)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            return Self.error(tooBig)
        }
        let message: APIMessage
        do {
            message = try InjectionRequest.message(from: Array(buffer: body), maxRecipients: maxRecipients)
        } catch {
            return Self.error(error)
        }
        switch await backend.submit(message: message, principal: principal) {
        case .success(let acceptance): return Self.json(.ok, acceptance)
        case .failure(let refusal): return Self.error(refusal)
        }
    }

    func status(id: String, _ request: Request, peer: String) async -> Response {
        let principal: Principal
        switch await authenticate(request, peer: peer) {
        case .success(let authenticated): principal = authenticated
        case .failure(let refusal): return Self.error(refusal)
        }
        let notFound = Self.error(.notFound, code: "not_found", "There is no such message.")
        guard !id.isEmpty, id.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), let number = Int64(id) else {
            return notFound
        }
        switch await backend.status(of: MessageID(number), principal: principal) {
        case .success(let status?): return Self.json(.ok, status)
        case .success(nil): return notFound
        case .failure(let refusal): return Self.error(refusal)
        }
    }

    /// The principal of the request's Basic credentials.
    func authenticate(_ request: Request, peer: String) async -> Result<Principal, SubmissionRefusal> {
        let values = request.headers[values: .authorization]
        guard values.count == 1, let credentials = BasicCredentials(authorization: values[0]) else {
            return .failure(SubmissionRefusal(.authenticationRequired, "Authenticate with HTTP Basic: the credential's name and secret."))
        }
        return await backend.authenticate(name: credentials.name, secret: credentials.secret, peer: peer)
    }

    /// Whether a Content-Type names `application/json` (parameters such as `charset` are ignored).
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
    }
}
