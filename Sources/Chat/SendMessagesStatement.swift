import Core
import Foundation
import PostgresNIO

/// Several sends in one statement (`public.chat_send_messages`, migrations 0045 and 0046),
/// prepared once per pooled connection like ``SendMessageStatement``: one row per send, its
/// position in `sends` and its outcome's JSON text (`{"outcome": "failed"}` when it raised an
/// error and was undone). Plain text messages from different senders are judged and
/// inserted set-wise; when that raises an error, the statement fails and nothing is kept.
struct SendMessagesStatement: PostgresPreparedStatement {
    /// Spelled out: the library's default, `String(reflecting:)`, is worked out on every execution.
    static let name = "Chat.SendMessagesStatement"
    static let sql = "SELECT item, outcome FROM public.chat_send_messages($1::jsonb, $2::integer)"
    static let bindingDataTypes: [PostgresDataType] = [.text, .int8]
    typealias Row = (Int32, String)

    /// The sends as the function's JSON array.
    var sends: String
    /// The sends' rate limit; every send carries the same (``MessageRules/perMinute``).
    var perMinute: Int

    init(_ sends: [SendMessageStatement]) {
        self.sends = JSONValue.array(sends.map(Self.element)).jsonText
        self.perMinute = sends.first?.perMinute ?? MessageRules.perMinute
    }

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(sends)
        bindings.append(perMinute)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }

    /// One send's arguments as an element of `sends`.
    private static func element(_ send: SendMessageStatement) -> JSONValue {
        var element: [String: JSONValue] = [
            "role": .string(send.role), "claims": .string(send.claims),
            "conversation": .string(send.conversation.uuidString), "client_msg_id": .string(send.clientMessageID.uuidString),
            "kind": .string(send.kind), "body": .string(send.body),
        ]
        if let attachment = send.attachment { element["attachment"] = attachment }
        if let replyTo = send.replyTo { element["reply_to"] = .string(replyTo.uuidString) }
        if let forwardedFrom = send.forwardedFrom { element["forwarded_from"] = .string(forwardedFrom.uuidString) }
        return .object(element)
    }
}
