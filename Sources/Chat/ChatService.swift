import Core
import Database
import Foundation
import PostgresNIO
import Realtime

/// Conversations and messages. Every query runs as the caller under row-level security;
/// membership changes go through the database's checked functions (migration 0003); the
/// service validates input first so clients get precise errors.
public struct ChatService: Sendable {
    let database: Database
    /// Where committed changes are announced (realtime delivery).
    let publisher: (any ChangePublisher)?
    /// Signs and verifies the inbox cursors.
    let cursors: CursorCodec
    /// The operators' switches; `message_sending` stops new messages.
    let killSwitches: any KillSwitches
    /// Runs the sends, several in one statement when they arrive together.
    let sends: SendBatcher

    public init(database: Database, publisher: (any ChangePublisher)? = nil, killSwitches: any KillSwitches = NoKillSwitches()) {
        self.database = database
        self.publisher = publisher
        self.cursors = CursorCodec(database: database)
        self.killSwitches = killSwitches
        self.sends = SendBatcher(database: database)
    }

    /// Announces committed changes (after the transaction, never before). The announcement
    /// runs to its end even when the request is cancelled (its client left): the change is
    /// committed, and a retry that finds it does not announce it again.
    func announce(_ changes: [ChangeEnvelope]) async {
        guard !changes.isEmpty, let publisher else { return }
        await Task { await publisher.publish(changes) }.value
    }

    /// Participants changes; an INSERT or DELETE also changes who may see the conversation.
    private func participants(
        _ type: ChangeType, _ conversation: UUID, _ users: [UUID], records: [UUID: JSONValue] = [:]
    ) -> [ChangeEnvelope] {
        users.map { user in
            let membership: MembershipChange? = switch type {
            case .insert: .joined(user)
            case .delete: .left(user)
            case .update: nil
            }
            return ChangeEnvelope(
                table: "participants", type: type, conversationID: conversation, key: ["user_id": user.uuidString.lowercased()],
                record: records[user], membership: membership)
        }
    }

    /// The changes of the conversation's participants among `users` (all of them when nil),
    /// each carrying its row as this transaction sees it, so that realtime does not read a
    /// row that may be gone by then.
    private func participantChanges(
        _ connection: PostgresConnection, _ type: ChangeType, _ conversation: UUID, among users: [UUID]?
    ) async throws -> [ChangeEnvelope] {
        var found: [UUID] = []
        var records: [UUID: JSONValue] = [:]
        let rows = try await connection.rows("""
            SELECT p.user_id, \(ChatSQL.participantRecord("p"))::text FROM public.participants p
            WHERE p.conversation_id = $1 AND ($2::uuid[] IS NULL OR p.user_id = ANY($2))
            """, [conversation, users])
        for try await (user, record) in rows.decode((UUID, String).self) {
            found.append(user)
            records[user] = try? JSONValue.parse(record)
        }
        return participants(type, conversation, found, records: records)
    }

    // MARK: Conversations

    /// The DM with `target`, created on first use.
    func directConversation(_ caller: Caller, with target: UUID) async throws -> UUID {
        let me = try caller.requireUser()
        guard me != target else { throw APIError.invalidField("target_user_id", "must not be yourself") }
        let (conversation, joined) = try await database.withCaller(caller) { connection -> (UUID, [ChangeEnvelope]) in
            for try await (conversation, created) in try await connection.rows(
                "SELECT conversation, created FROM public.chat_get_or_create_dm($1)", [target]
            ).decode((UUID, Bool).self) {
                guard created else { return (conversation, []) }
                return (conversation, try await participantChanges(connection, .insert, conversation, among: [me, target]))
            }
            throw APIError.notFound("target_user_id: no such user")
        }
        await announce(joined)
        return conversation
    }

    /// A new group owned by the caller.
    func createGroup(_ caller: Caller, title: String, members: [UUID]) async throws -> UUID {
        _ = try caller.requireUser()
        let (conversation, joined) = try await database.withCaller(caller) { connection in
            let conversation = try await uuid(connection, "SELECT public.chat_create_group($1, $2)", [title, members])
            return (conversation, try await participantChanges(connection, .insert, conversation, among: nil))
        }
        await announce(joined)
        return conversation
    }

    /// Adds members to a group; returns how many were new.
    func addMembers(_ caller: Caller, conversation: UUID, members: [UUID]) async throws -> Int {
        _ = try caller.requireUser()
        let (added, joined) = try await database.withCaller(caller) { connection -> ([UUID], [ChangeEnvelope]) in
            for try await added in try await connection.rows("SELECT public.chat_add_members($1, $2)", [conversation, members]).decode([UUID].self) {
                return (added, try await participantChanges(connection, .insert, conversation, among: added))
            }
            return ([], [])
        }
        await announce(joined)
        return added.count
    }

