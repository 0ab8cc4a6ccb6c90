import Core
import Foundation

/// One channel a socket has joined, with what it asked for.
struct RealtimeChannel: Sendable {
    /// A postgres_changes binding: the client's object echoed back with an id.
    struct Binding: Sendable {
        var id: Int
        /// The change types asked for (nil: `*`).
        var event: ChangeType?
        /// The table (or view) bound, as the client named it.
        var table: String
        /// The table whose changes it receives, and which of their types (a view may narrow them).
        var source: String
        var sourceTypes: Set<ChangeType>?
        var filter: ChangeFilter?
        /// The object as the client sent it (echoed in the join reply).
        var original: [String: JSONValue]

        func wants(table: String, type: ChangeType) -> Bool {
            guard event == nil || event == type, sourceTypes?.contains(type) ?? true else { return false }
            return source == table
        }
    }

    var topic: String
    /// Where the topic's broadcasts and presence meet (``TopicAccess/room(of:)``).
    var room: String
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
    /// Who owns the topic.
    var access: TopicAccess
    /// Whether broadcast and presence may be used: false on a topic joined only for
    /// database changes (a name with no owner that is not open, docs/realtime.md §5).
    var messagingAllowed = true
    /// What this channel tracks: phx_ref → (presence key, meta).
    var tracked: [String: (key: String, meta: JSONValue)] = [:]
    /// Presence events allowed in the current window (limit per channel).
    var presenceEvents: [Date] = []

    /// Reads the postgres_changes bindings of a join (at most `limit` of them) against the
    /// bindable tables; the error is the reply reason and names the field.
    static func bindings(from value: JSONValue?, catalog: ChangeCatalog, limit: Int = RealtimeLimits().bindingsPerChannel) throws -> [Binding] {
        guard case .array(let items)? = value else { return [] }
        guard items.count <= limit else {
            throw JoinError("postgres_changes may have at most \(limit) bindings per channel, not \(items.count)")
        }
        var result: [Binding] = []
        for (index, item) in items.enumerated() {
            let field = "postgres_changes[\(index)]"
            guard case .object(let object) = item else { throw JoinError("\(field) must be an object") }
            let event, schema, table, filterText: String?
            do {
                event = try FrameField.string(object["event"], "\(field).event")
                schema = try FrameField.string(object["schema"], "\(field).schema")
                table = try FrameField.string(object["table"], "\(field).table")
                filterText = try FrameField.string(object["filter"], "\(field).filter")
            } catch {
                throw JoinError(error.description)
            }
            let type = ChangeType(rawValue: event ?? "*")
            guard event == nil || event == "*" || type != nil else { throw JoinError("\(field).event must be *, INSERT, UPDATE or DELETE") }
            guard (schema ?? "public") == "public" else { throw JoinError("\(field).schema must be public") }
            guard let table, let bound = catalog.table(table) else {
                throw JoinError("\(field).table must be one of \(catalog.feedNames.joined(separator: ", ")) or a table of the supabase_realtime publication")
            }
            var filter: ChangeFilter?
            if let filterText, !filterText.isEmpty {
                do {
                    filter = try ChangeFilter(parsing: filterText, table: table, columns: catalog.columnTypes(of: table) ?? [:])
                } catch {
                    throw JoinError("\(field).filter: \(error)")
                }
            }
            result.append(Binding(
                id: bindingID(object, index: index), event: type, table: table, source: bound.source, sourceTypes: bound.types,
                filter: filter, original: object))
        }
        return result
    }

    /// The table names a join's postgres_changes bindings ask for (read loosely: the bindings
    /// themselves are checked by ``bindings(from:catalog:limit:)``).
    static func tableNames(in value: JSONValue?) -> [String] {
        guard case .array(let items)? = value else { return [] }
        return items.prefix(RealtimeLimits().bindingsPerChannel * 10).compactMap { item in
            if case .string(let table)? = item.objectValue?["table"] { table } else { nil }
        }
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
