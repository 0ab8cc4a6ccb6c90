import Core
import Foundation
import PostgresNIO

/// One send (`public.chat_send_message`, migrations 0008, 0013 and 0017) as a statement
/// prepared once per pooled connection: PostgreSQL neither parses nor plans the call again,
/// and the server skips its parameter and row descriptions on every later send (issue 12:
/// the call's parse and plan were ~0.05 ms of CPU a send, docs/performance.md). Its one
/// column is the outcome's JSON text (``ChatService/send``); the `::text` keeps the result
/// type fixed, so a migration that changes the function never invalidates the statement.
struct SendMessageStatement: PostgresPreparedStatement {
    /// Spelled out: the library's default, `String(reflecting:)`, is worked out on every execution.
    static let name = "Chat.SendMessageStatement"
    static let sql =
        "SELECT public.chat_send_message($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::integer, $10)::text"
    /// Declared rather than left to PostgreSQL's inference, so that every execution binds
    /// the types the statement was prepared with, whichever arguments are NULL.
    static let bindingDataTypes: [PostgresDataType] = [.text, .text, .uuid, .uuid, .text, .text, .text, .uuid, .int8, .uuid]
    typealias Row = String?

    var role: String
    var claims: String
    var conversation: UUID
    var clientMessageID: UUID
    var kind: String
    var body: String
    /// The attachment reference (``AttachmentReference/databaseValue``), or nil.
    var attachment: JSONValue?
    var replyTo: UUID?
    var perMinute: Int
    var forwardedFrom: UUID?

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 10)
        bindings.append(role)
        bindings.append(claims)
        bindings.append(conversation)
        bindings.append(clientMessageID)
        bindings.append(kind)
        bindings.append(body)
        bindings.append(attachment?.jsonText)
        bindings.append(replyTo)
        bindings.append(perMinute)
        bindings.append(forwardedFrom)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}
