import Foundation

/// A client frame that passed envelope validation.
struct InboundFrame: @unchecked Sendable {
    let type: String
    let msgId: String
    let seq: Int
    /// The `payload` object (JSON values from `JSONSerialization`).
    let payload: [String: Any]

    /// What can be read of a frame that failed validation: its `msgId`, if any.
    struct Invalid: Error {
        let msgId: String?
        let message: String
    }

    /// Parses and validates the envelope `{v:1, type, msgId, ts, seq, payload}`.
    static func parse(_ text: String) throws(Invalid) -> InboundFrame {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw Invalid(msgId: nil, message: "frame is not a JSON object")
        }
        let msgId = (object["msgId"] as? String).flatMap { UUID(uuidString: $0) != nil ? $0 : nil }
        func fail(_ message: String) -> Invalid { Invalid(msgId: msgId, message: message) }
        guard let msgId else { throw Invalid(msgId: nil, message: "msgId: must be a UUID") }
        guard integer(object["v"]) == 1 else { throw fail("v: must be 1") }
        guard let type = object["type"] as? String, !type.isEmpty, type.count <= 64 else { throw fail("type: must be a non-empty string") }
        guard let ts = integer(object["ts"]), ts >= 0 else { throw fail("ts: must be unix milliseconds") }
        guard let seq = integer(object["seq"]), seq >= 0 else { throw fail("seq: must be a non-negative integer") }
        let payload: [String: Any]
        switch object["payload"] {
        case nil, is NSNull: payload = [:]
        case let value as [String: Any]: payload = value
        default: throw fail("payload: must be an object")
        }
        return InboundFrame(type: type, msgId: msgId, seq: seq, payload: payload)
    }
}

/// A JSON number that is a whole number (not a boolean, which JSONSerialization also
/// returns as an NSNumber).
func integer(_ value: Any?) -> Int? {
    guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else { return nil }
    let double = number.doubleValue
    guard double == double.rounded(), abs(double) < 9e15 else { return nil }
    return number.intValue
}

/// Builds server frames.
enum OutboundFrame {
    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// `{v, type, msgId, ts, seq, payload[, from]}` with the recipient's `seq`.
    static func text(type: String, seq: Int, payload: [String: Any], from: [String: String]? = nil) -> String {
        var object: [String: Any] = [
            "v": 1, "type": type, "msgId": UUID().uuidString.lowercased(), "ts": now(), "seq": seq, "payload": payload,
        ]
        if let from { object["from"] = from }
        return encode(object)
    }

    /// The ACK of a request (no `seq`).
    static func ack(of msgId: String, result: AckResult) -> String {
        var ack: [String: Any] = ["ackOfMsgId": msgId, "ok": result.error == nil]
        if let error = result.error { ack["error"] = error.json }
        return encode(["v": 1, "type": "ACK", "msgId": UUID().uuidString.lowercased(), "ts": now(), "ack": ack, "payload": result.payload.value])
    }

    static func encode(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// What a request's ACK says: its payload, or the error.
struct AckResult: Sendable {
    var payload: JSONObject = JSONObject([:])
    var error: CallsError?

    static func ok(_ payload: [String: Any] = [:]) -> AckResult { AckResult(payload: JSONObject(payload)) }
    static func failed(_ error: CallsError) -> AckResult { AckResult(error: error) }
}

/// A JSON object from `JSONSerialization` moved between tasks (immutable after creation).
struct JSONObject: @unchecked Sendable {
    let value: [String: Any]
    init(_ value: [String: Any]) { self.value = value }
}
