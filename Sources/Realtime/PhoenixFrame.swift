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
    /// Why a readable frame cannot be acted on (a field of the wrong type, e.g. a `ref` that is
    /// the number `1e300`); the session answers it with an error reply naming the field.
    public var fieldError: String?
    /// Whether the frame arrived as a binary user-broadcast push (vsn 2.0.0); its broadcast
    /// then goes to 2.0.0 sockets as a binary user-broadcast frame (``UserBroadcastFrame``).
    public var isUserBroadcast = false

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

    /// Parses a text frame of the given version. A frame without string `topic` and `event`
    /// cannot be answered and throws; a `ref` or `join_ref` of the wrong type is kept as
    /// ``fieldError`` (and read as absent) so that the frame can be answered.
    public static func decode(_ text: String, version: Version) throws -> PhoenixFrame {
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch is JSONValue.TooDeep {
            throw DecodingError(reason: "frame \(JSONNesting.rule)")
        } catch {
            throw DecodingError(reason: "frame is not JSON")
        }
        let joinRef, ref, topic, event: JSONValue?
        let payload: JSONValue
        switch (version, value) {
        case (.v1, .object(let object)):
            (joinRef, ref, topic, event, payload) = (object["join_ref"], object["ref"], object["topic"], object["event"], object["payload"] ?? .object([:]))
        case (.v2, .array(let items)) where items.count == 5:
            // Subscripts 0...4 are safe: the pattern checked the count.
            (joinRef, ref, topic, event, payload) = (items[0], items[1], items[2], items[3], items[4])
        default:
            throw DecodingError(reason: version == .v1 ? "frame must be a JSON object" : "frame must be a 5-element array")
        }
        guard case .string(let topicText)? = topic, case .string(let eventText)? = event else {
            throw DecodingError(reason: "frame needs topic and event strings")
        }
        var frame = PhoenixFrame(topic: topicText, event: eventText, payload: payload)
        do {
            frame.joinRef = try FrameField.ref(joinRef, "join_ref")
        } catch {
            frame.fieldError = error.description
        }
        do {
            frame.ref = try FrameField.ref(ref, "ref")
        } catch {
            frame.fieldError = frame.fieldError ?? error.description
        }
        return frame
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