    /// Removes another member.
    func removeMember(_ caller: Caller, conversation: UUID, user: UUID) async throws {
        _ = try caller.requireUser()
        try await database.withCaller(caller) { connection in
            try await connection.execute("SELECT public.chat_remove_member($1, $2)", [conversation, user])
        }
        await announce(participants(.delete, conversation, [user]))
    }

    /// Changes another member's role.
    func setRole(_ caller: Caller, conversation: UUID, user: UUID, role: String) async throws {
        _ = try caller.requireUser()
        let changed = try await database.withCaller(caller) { connection in
            try await connection.execute("SELECT public.chat_set_member_role($1, $2, $3)", [conversation, user, role])
            return try await participantChanges(connection, .update, conversation, among: [user])
        }
        await announce(changed)
    }

    /// Leaves a group.
    func leave(_ caller: Caller, conversation: UUID) async throws {
        let me = try caller.requireUser()
        try await database.withCaller(caller) { connection in
            try await connection.execute("SELECT public.chat_leave($1)", [conversation])
        }
        await announce(participants(.delete, conversation, [me]))
    }

    /// Mutes the conversation until a time (nil unmutes).
    func mute(_ caller: Caller, conversation: UUID, until: Date?) async throws -> Data {
        let me = try caller.requireUser()
        return try await database.withCaller(caller) { connection in
            let rows = try await connection.rows(
                "UPDATE public.participants SET muted_until = $3 WHERE conversation_id = $1 AND user_id = $2 RETURNING jsonb_build_object('conversation_id', conversation_id, 'muted_until', muted_until)::text",
                [conversation, me, until])
            for try await json in rows.decode(String.self) { return Data(json.utf8) }
            throw APIError.notFound("conversation_id: no such conversation")
        }
    }

    // MARK: Messages

    /// Sends a message (text, or an attachment with an optional caption); a retry with the
    /// same client message id returns the original and claims nothing.
    ///
    /// One database call (``SendMessageStatement``, prepared once per connection): it runs
    /// as the caller under row-level security, its insert trigger claims the attachment and
    /// resolves `forwardedFrom` (a text message the caller can read) into `forwarded_from`,
    /// and it returns the committed row, which realtime delivers without reading it again.
    /// The refusals (`attachment: …`, `kind: …`, `forwarded_from_id: …`) come back as 400s
    /// naming the field.
    func send(
        _ caller: Caller, conversation: UUID, clientMessageID: UUID, kind: MessageKind = .text, body: String,
        attachment: AttachmentReference? = nil, replyTo: UUID?, forwardedFrom: UUID? = nil
    ) async throws -> Data {
        _ = try caller.requireUser()
        let text = try await sends.outcome(of: SendMessageStatement(
            role: caller.role.rawValue, claims: caller.claimsJSON, conversation: conversation, clientMessageID: clientMessageID,
            kind: kind.rawValue, body: body, attachment: attachment?.databaseValue, replyTo: replyTo,
            perMinute: MessageRules.perMinute, forwardedFrom: forwardedFrom))
        guard let text, case .object(let outcome) = try JSONValue.parse(text) else {
            throw UnexpectedSendOutcome(text: text ?? "no row")
        }
        switch outcome["outcome"] {
        case .string("sent"), .string("existing"):
            guard let result = outcome["result"], case .object(let record)? = outcome["record"],
                case .string(let id)? = record["id"], let message = UUID(uuidString: id)
            else { throw UnexpectedSendOutcome(text: text) }
            if outcome["outcome"] == .string("sent") {
                await announce([ChangeEnvelope(
                    table: "messages", type: .insert, conversationID: conversation, key: ["id": message.uuidString.lowercased()],
                    record: .object(record))])
            }
            return Data(result.jsonText.utf8)
        case .string("not_member"):
            throw APIError.notFound("conversation_id: no such conversation")
        case .string("blocked"):
            throw APIError.forbidden("cannot send: one of you has blocked the other")
        case .string("rate_limited"):
            let wait = if case .number(let seconds)? = outcome["retry_after"], seconds >= 1, seconds <= 60 { Int(seconds) } else { 60 }
            throw APIError.rateLimited(
                code: "rate_limited", message: "You can send \(MessageRules.perMinute) messages a minute; retry in \(wait) s", retryAfter: wait)
        default:
            throw UnexpectedSendOutcome(text: text)
        }
    }

