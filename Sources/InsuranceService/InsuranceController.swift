import Core
import Foundation
import Hummingbird
import Insurance
import Logging

/// The insurance functions under `/functions/v1`: `osago-territories`, `osago-tariff`, `osago-quote` and
/// the streaming `insurance-assistant`.
public struct InsuranceController: Sendable {
    let osago: OsagoService
    let assistant: any AssistantEngine
    let limits: AssistantLimits
    let rateLimiter: RateLimiter
    let keepAlive: Duration
    let logger: Logger

    public init(
        osago: OsagoService, assistant: any AssistantEngine, ratePerMinute: Int, keepAlive: Duration,
        limits: AssistantLimits = AssistantLimits(), buckets: (any TokenBucketStore)? = nil, logger: Logger
    ) {
        self.osago = osago
        self.assistant = assistant
        self.limits = limits
        self.rateLimiter = RateLimiter(
            name: "insurance.assistant", capacity: ratePerMinute, refillPerSecond: Double(ratePerMinute) / 60, store: buckets)
        self.keepAlive = keepAlive
        self.logger = logger
    }

    public func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("osago-territories") { request, _ in
            let parameters = request.uri.queryParameters
            return Self.json(try osago.territories(query: parameters.get("q"), date: parameters.get("date")))
        }
        group.get("osago-tariff") { request, _ in
            let tables = try osago.tariffTables(date: request.uri.queryParameters.get("date"))
            // Cacheable: the body changes only with the tariff version (and a new release).
            var headers: HTTPFields = [.eTag: tables.etag, .cacheControl: "public, max-age=3600"]
            if tables.matches(ifNoneMatch: request.headers[.ifNoneMatch]) {
                return Response(status: .notModified, headers: headers)
            }
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(data: tables.body)))
        }
        group.post("osago-quote") { request, _ in
            Self.json(try osago.quote(json: try await JSONBody.bytes(of: request)).jsonData())
        }
        group.post("insurance-assistant") { request, context in
            try await answer(request, context: context)
        }
    }

    /// Streams the assistant's answer as OpenAI chat-completion chunks over SSE.
    func answer(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = context.caller ?? .anonymous
        let user = try caller.requireUser()
        var request = request
        let body = Data(buffer: try await request.collectBody(upTo: RequestLimits.maxBodyBytes))
        let inbound = request.body
        let turns = try limits.conversation(from: body.isEmpty ? Data("{}".utf8) : body)
        if let retry = await rateLimiter.acquire(user.uuidString) {
            throw APIError.rateLimited(code: "rate_limited", message: "too many assistant questions; try again in \(retry) s", retryAfter: retry)
        }
        let chunk = ChatCompletionChunk(model: assistant.model)
        let stream = AnswerStream(
            engine: assistant, turns: turns, caller: caller, chunk: chunk, keepAlive: keepAlive, logger: logger)
        let headers: HTTPFields = [
            .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache, no-store",
            .assistantEngine: assistant.kind, .xAccelBuffering: "no",
        ]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            // A client that goes away cancels the work, including any upstream request.
            try await inbound.consumeWithCancellationOnInboundClose { _ in
                try await stream.run { text in
                    try await writer.write(ByteBuffer(string: text))
                }
            }
            try await writer.finish(nil)
        })
    }

    static func json(_ data: Data) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}

// The unwraps below are of constant, valid header names (no client input).
extension HTTPField.Name {
    /// `X-Assistant-Engine`: `builtin` or `provider`.
    static let assistantEngine = HTTPField.Name("X-Assistant-Engine")!
    /// Tells nginx-style proxies not to buffer the event stream.
    static let xAccelBuffering = HTTPField.Name("X-Accel-Buffering")!
}
