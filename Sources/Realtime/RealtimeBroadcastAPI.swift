import Core
import Foundation
import Hummingbird

/// The REST broadcast of Supabase Realtime (docs/realtime.md §7.1): messages sent without a
/// socket (`channel.httpSend`, or `channel.send` before the socket is up), authorised like a
/// socket broadcast on the same topic.
extension RealtimeService {
    /// One message to relay: the topic as channel name (without `realtime:`), the event and
    /// its payload object.
    struct RESTBroadcast {
        var topic: String
        var event: String
        var payload: JSONValue
    }

    /// Checks every message (nothing is sent if one is refused), then relays them all.
    func broadcast(_ messages: [RESTBroadcast], as caller: Caller) async throws {
        var relayed: [(topic: String, message: JSONValue)] = []
        for (index, message) in messages.enumerated() {
            let access: TopicAccess
            do {
                access = try TopicAccess(name: message.topic, openPrefixes: limits.openTopicPrefixes)
                try await access.authorise(caller, name: message.topic) { conversation in
                    guard let user = caller.userID else { return false }
                    return try await membership.members(of: conversation).contains(user)
                }
            } catch let error as JoinError {
                throw APIError(status: .forbidden, code: "42501", message: "messages[\(index)].topic: \(error.description)")
            }
            let wrapped = JSONValue.object(["event": .string(message.event), "payload": message.payload])
            do {
                relayed.append((TopicAccess.room(of: "realtime:" + message.topic), try BroadcastMessage.relayed(
                    wrapped, access: access, caller: caller, maximumBytes: limits.maximumBroadcastBytes)))
            } catch {
                throw RESTBroadcastRequest.invalid("messages[\(index)].payload", error.description)
            }
        }
        for (topic, message) in relayed {
            do {
                try await bus.publish(.broadcast(topic: topic, payload: message, origin: "rest"))
            } catch {
                throw APIError(status: .unprocessableContent, code: "broadcast_failed", message: "\(topic): \(error)")
            }
        }
    }
}

/// Reads the bodies of the REST broadcast endpoints; every error names the field.
enum RESTBroadcastRequest {
    /// A field that breaks a rule: 422, as Supabase answers validation errors here.
    static func invalid(_ field: String, _ rule: String) -> APIError {
        var error = APIError(status: .unprocessableContent, code: "22023", message: "\(field): \(rule)", hint: rule)
        error.field = field
        return error
    }

    /// `{"messages":[{"topic","event","payload","private"?}]}` with at most `limit` messages.
    static func batch(_ body: JSONValue, limit: Int) throws -> [RealtimeService.RESTBroadcast] {
        guard case .object(let object) = body else { throw invalid("body", "must be a JSON object with messages") }
        guard case .array(let items)? = object["messages"] else { throw invalid("messages", "must be an array") }
        guard !items.isEmpty else { throw invalid("messages", "must not be empty") }
        guard items.count <= limit else { throw invalid("messages", "at most \(limit) messages per request") }
        return try items.enumerated().map { index, item in
            let field = "messages[\(index)]"
            guard case .object(let message) = item else { throw invalid(field, "must be an object") }
            return try one(
                topic: message["topic"], event: message["event"], payload: message["payload"], private: message["private"], field: field + ".")
        }
    }

    /// One message's fields (`prefix` locates them in the body for error messages).
    static func one(topic: JSONValue?, event: JSONValue?, payload: JSONValue?, private: JSONValue?, field prefix: String) throws
        -> RealtimeService.RESTBroadcast
    {
        guard case .string(let topicText)? = topic, !topicText.isEmpty, topicText.utf8.count <= 255 else {
            throw invalid(prefix + "topic", "must be a non-empty string of at most 255 bytes")
        }
        guard case .string(let eventText)? = event, !eventText.isEmpty, eventText.utf8.count <= 255 else {
            throw invalid(prefix + "event", "must be a non-empty string of at most 255 bytes")
        }
        guard case .object? = payload else { throw invalid(prefix + "payload", "must be an object") }
        switch `private` {
        case nil, .null?, .bool(false)?: break
        case .bool(true)?: throw invalid(prefix + "private", "private channels are not supported; use a conversation:<id> topic")
        default: throw invalid(prefix + "private", "must be a boolean")
        }
        return .init(topic: topicText, event: eventText, payload: payload ?? .object([:]))
    }
}

extension RealtimeController {
    /// `POST <group>/broadcast` (a batch of messages) and `POST <group>/broadcast/<topic>/events/<event>`
    /// (one message whose body is the payload). Both answer 202 with an empty body. The group
    /// must resolve the caller (`apikey` and `Authorization` headers). Each caller (user, or
    /// client address for API keys) may send as many messages as one socket may send frames,
    /// counted in `buckets` (shared by the instances when the server has Redis).
    public func addBroadcastRoutes(to group: RouterGroup<AppRequestContext>, buckets: (any TokenBucketStore)? = nil) {
        let realtime = self.realtime
        let perSecond = realtime.limits.framesPerSecond
        let limiter = RateLimiter(name: "realtime.broadcast", capacity: perSecond * 2, refillPerSecond: Double(perSecond), store: buckets)
        @Sendable func admit(_ count: Int, _ context: AppRequestContext) async throws {
            let key = context.caller?.userID?.uuidString ?? context.clientAddress
            if let retry = await limiter.acquire(key, cost: count) {
                throw APIError.rateLimited(
                    code: "rate_limited", message: "too many broadcasts: at most \(perSecond) messages per second", retryAfter: retry)
            }
        }
        group.post("broadcast") { request, context -> Response in
            let body = try await Self.jsonBody(request)
            let messages = try RESTBroadcastRequest.batch(body, limit: realtime.limits.messagesPerBroadcastRequest)
            try await admit(messages.count, context)
            try await realtime.broadcast(messages, as: context.caller ?? .anonymous)
            return Response(status: .accepted)
        }
        group.post("broadcast/:topic/events/:event") { request, context -> Response in
            if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/json") {
                throw RESTBroadcastRequest.invalid("Content-Type", "must be application/json (binary payloads are not supported)")
            }
            let body = try await Self.jsonBody(request)
            let privateFlag: JSONValue? = request.uri.queryParameters.get("private").map { .bool($0 == "true") }
            let message = try RESTBroadcastRequest.one(
                topic: Self.pathParameter("topic", context), event: Self.pathParameter("event", context),
                payload: body, private: privateFlag, field: "")
            try await admit(1, context)
            try await realtime.broadcast([message], as: context.caller ?? .anonymous)
            return Response(status: .accepted)
        }
    }

    /// A path parameter, percent-decoded (clients encode `:` in `conversation:<id>`).
    private static func pathParameter(_ name: String, _ context: AppRequestContext) -> JSONValue? {
        context.parameters.get(name).map { .string($0.removingPercentEncoding ?? $0) }
    }

    private static func jsonBody(_ request: Request) async throws -> JSONValue {
        let data = try await JSONBody.bytes(of: request)
        guard let value = try? JSONValue.parse(String(decoding: data, as: UTF8.self)) else {
            throw APIError(status: .badRequest, code: "bad_json", message: "body: could not parse the request body as JSON")
        }
        return value
    }
}
