import Core

/// The broadcast message relayed to a topic's channels, from a socket frame or from the REST
/// endpoint: `{"type":"broadcast","event":…,"payload":{…}}` (docs/realtime.md §7).
enum BroadcastMessage {
    /// Checks a client's broadcast payload and returns the message to relay. On user-keyed
    /// topics (conversation, online, user) the inner payload's `user_id` is set to the
    /// sender's user id, whatever the client wrote. The error text names the rule.
    static func relayed(_ payload: JSONValue, access: TopicAccess, caller: Caller, maximumBytes: Int) throws(JoinError) -> JSONValue {
        guard case .object(var message) = payload, case .object(var inner)? = message["payload"] ?? .object([:]) else {
            throw JoinError("broadcast payload must be an object")
        }
        guard payload.jsonText.utf8.count <= maximumBytes else {
            throw JoinError("Payload too large (max \(maximumBytes) bytes)")
        }
        if access.isUserKeyed {
            inner["user_id"] = caller.userID.map { .string($0.uuidString.lowercased()) } ?? .null
        }
        message["payload"] = .object(inner)
        message["type"] = .string("broadcast")
        return .object(message)
    }
}
