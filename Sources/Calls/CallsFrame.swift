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

/// Builds server frames. The envelope is written by hand around a payload that is already
/// JSON text (``JSONText``), so a relayed payload is encoded once, by its sender's instance.
enum OutboundFrame {
    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// `{v, type, msgId, ts, seq, payload[, from]}` with the recipient's `seq`.
    static func text(type: String, seq: Int, payload: [String: Any], from: RelaySender? = nil) -> String {
        text(type: type, seq: seq, payloadJSON: JSONText.encode(payload), from: from)
    }

    /// The same frame around a payload that is already a JSON object's text.
    static func text(type: String, seq: Int, payloadJSON: String, from: RelaySender? = nil) -> String {
        var out = "{\"v\":1,\"type\":"
        out.reserveCapacity(payloadJSON.utf8.count + 200)
        JSONText.appendQuoted(type, into: &out)
        out.append(",\"msgId\":\"")
        out.append(UUID().uuidString.lowercased())
        out.append("\",\"ts\":")
        out.append(String(now()))
        out.append(",\"seq\":")
        out.append(String(seq))
        out.append(",\"payload\":")
        out.append(payloadJSON)
        if let from {
            out.append(",\"from\":{\"userId\":")
            JSONText.appendQuoted(from.userId, into: &out)
            out.append(",\"deviceId\":")
            JSONText.appendQuoted(from.deviceId, into: &out)
            out.append("}")
        }
        out.append("}")
        return out
    }

    /// The ACK of a request (no `seq`).
    static func ack(of msgId: String, result: AckResult) -> String {
        var out = "{\"v\":1,\"type\":\"ACK\",\"msgId\":\""
        out.append(UUID().uuidString.lowercased())
        out.append("\",\"ts\":")
        out.append(String(now()))
        out.append(",\"ack\":{\"ackOfMsgId\":")
        JSONText.appendQuoted(msgId, into: &out)
        if let error = result.error {
            out.append(",\"ok\":false,\"error\":")
            out.append(JSONText.encode(error.json))
        } else {
            out.append(",\"ok\":true")
        }
        out.append("},\"payload\":")
        out.append(JSONText.encode(result.payload.value))
        out.append("}")
        return out
    }

    static func encode(_ object: [String: Any]) -> String {
        JSONText.encode(object)
    }

    /// `JSONSerialization`, for a value ``JSONText`` does not know.
    static func encodeSlow(_ object: [String: Any]) -> String {
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
