import Core
import Foundation

/// One Phoenix channel frame (Supabase Realtime protocol).
///
/// `vsn=1.0.0` frames are JSON objects `{"event","payload","topic","ref","join_ref"}`
/// (supabase-py); `vsn=2.0.0` frames are arrays `[join_ref, ref, topic, event, payload]`
/// (supabase-js, supabase-flutter). The socket's version comes from the `vsn` query item.
public struct PhoenixFrame: Sendable, Equatable {
    public var joinRef: String?
    public var ref: String?
    public var topic: String
    public var event: String
    public var payload: JSONValue

    public init(joinRef: String? = nil, ref: String? = nil, topic: String, event: String, payload: JSONValue) {
        self.joinRef = joinRef
        self.ref = ref
        self.topic = topic
        self.event = event
        self.payload = payload
    }

    /// The serializer versions a socket may speak.
    public enum Version: String, Sendable {
        case v1 = "1.0.0"
        case v2 = "2.0.0"
    }

    /// Why an incoming text frame could not be read.
    public struct DecodingError: Error, Equatable {
        public var reason: String
    }

    /// Parses a text frame of the given version.
    public static func decode(_ text: String, version: Version) throws -> PhoenixFrame {
        guard let value = try? JSONValue.parse(text) else { throw DecodingError(reason: "frame is not JSON") }
        switch (version, value) {
        case (.v1, .object(let object)):
            guard case .string(let topic)? = object["topic"], case .string(let event)? = object["event"] else {
                throw DecodingError(reason: "frame needs topic and event strings")
            }
            return PhoenixFrame(
                joinRef: object["join_ref"].flatMap(Self.refText), ref: object["ref"].flatMap(Self.refText),
                topic: topic, event: event, payload: object["payload"] ?? .object([:]))
        case (.v2, .array(let items)) where items.count == 5:
            guard case .string(let topic) = items[2], case .string(let event) = items[3] else {
                throw DecodingError(reason: "frame needs topic and event strings")
            }
            return PhoenixFrame(joinRef: Self.refText(items[0]), ref: Self.refText(items[1]), topic: topic, event: event, payload: items[4])
        default:
            throw DecodingError(reason: version == .v1 ? "frame must be a JSON object" : "frame must be a 5-element array")
        }
    }

    /// The frame as text in the given version. `ref` is always present (null when absent).
    public func encoded(_ version: Version) -> String {
        let ref = self.ref.map(JSONValue.string) ?? .null
        let joinRef = self.joinRef.map(JSONValue.string) ?? .null
        switch version {
        case .v1:
            var object: [String: JSONValue] = ["event": .string(event), "payload": payload, "ref": ref, "topic": .string(topic)]
            if self.joinRef != nil { object["join_ref"] = joinRef }
            return JSONValue.object(object).jsonText
        case .v2:
            return JSONValue.array([joinRef, ref, .string(topic), .string(event), payload]).jsonText
        }
    }

    private static func refText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text
        case .number(let number): return String(Int64(number))
        default: return nil
        }
    }

    // MARK: Replies the server sends

    /// `phx_reply` with status ok.
    public static func ok(to frame: PhoenixFrame, response: JSONValue = .object([:])) -> PhoenixFrame {
        PhoenixFrame(joinRef: frame.joinRef, ref: frame.ref, topic: frame.topic, event: "phx_reply",
                     payload: .object(["status": .string("ok"), "response": response]))
    }

    /// `phx_reply` with status error and a reason.
    public static func error(to frame: PhoenixFrame, reason: String) -> PhoenixFrame {
        PhoenixFrame(joinRef: frame.joinRef, ref: frame.ref, topic: frame.topic, event: "phx_reply",
                     payload: .object(["status": .string("error"), "response": .object(["reason": .string(reason)])]))
    }

    /// A `system` message on a channel.
    public static func system(topic: String, extension name: String, message: String, ok: Bool) -> PhoenixFrame {
        PhoenixFrame(topic: topic, event: "system", payload: .object([
            "channel": .string(Self.channelName(topic)), "extension": .string(name),
            "message": .string(message), "status": .string(ok ? "ok" : "error"),
        ]))
    }

    /// The channel name of a topic (`realtime:room1` → `room1`).
    public static func channelName(_ topic: String) -> String {
        topic.hasPrefix("realtime:") ? String(topic.dropFirst("realtime:".count)) : topic
    }
}
