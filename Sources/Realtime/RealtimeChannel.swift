import Core
import Foundation

/// One channel a socket has joined, with what it asked for.
struct RealtimeChannel: Sendable {
    /// A postgres_changes binding: the client's object echoed back with an id.
    struct Binding: Sendable {
        var id: Int
        var event: String
        var table: String
        var filter: ChangeFilter?
        /// The object as the client sent it (echoed in the join reply).
        var original: [String: JSONValue]

        func wants(table: String, type: String) -> Bool {
            guard event == "*" || event == type else { return false }
            // `cursors` is the read-receipt view of participants: their cursor updates.
            if self.table == "cursors" { return table == "participants" && type == "UPDATE" }
            return self.table == table
        }
    }

    var topic: String
    var joinRef: String?
    var caller: Caller
    /// Access-token expiry (unix seconds); the channel closes when it passes.
    var expiresAt: Int
    var bindings: [Binding]
    var broadcastSelf: Bool
    var broadcastAck: Bool
    var presenceEnabled: Bool
    var presenceKey: String
    /// The conversation a `conversation:<id>` topic belongs to (members only).
    var conversation: UUID?
    /// What this channel tracks: phx_ref → (presence key, meta).
    var tracked: [String: (key: String, meta: JSONValue)] = [:]
    /// Presence events allowed in the current window (limit per channel).
    var presenceEvents: [Date] = []

    static let allowedTables: Set<String> = ["messages", "reactions", "participants", "cursors"]
    static let allowedEvents: Set<String> = ["*", "INSERT", "UPDATE", "DELETE"]

    /// Reads the postgres_changes bindings of a join; the error is the reply reason.
    static func bindings(from value: JSONValue?) throws -> [Binding] {
        guard case .array(let items)? = value else { return [] }
        var result: [Binding] = []
        for (index, item) in items.enumerated() {
            guard case .object(let object) = item else { throw JoinError("postgres_changes[\(index)] must be an object") }
            let event = (object["event"].flatMap(ChangeFilter.text)) ?? "*"
            let schema = (object["schema"].flatMap(ChangeFilter.text)) ?? "public"
            guard allowedEvents.contains(event) else { throw JoinError("postgres_changes[\(index)].event must be *, INSERT, UPDATE or DELETE") }
            guard schema == "public" else { throw JoinError("postgres_changes[\(index)].schema must be public") }
            guard let table = object["table"].flatMap(ChangeFilter.text), allowedTables.contains(table) else {
                throw JoinError("postgres_changes[\(index)].table must be one of \(allowedTables.sorted().joined(separator: ", "))")
            }
            var filter: ChangeFilter?
            if let text = object["filter"].flatMap(ChangeFilter.text), !text.isEmpty {
                do {
                    filter = try ChangeFilter(parsing: text, table: table)
                } catch {
                    throw JoinError("postgres_changes[\(index)].filter: \(error)")
                }
            }
            result.append(Binding(id: bindingID(object, index: index), event: event, table: table, filter: filter, original: object))
        }
        return result
    }

    /// A stable, non-zero id for a binding (clients ignore id 0).
    static func bindingID(_ object: [String: JSONValue], index: Int) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in JSONValue.object(object).jsonText.utf8 {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        return Int(hash % 90_000_000) + 10_000_000 + index
    }
}

/// A refused join; the text becomes the reply's `reason`.
struct JoinError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