    /// Messages of a conversation by seq: the newest page, or before / after a seq.
    func history(_ caller: Caller, conversation: UUID, beforeSeq: Int64?, afterSeq: Int64?, limit: Int) async throws -> Data {
        _ = try caller.requireUser()
        return try await database.withCaller(caller) { connection in
            try await requireMember(connection, conversation)
            // Newest-first unless paging forward from after_seq; always returned oldest first.
            let forward = afterSeq != nil && beforeSeq == nil
            let rows = try await connection.rows("""
                SELECT coalesce(jsonb_agg(x.message ORDER BY x.seq), '[]'::jsonb)::text, count(*) FROM (
                    SELECT \(ChatSQL.messageJSON("m")) AS message, m.seq FROM public.messages m
                    WHERE m.conversation_id = $1
                      AND ($2::bigint IS NULL OR m.seq < $2) AND ($3::bigint IS NULL OR m.seq > $3)
                      AND NOT public.chat_hidden(m.id)
                    ORDER BY m.seq \(forward ? "ASC" : "DESC")
                    LIMIT $4
                ) x
                """, [conversation, beforeSeq, afterSeq, limit + 1])
            for try await (items, count) in rows.decode((String, Int).self) {
                return try Self.historyPage(items, count: count, limit: limit, forward: forward)
            }
            return Data(#"{"items":[],"has_more":false}"#.utf8)
        }
    }

    /// Edits the caller's own text message (within 48 hours).
    func edit(_ caller: Caller, message: UUID, body: String) async throws -> Data {
        _ = try caller.requireUser()
        let (result, change) = try await database.withCaller(caller) { connection in
            guard let (sender, deleted) = try await messageState(connection, message) else {
                throw APIError.notFound("message_id: no such message")
            }
            guard sender == caller.userID else { throw APIError.forbidden("message_id: only the sender may edit a message") }
            guard !deleted else { throw APIError.invalidField("message_id", "the message was deleted") }
            return try await updatedMessage(connection, "UPDATE public.messages m SET body = $2 WHERE m.id = $1", [message, body])
        }
        await announce([change])
        return result
    }

    /// Deletes a message for everyone (a tombstone); idempotent.
    func delete(_ caller: Caller, message: UUID) async throws -> Data {
        _ = try caller.requireUser()
        let (result, change) = try await database.withCaller(caller) { connection -> (Data, ChangeEnvelope?) in
            guard let (_, deleted) = try await messageState(connection, message) else {
                throw APIError.notFound("message_id: no such message")
            }
            if deleted {
                return (try await updated(connection, "SELECT \(ChatSQL.messageJSON("m"))::text FROM public.messages m WHERE m.id = $1", [message]), nil)
            }
            do {
                return try await updatedMessage(connection, "UPDATE public.messages m SET deleted_at = now() WHERE m.id = $1", [message])
            } catch let error as APIError where error.status == .notFound {
                throw APIError.forbidden("message_id: only the sender or a group owner or admin may delete it")
            }
        }
        if let change { await announce([change]) }
        return result
    }

    /// Sets (or with nil removes) the caller's reaction to a message.
    func react(_ caller: Caller, message: UUID, emoji: String?) async throws -> Data {
        let me = try caller.requireUser()
        let change = try await database.withCaller(caller) { connection -> ChangeEnvelope? in
            var conversation: UUID?
            for try await id in try await connection.rows("SELECT conversation_id FROM public.messages WHERE id = $1", [message]).decode(UUID.self) {
                conversation = id
            }
            guard let conversation else { throw APIError.notFound("message_id: no such message") }
            let key = ["message_id": message.uuidString.lowercased(), "user_id": me.uuidString.lowercased()]
            guard let emoji else {
                let removed = try await connection.exists(
                    "DELETE FROM public.reactions WHERE message_id = $1 AND user_id = $2 RETURNING 1", [message, me])
                return removed ? ChangeEnvelope(table: "reactions", type: .delete, conversationID: conversation, key: key) : nil
            }
            // The row travels with the change: realtime must not re-read it, as by then it
            // may already be removed again and the INSERT would never be delivered.
            // `xmax = 0` only for a row this statement inserted (not one it updated).
            let rows = try await connection.rows("""
                INSERT INTO public.reactions AS r (message_id, user_id, emoji) VALUES ($1, $2, $3)
                ON CONFLICT (message_id, user_id) DO UPDATE SET emoji = EXCLUDED.emoji, updated_at = now()
                RETURNING \(ChatSQL.reactionRecord("r", conversation: "$4::uuid"))::text, r.xmax = 0
                """, [message, me, emoji, conversation])
            for try await (record, inserted) in rows.decode((String, Bool).self) {
                return ChangeEnvelope(
                    table: "reactions", type: inserted ? .insert : .update, conversationID: conversation, key: key,
                    record: try? JSONValue.parse(record))
            }
            return nil
        }
        if let change { await announce([change]) }
        let result: [String: Any] = ["message_id": message.uuidString.lowercased(), "emoji": emoji ?? NSNull()]
        return try JSONSerialization.data(withJSONObject: result)
    }

    /// Moves the caller's delivered (or read) cursor forward; returns both cursors.
    func acknowledge(_ caller: Caller, conversation: UUID, upTo seq: Int64, read: Bool) async throws -> Data {
        let me = try caller.requireUser()
        let result = try await database.withCaller(caller) { connection in
            let column = read ? "read_up_to_seq" : "delivered_up_to_seq"
            let rows = try await connection.rows("""
                UPDATE public.participants p SET \(column) = $3 WHERE conversation_id = $1 AND user_id = $2
                RETURNING jsonb_build_object('conversation_id', conversation_id, 'delivered_up_to_seq', delivered_up_to_seq,
                                             'read_up_to_seq', read_up_to_seq)::text,
                          \(ChatSQL.participantRecord("p"))::text
                """, [conversation, me, seq])
            for try await (json, record) in rows.decode((String, String).self) {
                return (Data(json.utf8), (try? JSONValue.parse(record)).map { [me: $0] } ?? [:])
            }
            throw APIError.notFound("conversation_id: no such conversation")
        }
        await announce(participants(.update, conversation, [me], records: result.1))
        return result.0
    }

    // MARK: Helpers

    /// The 400 for a refusal of the attachment claim or of a forward (migrations 0013 and
    /// 0017, storage.claim_object raise `attachment: …`, `kind: …` or `forwarded_from_id: …`
    /// with SQLSTATE P0002, 23505 or 22023), or nil.
    static func attachmentError(_ error: any Error) -> APIError? {
        guard let state = PostgresErrorText.sqlState(error), ["P0002", "23505", "22023"].contains(state),
            let message = PostgresErrorText.message(error)
        else { return nil }
        for field in ["attachment", "kind", "forwarded_from_id"] where message.hasPrefix(field + ": ") {
            return APIError.invalidField(field, String(message.dropFirst(field.count + 2)))
        }
        return nil
    }

    /// `{"items":[…oldest first…],"has_more":…}` from up to `limit + 1` messages.
    static func historyPage(_ items: String, count: Int, limit: Int, forward: Bool) throws -> Data {
        var list = try JSONSerialization.jsonObject(with: Data(items.utf8)) as? [Any] ?? []
        let hasMore = count > limit
        if hasMore, !list.isEmpty {
            // Drop the extra row on the far side of the page.
            if forward { list.removeLast() } else { list.removeFirst() }
        }
        let page: [String: Any] = ["items": list, "has_more": hasMore]
        return try JSONSerialization.data(withJSONObject: page)
    }

    private func requireMember(_ connection: PostgresConnection, _ conversation: UUID) async throws {
        guard try await connection.exists("SELECT 1 WHERE public.is_chat_member($1)", [conversation]) else {
            throw APIError.notFound("conversation_id: no such conversation")
        }
    }

    private func messageState(_ connection: PostgresConnection, _ message: UUID) async throws -> (UUID, Bool)? {
        for try await row in try await connection.rows(
            "SELECT sender_id, deleted_at IS NOT NULL FROM public.messages WHERE id = $1", [message]
        ).decode((UUID, Bool).self) {
            return row
        }
        return nil
    }

    /// Runs an `UPDATE public.messages m … WHERE …` (without RETURNING): the message as the
    /// caller sees it, and its UPDATE change carrying the committed row.
    private func updatedMessage(
        _ connection: PostgresConnection, _ update: String, _ values: [(any PostgresEncodable & Sendable)?]
    ) async throws -> (Data, ChangeEnvelope) {
        let rows = try await connection.rows(
            "\(update) RETURNING \(ChatSQL.messageJSON("m"))::text, public.chat_message_record(m)::text, m.id, m.conversation_id", values)
        for try await (json, record, id, conversation) in rows.decode((String, String, UUID, UUID).self) {
            let change = ChangeEnvelope(
                table: "messages", type: .update, conversationID: conversation, key: ["id": id.uuidString.lowercased()],
                record: try? JSONValue.parse(record))
            return (Data(json.utf8), change)
        }
        throw APIError.notFound("message_id: no such message")
    }

    private func updated(_ connection: PostgresConnection, _ sql: String, _ values: [(any PostgresEncodable & Sendable)?]) async throws -> Data {
        guard let json = try await connection.jsonText(sql, values) else { throw APIError.notFound("message_id: no such message") }
        return json
    }

    private func uuid(_ connection: PostgresConnection, _ sql: String, _ values: [(any PostgresEncodable & Sendable)?]) async throws -> UUID {
        for try await id in try await connection.rows(sql, values).decode(UUID.self) { return id }
        throw APIError.notFound("no such conversation")
    }
}

/// `public.chat_send_message` answered in a shape this server does not know (its migration
/// and the binary disagree): a server fault, logged with what came back.
struct UnexpectedSendOutcome: Error, CustomStringConvertible {
    let text: String
    var description: String { "chat_send_message returned an unexpected outcome: \(text.prefix(200))" }
}
