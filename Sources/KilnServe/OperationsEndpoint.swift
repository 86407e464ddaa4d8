import Hummingbird
import Kiln

/// The operator's routes of `kiln run --listen`:
///
/// | route | answer |
/// |---|---|
/// | `GET /healthz` | 200 `ok` while the process runs |
/// | `GET /readyz` | 200 once the store is open and the engine is delivering; 503 with the reason (`paused`, `shutting down`, `not delivering`) |
/// | `GET /metrics` | the metrics in Prometheus text format, from `metricsText` |
/// | `HEAD` of each | the same status and headers, no body |
///
/// The metrics text comes from a closure, so that this target (and the engine) take no
/// Prometheus dependency: the CLI passes its registry's output.
public struct OperationsEndpoint: Sendable {
    let engine: SendEngine
    let metricsText: @Sendable () -> [UInt8]

    public init(engine: SendEngine, metricsText: @escaping @Sendable () -> [UInt8]) {
        self.engine = engine
        self.metricsText = metricsText
    }

    public func addRoutes<Context: RequestContext>(to router: Hummingbird.Router<Context>) {
        let routes: [(String, @Sendable () -> Response)] = [
            ("/healthz", { Self.text(.ok, "ok\n") }),
            ("/readyz", { [engine] in
                let readiness = engine.readiness()
                return Self.text(readiness.ready ? .ok : .serviceUnavailable, readiness.reason + "\n")
            }),
            ("/metrics", { [metricsText] in
                Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                         body: ResponseBody(byteBuffer: ByteBuffer(bytes: metricsText())))
            }),
        ]
        for (path, answer) in routes {
            router.get(RouterPath(path)) { _, _ in answer() }
            // HEAD answers as GET does, without the body (RFC 9110 §9.3.2).
            router.head(RouterPath(path)) { _, _ in
                let full = answer()
                return Response(status: full.status, headers: full.headers)
            }
        }
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
