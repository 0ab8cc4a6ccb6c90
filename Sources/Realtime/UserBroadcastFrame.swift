import Core
import HummingbirdWebSocket
import NIOCore

/// The binary broadcast frames of serializer `vsn=2.0.0` (Supabase Realtime's V2 serializer,
/// used by supabase-js and supabase-swift for `channel.send(type: .broadcast, …)`).
///
/// Client → server, a *user-broadcast push* (kind 3):
///
///     kind=3 | join_ref size | ref size | topic size | event size | metadata size | encoding
///     | join_ref | ref | topic | event | metadata (JSON, may be empty) | payload
///
/// Server → client, a *user broadcast* (kind 4):
///
///     kind=4 | topic size | event size | metadata size | encoding | topic | event | metadata | payload
///
/// Sizes are one byte each (so at most 255 bytes of UTF-8); encoding is 1 for a JSON payload
/// and 0 for raw bytes. Only JSON payloads are accepted here (see docs/realtime.md §7).
public enum UserBroadcastFrame {
    static let pushKind: UInt8 = 3
    static let broadcastKind: UInt8 = 4
    static let jsonEncoding: UInt8 = 1

    /// Reads a user-broadcast push as a `broadcast` frame whose payload is
    /// `{"type":"broadcast","event":<event>,"payload":<payload>}`. A frame that cannot be
    /// answered (wrong kind, truncated) throws; a payload that is not usable JSON is kept as
    /// the frame's ``PhoenixFrame/fieldError``.
    public static func decodePush(_ bytes: ByteBuffer) throws -> PhoenixFrame {
        var buffer = bytes
        guard let kind = buffer.readInteger(as: UInt8.self) else { throw PhoenixFrame.DecodingError(reason: "empty binary frame") }
        guard kind == pushKind else {
            throw PhoenixFrame.DecodingError(reason: "binary frame kind \(kind) is not supported (only user-broadcast push, kind 3)")
        }
        guard let sizes = buffer.readBytes(length: 6) else { throw PhoenixFrame.DecodingError(reason: "binary frame header is truncated") }
        // Subscripts 0...5 are safe: readBytes(length: 6) returned exactly six bytes.
        let encoding = sizes[5]
        guard let joinRef = buffer.readString(length: Int(sizes[0])), let ref = buffer.readString(length: Int(sizes[1])),
            let topic = buffer.readString(length: Int(sizes[2])), let event = buffer.readString(length: Int(sizes[3])),
            buffer.readBytes(length: Int(sizes[4])) != nil
        else {
            throw PhoenixFrame.DecodingError(reason: "binary frame is shorter than its header says")
        }
        var frame = PhoenixFrame(
            joinRef: joinRef.isEmpty ? nil : joinRef, ref: ref.isEmpty ? nil : ref, topic: topic, event: "broadcast",
            payload: .object(["type": .string("broadcast"), "event": .string(event), "payload": .object([:])]))
        frame.isUserBroadcast = true
        guard encoding == jsonEncoding else {
            frame.fieldError = "payload encoding must be JSON (1); binary broadcast payloads are not supported"
            return frame
        }
        let text = buffer.readString(length: buffer.readableBytes) ?? ""
        let payload: JSONValue
        do {
            payload = try JSONValue.parse(text)
        } catch is JSONValue.TooDeep {
            frame.fieldError = "payload \(JSONNesting.rule)"
            return frame
        } catch {
            frame.fieldError = "payload must be JSON"
            return frame
        }
        frame.payload = .object(["type": .string("broadcast"), "event": .string(event), "payload": payload])
        return frame
    }

    /// A user-broadcast frame for a broadcast message `{"event":<string>,"payload":…}`; nil
    /// when it cannot be written in this format (topic or event over 255 bytes, no string
    /// event), and the caller sends the JSON frame instead.
    public static func encode(topic: String, message: JSONValue) -> ByteBuffer? {
        guard case .object(let object) = message, case .string(let event)? = object["event"],
            topic.utf8.count <= 255, event.utf8.count <= 255
        else { return nil }
        let payload = (object["payload"] ?? .object([:])).jsonText
        var buffer = ByteBuffer()
        buffer.reserveCapacity(5 + topic.utf8.count + event.utf8.count + payload.utf8.count)
        buffer.writeInteger(broadcastKind)
        buffer.writeInteger(UInt8(truncatingIfNeeded: topic.utf8.count))
        buffer.writeInteger(UInt8(truncatingIfNeeded: event.utf8.count))
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(jsonEncoding)
        buffer.writeString(topic)
        buffer.writeString(event)
        buffer.writeString(payload)
        return buffer
    }
}

extension PhoenixFrame {
    /// Reads a WebSocket message of a socket speaking `version`: text frames of either version,
    /// and (2.0.0 only) binary user-broadcast pushes.
    public static func decode(_ message: WebSocketMessage, version: Version) throws -> PhoenixFrame {
        switch message {
        case .text(let text):
            return try decode(text, version: version)
        case .binary(let bytes):
            guard version == .v2 else { throw DecodingError(reason: "binary frames need vsn=2.0.0") }
            return try UserBroadcastFrame.decodePush(bytes)
        }
    }

    /// The frame as the socket receives it: a binary user broadcast for a 2.0.0 socket when
    /// the broadcast arrived in that form, text otherwise.
    func outbound(_ version: Version) -> Outbound {
        if version == .v2, isUserBroadcast, event == "broadcast", let bytes = UserBroadcastFrame.encode(topic: topic, message: payload) {
            return .binary(bytes)
        }
        return .text(encoded(version))
    }
}
