import Foundation
import Hummingbird
import Kiln
import KilnMessage

/// The one-click unsubscribe endpoint (RFC 8058) for the URL Kiln puts in
/// `List-Unsubscribe`: `POST` with the body `List-Unsubscribe=One-Click` verifies the
/// token in `?t=` and suppresses that address for that list at once; `GET` shows a
/// confirmation page whose button makes that POST. A forged or altered token is refused
/// (403) and changes nothing.
///
/// Embed it in an application's router, or run `kiln serve`:
/// ```swift
/// let router = Hummingbird.Router()
/// UnsubscribeEndpoint(engine: engine).addRoutes(to: router, path: "/u")
/// ```
public struct UnsubscribeEndpoint: Sendable {
    let engine: SendEngine

    public init(engine: SendEngine) {
        self.engine = engine
    }

    public func addRoutes<Context: RequestContext>(to router: Hummingbird.Router<Context>, path: RouterPath = "/u") {
        router.post(path) { request, context in try await self.post(request, context: context) }
        router.get(path) { request, _ in self.confirmationPage(request) }
    }

    func post(_ request: Request, context: some RequestContext) async throws -> Response {
        guard let token = request.uri.queryParameters.get("t"), !token.isEmpty else {
            return Self.page(.badRequest, "This unsubscribe link is incomplete.")
        }
        let body = try await request.body.collect(upTo: 64 * 1024)
        let text = String(buffer: body)
        // RFC 8058: the body carries List-Unsubscribe=One-Click (form-urlencoded or multipart).
        guard text.contains("List-Unsubscribe=One-Click") || text.contains("name=\"List-Unsubscribe\"") && text.contains("One-Click") else {
            return Self.page(.badRequest, "This request is not a one-click unsubscribe (RFC 8058).")
        }
        guard let verified = try await engine.unsubscribe(token: token, source: "one-click") else {
            context.logger.notice("refused an unsubscribe request with an invalid token")
            return Self.page(.forbidden, "This unsubscribe link is not valid.")
        }
        return Self.page(.ok, "\(Self.escape(verified.recipient)) will receive no more mail from this list.")
    }

    func confirmationPage(_ request: Request) -> Response {
        guard let token = request.uri.queryParameters.get("t"), !token.isEmpty else {
            return Self.page(.badRequest, "This unsubscribe link is incomplete.")
        }
        let action = Self.escape(request.uri.path + "?t=" + token)
        return Self.page(.ok, """
            Do you want to unsubscribe from this list?</p>
            <form method="post" action="\(action)">
            <input type="hidden" name="List-Unsubscribe" value="One-Click">
            <button type="submit">Unsubscribe</button>
            </form><p>
            """)
    }

    static func page(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let html = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribe</title></head><body><p>\(message)</p></body></html>"
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
