@testable import Chat
import Core
import Database
import Foundation
import Realtime
import Testing
import TestSupport

@Suite struct MessageTests {
    @Test func sendIsIdempotentOnTheClientMessageIDAndSeqIsContiguous() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("seq_a"), b = try await f.user("seq_b")
            let chat = try await f.dm(a, b)
            let clientID = UUID()
            let first = try await f.send(a, chat, "hello", clientID: clientID)
            let retry = try await f.send(a, chat, "hello", clientID: clientID)
            #expect(first["message_id"] as? String == retry["message_id"] as? String)
            #expect(first["seq"] as? Int == 1)
            // Concurrent senders still get 2…11 without gaps or repeats.
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<10 {
                    group.addTask { try await f.send(index % 2 == 0 ? a : b, chat, "m\(index)")["seq"] as? Int ?? -1 }
                }
                var seqs: [Int] = []
                for try await seq in group { seqs.append(seq) }
                #expect(seqs.sorted() == Array(2...11))
            }
            let history = try await f.messages(b, chat, ["limit": 200])
            #expect(history.count == 11)
            #expect(history.map { $0["seq"] as? Int } == (1...11).map { $0 })
        }
    }

    /// `chat_send_message` trusts the role and claims it is given, so only the server's own
    /// role may call it: a client role calling it directly (claiming to be someone else) is
    /// refused, and nothing is written.
    @Test func theOneCallSendIsTheServersAlone() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("fn_a"), b = try await f.user("fn_b")
            let chat = try await f.dm(a, b)
            for role in ["anon", "authenticated", "service_role"] {
                await #expect(throws: APIError.self, "\(role) must not execute it") {
                    try await database.withCaller(a) { connection in
                        try await connection.execute("SELECT set_config('role', $1, true)", [role])
                        try await connection.execute(
                            "SELECT public.chat_send_message('authenticated', $1, $2, gen_random_uuid(), 'text', 'forged', NULL::jsonb, NULL::uuid, 60)",
                            [b.claimsJSON, UUID(uuidString: chat)])
                    }
                }
            }
            #expect(try await f.messages(a, chat).isEmpty)
        }
    }

    /// Defect: clients could insert rows with their own seq, jamming a conversation.
    @Test func clientsCannotChooseASeq() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("jam_a"), b = try await f.user("jam_b")
            let chat = try await f.dm(a, b)
            await #expect(throws: APIError.self) {
                try await database.withCaller(a) { connection in
                    try await connection.execute(
                        "INSERT INTO public.messages (conversation_id, sender_id, client_msg_id, body, seq) VALUES ($1, $2, $3, 'x', 999999)",
                        [UUID(uuidString: chat), a.userID, UUID()])
                }
            }
            // Even when the column list is allowed, the trigger assigns the seq.
            _ = try await f.send(a, chat, "after the attempt")
            #expect(try await f.messages(a, chat).map { $0["seq"] as? Int } == [1])
        }
    }

    /// Defects: recipients could rewrite messages they received; senders could not edit.
    @Test func onlyTheSenderEditsAndEveryoneSeesTheTombstone() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("edit_a"), b = try await f.user("edit_b")
            let chat = try await f.dm(a, b)
            let sent = try await f.send(a, chat, "original")
            let id = try #require(sent["message_id"] as? String)
            let byRecipient = try await #require(throws: APIError.self) {
                try await f.call(b, "edit_message", ["message_id": id, "body": "forged"])
            }
            #expect(byRecipient.status == .forbidden)
            // Also at the database level: the row is not the recipient's to update.
            try await database.withCaller(b) { connection in
                try await connection.execute("UPDATE public.messages SET body = 'forged' WHERE id = $1", [UUID(uuidString: id)])
            }
            #expect(try await f.messages(a, chat).first?["body"] as? String == "original")
            let edited = try await f.object(a, "edit_message", ["message_id": id, "body": "  fixed  "])
            #expect(edited["body"] as? String == "fixed")
            #expect(!(edited["edited_at"] is NSNull))
            // Past 48 hours an edit is refused.
            try await database.withOwner { connection in
                try await connection.execute("ALTER TABLE public.messages DISABLE TRIGGER messages_guard_update", [])
                try await connection.execute("UPDATE public.messages SET created_at = now() - interval '49 hours' WHERE id = $1", [UUID(uuidString: id)])
                try await connection.execute("ALTER TABLE public.messages ENABLE TRIGGER messages_guard_update", [])
            }
            await #expect(throws: APIError.self) { try await f.call(a, "edit_message", ["message_id": id, "body": "too late"]) }
            // Deleting leaves a tombstone with an empty body; deleting again is harmless.
            let deleted = try await f.object(a, "delete_message", ["message_id": id])
            #expect(deleted["body"] as? String == "")
            #expect(!(deleted["deleted_at"] is NSNull))
            _ = try await f.object(a, "delete_message", ["message_id": id])
            #expect(try await f.messages(b, chat).first?["body"] as? String == "")
        }
    }

    @Test func groupAdminsMayDeleteOthersMessagesMembersMayNot() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let owner = try await f.user("mod_owner"), a = try await f.user("mod_a"), b = try await f.user("mod_b")
            let group = try await f.call(owner, "create_group_chat", ["title": "Mods", "member_ids": [a.id, b.id]]) as! String
            let id = try #require(try await f.send(a, group, "spam")["message_id"] as? String)
            await #expect(throws: APIError.self) { try await f.call(b, "delete_message", ["message_id": id]) }
            let deleted = try await f.object(owner, "delete_message", ["message_id": id])
            #expect(deleted["body"] as? String == "")
        }
    }

    /// Defect: blocks were checked when creating a DM but not when sending.
    @Test func aBlockStopsSendingInAnExistingConversation() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("snd_a"), b = try await f.user("snd_b")
            let chat = try await f.dm(a, b)
            _ = try await f.send(a, chat, "before")
            try await database.withOwner { connection in
                try await connection.execute("INSERT INTO public.blocks (blocker_id, blocked_id) VALUES ($1, $2)", [b.userID, a.userID])
            }
            for sender in [a, b] {
                let error = try await #require(throws: APIError.self) { try await f.send(sender, chat, "after") }
                #expect(error.status == .forbidden)
            }
        }
    }

    @Test func bodyAttachmentReplyAndRateRules() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("rule_a"), b = try await f.user("rule_b"), c = try await f.user("rule_c")
            let chat = try await f.dm(a, b)
            let other = try await f.dm(a, c)
            await #expect(throws: APIError.invalidField("body", "must not be empty")) { try await f.send(a, chat, "   ") }
            await #expect(throws: APIError.invalidField("body", "must be at most 4000 characters")) {
                try await f.send(a, chat, String(repeating: "я", count: 4001))
            }
            await #expect(throws: APIError.self) {
                try await f.call(a, "send_message_v1", ["conversation_id": chat, "client_msg_id": UUID().uuidString, "body": "x", "kind": "image",
                                                         "attachment": ["path": "made/up.png"]])
            }
            // A reply must point into the same conversation.
            let elsewhere = try #require(try await f.send(a, other, "elsewhere")["message_id"] as? String)
            await #expect(throws: APIError.self) {
                try await f.call(a, "send_message_v1", ["conversation_id": chat, "client_msg_id": UUID().uuidString, "body": "re", "reply_to_id": elsewhere])
            }
            let original = try #require(try await f.send(b, chat, "question")["message_id"] as? String)
            let reply = try await f.object(a, "send_message_v1", ["conversation_id": chat, "client_msg_id": UUID().uuidString, "body": "answer", "reply_to_id": original])
            #expect(reply["seq"] as? Int == 2)
            // 60 messages a minute (two sent above), then a clear error with a retry time.
            for index in 0..<58 { _ = try await f.send(a, chat, "flood \(index)") }
            let limited = try await #require(throws: APIError.self) { try await f.send(a, chat, "one too many") }
            #expect(limited.status == .tooManyRequests)
            #expect((1...60).contains(limited.retryAfterSeconds ?? 0))
        }
    }

    @Test func reactionsAreOnePerUserAndReplace() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("re_a"), b = try await f.user("re_b"), outsider = try await f.user("re_out")
            let chat = try await f.dm(a, b)
            let id = try #require(try await f.send(a, chat, "react to me")["message_id"] as? String)
            _ = try await f.call(b, "set_reaction", ["message_id": id, "emoji": "👍"])
            _ = try await f.call(b, "set_reaction", ["message_id": id, "emoji": "❤️"])
            var reactions = try await f.messages(a, chat).first?["reactions"] as? [[String: Any]] ?? []
            #expect(reactions.map { $0["emoji"] as? String } == ["❤️"])
            _ = try await f.call(b, "set_reaction", ["message_id": id, "emoji": NSNull()])
            reactions = try await f.messages(a, chat).first?["reactions"] as? [[String: Any]] ?? []
            #expect(reactions.isEmpty)
            await #expect(throws: APIError.self) { try await f.call(outsider, "set_reaction", ["message_id": id, "emoji": "👍"]) }
            await #expect(throws: APIError.invalidField("emoji", "must be a single emoji, or null to remove the reaction")) {
                try await f.call(b, "set_reaction", ["message_id": id, "emoji": "lol"])
            }
        }
    }

    /// A reaction set and removed at once reaches realtime as both changes: the INSERT and
    /// the UPDATE carry their rows (as `ChatChangeFeed` reads them), so realtime never has to
    /// read a row that is already gone. A receipt carries its participant row too.
    @Test func reactionAndReceiptChangesCarryTheirRows() async throws {
        try await TestDatabase.withDatabase { database in
            let recorder = ChangeRecorder()
            let f = ChatFixture(database, publisher: recorder)
            let feed = ChatChangeFeed(database: database)
            let a = try await f.user("rr_a"), b = try await f.user("rr_b")
            let chat = try await f.dm(a, b)
            let id = try #require(try await f.send(a, chat, "react and take it back")["message_id"] as? String)
            _ = try await f.call(b, "set_reaction", ["message_id": id, "emoji": "👍"])
            _ = try await f.call(b, "set_reaction", ["message_id": id, "emoji": "❤️"])
            let replaced = try #require(recorder.all.last)
            #expect(try await feed.record(for: replaced) == replaced.record?.objectValue)
            _ = try await f.call(b, "set_reaction", ["message_id": id, "emoji": NSNull()])
            _ = try await f.call(b, "set_reaction", ["message_id": id, "emoji": NSNull()])  // nothing left to remove
            let reactions = recorder.all.filter { $0.table == "reactions" }
            #expect(reactions.map(\.type) == [.insert, .update, .delete])
            #expect(reactions.map { $0.record?.objectValue?["emoji"] } == [.string("👍"), .string("❤️"), nil])
            let inserted = try #require(reactions.first?.record?.objectValue)
            #expect(Set(inserted.keys) == ["message_id", "user_id", "conversation_id", "emoji", "created_at", "updated_at"])
            #expect(inserted["conversation_id"] == .string(chat) && inserted["user_id"] == .string(b.id))
            #expect(try await feed.record(for: reactions[0]) == nil)  // gone: only the carried row tells of it

            _ = try await f.call(b, "ack_read_v1", ["conversation_id": chat, "up_to_seq": 1])
            let receipt = try #require(recorder.all.last)
            #expect(receipt.table == "participants" && receipt.type == .update)
            #expect(receipt.record?.objectValue?["read_up_to_seq"] == .number(1))
            #expect(try await feed.record(for: receipt) == receipt.record?.objectValue)
        }
    }

    /// Members joining (a DM, a new group, an addition) and a role change reach realtime with
    /// their participant rows, as `ChatChangeFeed` reads them; a removal carries only its key.
    @Test func membershipChangesCarryTheirParticipantRows() async throws {
        try await TestDatabase.withDatabase { database in
            let recorder = ChangeRecorder()
            let f = ChatFixture(database, publisher: recorder)
            let feed = ChatChangeFeed(database: database)
            let owner = try await f.user("mc_owner"), member = try await f.user("mc_member"), extra = try await f.user("mc_extra")
            _ = try await f.dm(owner, member)
            let group = try await f.call(owner, "create_group_chat", ["title": "Carried", "member_ids": [member.id]]) as! String
            try await f.call(owner, "add_chat_members", ["conversation_id": group, "member_ids": [extra.id]])
            try await f.call(owner, "set_chat_member_role", ["conversation_id": group, "user_id": extra.id, "role": "admin"])
            let changes = recorder.all.filter { $0.table == "participants" }
            #expect(changes.map(\.type) == [.insert, .insert, .insert, .insert, .insert, .update])
            for change in changes {
                let carried = try #require(change.record?.objectValue, "\(change.type) of \(change.key) carries no row")
                if change.type == .insert {
                    #expect(carried["user_id"] == .string(change.key["user_id"] ?? ""))
                }
            }
            #expect(changes.last?.record?.objectValue?["role"] == .string("admin"))
            #expect(try await feed.record(for: changes[5]) == changes[5].record?.objectValue)
            try await f.call(owner, "remove_chat_member", ["conversation_id": group, "user_id": extra.id])
            let removal = try #require(recorder.all.last)
            #expect(removal.type == .delete && removal.record == nil && removal.membership == .left(extra.userID!))
        }
    }

    /// A write made outside the server (another `application_name`, here in Tokyo time) is
    /// logged with its row as the server reads it, so an insert removed at once still reaches
    /// realtime with its record; a delete logs its key only (migration 0047).
    @Test func writesMadeOutsideTheServerLogTheirRows() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let feed = ChatChangeFeed(database: database)
            let a = try await f.user("ow_a"), b = try await f.user("ow_b")
            let chat = try await f.dm(a, b)
            let id = try #require(try await f.send(a, chat, "written to by an operator")["message_id"] as? String)
            func outside(_ sql: String) async throws -> ChangeEnvelope? {
                try await database.withOwner { connection in
                    try await connection.execute("SET LOCAL application_name = 'psql'", [])
                    try await connection.execute("SET LOCAL TimeZone = 'Asia/Tokyo'", [])
                    try await connection.execute(sql, [])
                    let logged = try await connection.scalarText(
                        "SELECT envelope::text FROM public.realtime_changes WHERE envelope IS NOT NULL ORDER BY id DESC LIMIT 1", [])
                    return logged.flatMap(ChatOutsideWrites.change(from:))
                }
            }
            let changes = [
                try await outside("INSERT INTO public.reactions (message_id, user_id, emoji) VALUES ('\(id)', '\(b.id)', '👍')"),
                try await outside("UPDATE public.participants SET read_up_to_seq = 1 WHERE conversation_id = '\(chat)' AND user_id = '\(b.id)'"),
                try await outside("INSERT INTO public.messages (conversation_id, sender_id, body) VALUES ('\(chat)', '\(a.id)', 'from an operator')"),
            ]
            for change in changes {
                let change = try #require(change)
                let carried = try #require(change.record?.objectValue, "\(change.table) \(change.type) carries no row")
                #expect(try await feed.record(for: change) == carried)
                guard case .string(let updated)? = carried["updated_at"] else {
                    Issue.record("\(change.table) record has no updated_at")
                    continue
                }
                #expect(updated.hasSuffix("+00:00"), "the writer's time zone leaked into \(updated)")
            }

            let removed = try #require(try await outside("DELETE FROM public.reactions WHERE message_id = '\(id)' AND user_id = '\(b.id)'"))
            #expect(removed.type == .delete && removed.record == nil)
            #expect(try await feed.record(for: try #require(changes[0])) == nil)  // gone: only the logged row tells of it
            #expect(changes[0]?.record?.objectValue?["emoji"] == .string("👍"))
        }
    }

    @Test func cursorsOnlyMoveForwardAndReadImpliesDelivered() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("ack_a"), b = try await f.user("ack_b")
            let chat = try await f.dm(a, b)
            for index in 0..<3 { _ = try await f.send(a, chat, "m\(index)") }
            var cursors = try await f.object(b, "ack_delivered_v1", ["conversation_id": chat, "up_to_seq": 2])
            #expect(cursors["delivered_up_to_seq"] as? Int == 2 && cursors["read_up_to_seq"] as? Int == 0)
            cursors = try await f.object(b, "ack_delivered_v1", ["conversation_id": chat, "up_to_seq": 1])
            #expect(cursors["delivered_up_to_seq"] as? Int == 2)
            cursors = try await f.object(b, "ack_read_v1", ["conversation_id": chat, "up_to_seq": 3])
            #expect(cursors["delivered_up_to_seq"] as? Int == 3 && cursors["read_up_to_seq"] as? Int == 3)
            // Never past the last message.
            cursors = try await f.object(b, "ack_read_v1", ["conversation_id": chat, "up_to_seq": 1000])
            #expect(cursors["read_up_to_seq"] as? Int == 3)
            await #expect(throws: APIError.invalidField("up_to_seq", "must be zero or more")) {
                try await f.call(b, "ack_read_v1", ["conversation_id": chat, "up_to_seq": -1])
            }
        }
    }

    @Test func historyPagesBySeq() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("hist_a"), b = try await f.user("hist_b")
            let chat = try await f.dm(a, b)
            for index in 1...7 { _ = try await f.send(a, chat, "m\(index)") }
            let newest = try await f.object(b, "get_messages", ["conversation_id": chat, "limit": 3])
            #expect((newest["items"] as? [[String: Any]])?.map { $0["seq"] as? Int } == [5, 6, 7])
            #expect(newest["has_more"] as? Bool == true)
            let older = try await f.messages(b, chat, ["before_seq": 5, "limit": 3])
            #expect(older.map { $0["seq"] as? Int } == [2, 3, 4])
            let catchUp = try await f.messages(b, chat, ["after_seq": 5, "limit": 200])
            #expect(catchUp.map { $0["seq"] as? Int } == [6, 7])
            await #expect(throws: APIError.invalidField("limit", "must be between 1 and 200")) {
                try await f.messages(b, chat, ["limit": 201])
            }
            // The client message id is shown to its sender only.
            #expect(catchUp.first?["client_msg_id"] is NSNull)
            #expect(try await f.messages(a, chat, ["after_seq": 5]).first?["client_msg_id"] is String)
        }
    }

    @Test func muteAndUnmute() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("mute_a"), b = try await f.user("mute_b")
            let chat = try await f.dm(a, b)
            let until = Timestamp.format(Date().addingTimeInterval(3600))
            _ = try await f.object(a, "mute_conversation", ["conversation_id": chat, "muted_until": until])
            #expect((try await f.inbox(a)["items"] as? [[String: Any]])?.first?["muted"] as? Bool == true)
            _ = try await f.object(a, "mute_conversation", ["conversation_id": chat, "muted_until": NSNull()])
            #expect((try await f.inbox(a)["items"] as? [[String: Any]])?.first?["muted"] as? Bool == false)
            _ = try await f.object(a, "mute_conversation", ["conversation_id": chat, "muted": true])
            #expect((try await f.inbox(a)["items"] as? [[String: Any]])?.first?["muted"] as? Bool == true)
            _ = try await f.object(a, "mute_conversation", ["conversation_id": chat, "muted": false])
            #expect((try await f.inbox(a)["items"] as? [[String: Any]])?.first?["muted"] as? Bool == false)
        }
    }
}
