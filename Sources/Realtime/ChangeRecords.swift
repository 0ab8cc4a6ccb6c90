import Core
import Database
import Foundation
import PostgresNIO

/// Reads the rows behind change envelopes, once per event per instance.
struct ChangeRecordLoader: Sendable {
    let database: Database

    /// The tables clients may subscribe to, with the columns a change event lists.
    static let columns: [String: [(name: String, type: String)]] = [
        "messages": [
            ("id", "uuid"), ("conversation_id", "uuid"), ("sender_id", "uuid"), ("seq", "int8"), ("client_msg_id", "uuid"),
            ("kind", "text"), ("body", "text"), ("attachment", "jsonb"), ("reply_to_id", "uuid"), ("edited_at", "timestamptz"),
            ("deleted_at", "timestamptz"), ("created_at", "timestamptz"), ("updated_at", "timestamptz"),
        ],
        "reactions": [
            ("message_id", "uuid"), ("user_id", "uuid"), ("conversation_id", "uuid"), ("emoji", "text"),
            ("created_at", "timestamptz"), ("updated_at", "timestamptz"),
        ],
        "participants": [
            ("conversation_id", "uuid"), ("user_id", "uuid"), ("role", "text"), ("joined_at", "timestamptz"),
            ("delivered_up_to_seq", "int8"), ("read_up_to_seq", "int8"), ("updated_at", "timestamptz"),
        ],
    ]

    /// How filters compare each column of a table a binding may name (`cursors` is the
    /// read-receipt view of `participants`); nil for any other table.
    static func columnTypes(bindable table: String) -> [String: ColumnType]? {
        guard let listed = columns[table == "cursors" ? "participants" : table] else { return nil }
        var types: [String: ColumnType] = [:]
        for column in listed {
            types[column.name] = ColumnType(postgres: column.type)
        }
        return types
    }

    /// The current row of a change, or nil when it no longer exists.
    func record(for change: ChangeEnvelope) async throws -> [String: JSONValue]? {
        let sql: String
        let values: [(any PostgresEncodable & Sendable)?]
        switch change.table {
        case "messages":
            sql = """
                SELECT jsonb_build_object('id', m.id, 'conversation_id', m.conversation_id, 'sender_id', m.sender_id, 'seq', m.seq,
                    'client_msg_id', m.client_msg_id, 'kind', m.kind, 'body', m.body, 'attachment', m.attachment,
                    'reply_to_id', m.reply_to_id, 'edited_at', m.edited_at, 'deleted_at', m.deleted_at,
                    'created_at', m.created_at, 'updated_at', m.updated_at)::text
                FROM public.messages m WHERE m.id = $1
                """
            values = [change.key["id"].flatMap(UUID.init(uuidString:))]
        case "reactions":
            sql = """
                SELECT jsonb_build_object('message_id', r.message_id, 'user_id', r.user_id, 'conversation_id', m.conversation_id,
                    'emoji', r.emoji, 'created_at', r.created_at, 'updated_at', r.updated_at)::text
                FROM public.reactions r JOIN public.messages m ON m.id = r.message_id
                WHERE r.message_id = $1 AND r.user_id = $2
                """
            values = [change.key["message_id"].flatMap(UUID.init(uuidString:)), change.key["user_id"].flatMap(UUID.init(uuidString:))]
        case "participants":
            sql = """
                SELECT jsonb_build_object('conversation_id', p.conversation_id, 'user_id', p.user_id, 'role', p.role,
                    'joined_at', p.joined_at, 'delivered_up_to_seq', p.delivered_up_to_seq, 'read_up_to_seq', p.read_up_to_seq,
                    'updated_at', p.updated_at)::text
                FROM public.participants p WHERE p.conversation_id = $1 AND p.user_id = $2
                """
            values = [change.conversationID, change.key["user_id"].flatMap(UUID.init(uuidString:))]
        default:
            return nil
        }
        let text = try await database.withOwner { connection in try await connection.scalarText(sql, values) }
        return text.flatMap { try? JSONValue.parse($0).objectValue }
    }
}

/// Who belongs to which conversation, cached per instance and kept current by the
/// participants change events every instance receives.
///
/// Entries are re-read after ``timeToLive`` so a change event this instance missed (its bus
/// listener was reconnecting) cannot keep a removed member subscribed for long.
actor MembershipCache {
    private let database: Database
    private var members: [UUID: Set<UUID>] = [:]
    private var loadedAt: [UUID: ContinuousClock.Instant] = [:]
    let timeToLive: Duration

    init(database: Database, timeToLive: Duration = .seconds(30)) {
        self.database = database
        self.timeToLive = timeToLive
    }

    /// The members of a conversation.
    func members(of conversation: UUID) async throws -> Set<UUID> {
        if let cached = members[conversation], let loaded = loadedAt[conversation], ContinuousClock.now - loaded < timeToLive {
            return cached
        }
        let loaded = try await database.withOwner { connection in
            var users = Set<UUID>()
            for try await user in try await connection.rows("SELECT user_id FROM public.participants WHERE conversation_id = $1", [conversation]).decode(UUID.self) {
                users.insert(user)
            }
            return users
        }
        if members.count > 50_000 {
            members.removeAll(keepingCapacity: true)
            loadedAt.removeAll(keepingCapacity: true)
        }
        members[conversation] = loaded
        loadedAt[conversation] = .now
        return loaded
    }

    /// Applies a participants change.
    func apply(_ change: ChangeEnvelope) {
        guard change.table == "participants", let user = change.key["user_id"].flatMap(UUID.init(uuidString:)) else { return }
        switch change.type {
        case "INSERT": members[change.conversationID]?.insert(user)
        case "DELETE": members[change.conversationID]?.remove(user)
        default: break
        }
    }
}
