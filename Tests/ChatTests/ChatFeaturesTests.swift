@testable import Chat
import Calls
import Core
import Database
import Foundation
import Testing
import TestSupport

/// Issue 14's chat contract: search, pins, "delete for me", forwarding, call events, and
/// DMs that reach the other user's inbox only with their first message.
@Suite struct ChatFeaturesTests {
    private func search(_ f: ChatFixture, _ caller: Caller, _ arguments: [String: Any]) async throws -> (ids: [String], next: String?, results: [[String: Any]]) {
        let page = try await f.object(caller, "search_messages", arguments)
        let results = page["results"] as? [[String: Any]] ?? []
        return (results.compactMap { $0["id"] as? String }, page["next"] as? String, results)
    }

    @Test func searchStemsRussianAndEnglishNewestFirstWithPages() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("srch_a"), b = try await f.user("srch_b")
            let chat = try await f.dm(a, b)
            let car = try await f.send(a, chat, "Вчера купил красную машину")["message_id"] as? String
            let cars = try await f.send(b, chat, "We saw two red cars\nat the corner")["message_id"] as? String
            _ = try await f.send(a, chat, "ничего общего")
            var machines: [String] = []
            for index in 0..<5 { machines.append(try await f.send(a, chat, "машины номер \(index)")["message_id"] as! String) }

            let russian = try await search(f, b, ["query": "машины"])
            #expect(russian.ids == machines.reversed() + [car!])
            let english = try await search(f, a, ["query": "car"])
            #expect(english.ids == [cars!])
            // Plain text around the match, one line, at most 160 characters.
            let headline = try #require(english.results.first?["headline"] as? String)
            #expect(headline.contains("cars") && !headline.contains("\n") && headline.count <= 160)
            #expect(Set(english.results.first?.keys.map { $0 } ?? []) == ["id", "conversation_id", "seq", "sender_id", "kind", "body", "created_at", "headline"])

            // Pages of two, newest first, until next is null: every match exactly once.
            var seen: [String] = []
            var cursor: String?
            repeat {
                var arguments: [String: Any] = ["query": "машина", "limit": 2, "conversation_id": chat]
                if let cursor { arguments["before"] = cursor }
                let page = try await search(f, b, arguments)
                #expect(page.ids.count <= 2)
                seen += page.ids
                cursor = page.next
            } while cursor != nil
            #expect(seen == machines.reversed() + [car!])
        }
    }

    /// Only messages the caller can read now: not a non-member's, not deleted, not hidden by them.
    @Test func searchSeesOnlyCurrentMembershipsAndSkipsDeletedAndHidden() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("srv_a"), b = try await f.user("srv_b"), outsider = try await f.user("srv_out")
            let chat = try await f.dm(a, b)
            let secret = try await f.send(a, chat, "секретный пароль от сейфа")["message_id"] as! String
            let gone = try await f.send(a, chat, "пароль номер два")["message_id"] as! String
            #expect(try await search(f, outsider, ["query": "пароль"]).ids.isEmpty)
            let notMember = await refusal { _ = try await search(f, outsider, ["query": "пароль", "conversation_id": chat]) }
            #expect(notMember?.status == .notFound)

            _ = try await f.call(a, "delete_message", ["message_id": gone])
            #expect(try await search(f, b, ["query": "пароль"]).ids == [secret])
            _ = try await f.call(b, "hide_message", ["message_id": secret])
            #expect(try await search(f, b, ["query": "пароль"]).ids.isEmpty)
            #expect(try await search(f, a, ["query": "пароль"]).ids == [secret])
        }
    }

    /// Every rule of the arguments, at and beyond its limit: a 400 naming the field, never a 500.
    @Test func searchArgumentsAreCheckedAtTheirLimits() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("srl_a"), b = try await f.user("srl_b")
            let chat = try await f.dm(a, b)
            _ = try await f.send(a, chat, "hello")
            let longest = String(repeating: "я", count: 200)
            #expect(try await search(f, a, ["query": "  " + longest + "  "]).ids.isEmpty)
            #expect(try await search(f, a, ["query": "hello", "limit": 1]).ids.count == 1)
            #expect(try await search(f, a, ["query": "hello", "limit": 50]).ids.count == 1)
            let cases: [([String: Any], String)] = [
                (["query": ""], "query"), (["query": "   \n"], "query"), (["query": longest + "я"], "query"),
                (["query": "a\u{0}b"], "query"),
                (["query": "hello", "limit": 0], "limit"), (["query": "hello", "limit": 51], "limit"), (["query": "hello", "limit": -1], "limit"),
                (["query": "hello", "before": "garbage"], "before"), (["query": "hello", "before": String(repeating: "A", count: 300)], "before"),
                (["query": "hello", "before": "AAAA.AAAA"], "before"),
                (["query": "hello", "conversation_id": "not-a-uuid"], "conversation_id"),
            ]
            for (arguments, field) in cases {
                let error = await refusal { _ = try await f.call(a, "search_messages", arguments) }
                #expect(error?.status == .badRequest, "\(arguments)")
                #expect(error?.message.hasPrefix(field) == true, "\(arguments): \(error?.message ?? "no error")")
            }
            // A well-formed cursor the server did not sign.
            let forged = KeysetCursor.signedText(payload: Data("2026-01-01 00:00:00+00|\(UUID().uuidString)".utf8), mac: Data(repeating: 1, count: 32))
            let error = await refusal { _ = try await f.call(a, "search_messages", ["query": "hello", "before": forged]) }
            #expect(error?.status == .badRequest && error?.message.hasPrefix("before") == true)
            // Stop words only: no match, no error.
            #expect(try await search(f, a, ["query": "the и"]).ids.isEmpty)
        }
    }

    @Test func pinsOnePerConversationByTheRightMembers() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("pin_a"), b = try await f.user("pin_b"), outsider = try await f.user("pin_out")
            let chat = try await f.dm(a, b)
            let first = try await f.send(a, chat, "первое")["message_id"] as! String
            let second = try await f.send(a, chat, "второе")["message_id"] as! String
            let pinned = try await f.object(b, "pin_message", ["message_id": first])
            #expect((pinned["pinned_message"] as? [String: Any])?["id"] as? String == first)
            _ = try await f.call(a, "pin_message", ["message_id": second])
            let row = try #require((try await f.inbox(b)["items"] as? [[String: Any]])?.first)
            let pin = try #require(row["pinned_message"] as? [String: Any])
            #expect(pin["id"] as? String == second && pin["seq"] as? Int == 2 && pin["body"] as? String == "второе")
            #expect(pin["kind"] as? String == "text" && pin["sender_id"] as? String == a.id)
            #expect(await refusal { _ = try await f.call(outsider, "pin_message", ["message_id": first]) }?.status == .notFound)
            #expect(await refusal { _ = try await f.call(outsider, "unpin_message", ["conversation_id": chat]) }?.status == .notFound)
            _ = try await f.call(b, "unpin_message", ["conversation_id": chat])
            #expect((try await f.inbox(a)["items"] as? [[String: Any]])?.first?["pinned_message"] is NSNull)

            // Groups: owners and admins only.
            let member = try await f.user("pin_member")
            let group = try await f.call(a, "create_group_chat", ["title": "Pins", "member_ids": [member.id]]) as! String
            let message = try await f.send(member, group, "в группе")["message_id"] as! String
            #expect(await refusal { _ = try await f.call(member, "pin_message", ["message_id": message]) }?.status == .forbidden)
            _ = try await f.call(a, "pin_message", ["message_id": message])
            #expect(await refusal { _ = try await f.call(member, "unpin_message", ["conversation_id": group]) }?.status == .forbidden)
            // A deleted pin is no pin.
            _ = try await f.call(member, "delete_message", ["message_id": message])
            let groupRow = (try await f.inbox(a)["items"] as? [[String: Any]])?.first { $0["conversation_id"] as? String == group }
            #expect(groupRow?["pinned_message"] is NSNull)
            #expect(await refusal { _ = try await f.call(a, "pin_message", ["message_id": message]) }?.status == .badRequest)
        }
    }

    @Test func hiddenMessagesDisappearForTheCallerOnly() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("hide_a"), b = try await f.user("hide_b"), outsider = try await f.user("hide_out")
            let chat = try await f.dm(a, b)
            _ = try await f.send(a, chat, "one")
            let last = try await f.send(b, chat, "two")["message_id"] as! String
            #expect(await refusal { _ = try await f.call(outsider, "hide_message", ["message_id": last]) }?.status == .notFound)
            let hidden = try await f.object(a, "hide_message", ["message_id": last])
            #expect(hidden["hidden"] as? Bool == true && hidden["conversation_id"] as? String == chat)
            _ = try await f.call(a, "hide_message", ["message_id": last])  // idempotent
            #expect(try await f.messages(a, chat).map { $0["body"] as? String } == ["one"])
            #expect(try await f.messages(b, chat).map { $0["body"] as? String } == ["one", "two"])
            let mine = try #require((try await f.inbox(a)["items"] as? [[String: Any]])?.first)
            #expect((mine["last_message"] as? [String: Any])?["body"] as? String == "one")
            #expect(mine["unread_count"] as? Int == 0)
            let theirs = try #require((try await f.inbox(b)["items"] as? [[String: Any]])?.first)
            #expect((theirs["last_message"] as? [String: Any])?["body"] as? String == "two")
        }
    }

    @Test func forwardsCarryTheOriginalAuthorAndOnlyReadableTextMessages() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("fwd_a"), b = try await f.user("fwd_b"), c = try await f.user("fwd_c")
            let ab = try await f.dm(a, b), bc = try await f.dm(b, c)
            let original = try await f.send(a, ab, "новость")["message_id"] as! String
            _ = try await f.object(b, "send_message_v1", [
                "conversation_id": bc, "client_msg_id": UUID().uuidString, "body": "новость", "forwarded_from_id": original,
            ])
            let forwarded = try #require(try await f.messages(c, bc).last)
            let from = try #require(forwarded["forwarded_from"] as? [String: Any])
            #expect(from["message_id"] as? String == original && from["sender_id"] as? String == a.id && from["sender_name"] as? String == "fwd_a")
            // A forward of the forward still names the original author.
            let again = try await f.object(c, "send_message_v1", [
                "conversation_id": bc, "client_msg_id": UUID().uuidString, "body": "новость", "forwarded_from_id": forwarded["id"] as! String,
            ])
            let second = try #require(try await f.messages(b, bc).first { $0["id"] as? String == again["message_id"] as? String })
            #expect((second["forwarded_from"] as? [String: Any])?["sender_id"] as? String == a.id)
            #expect(try await f.messages(a, ab).first?["forwarded_from"] is NSNull)

            // c cannot read ab: no forward of its messages.
            let stolen = await refusal {
                _ = try await f.call(c, "send_message_v1", ["conversation_id": bc, "client_msg_id": UUID().uuidString, "body": "x", "forwarded_from_id": original])
            }
            #expect(stolen?.status == .badRequest && stolen?.message.hasPrefix("forwarded_from_id") == true)
            let attachment = await refusal {
                _ = try await f.call(b, "send_message_v1", [
                    "conversation_id": bc, "client_msg_id": UUID().uuidString, "kind": "image", "attachment": "b/x.png", "forwarded_from_id": original,
                ])
            }
            #expect(attachment?.status == .badRequest && attachment?.message.hasPrefix("forwarded_from_id") == true)
        }
    }

    /// Clients never write call events: 400 naming kind from the service, refused by the
    /// database too (policy and trigger) when a client role inserts one directly.
    @Test func clientsCannotSendCallMessages() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("call_a"), b = try await f.user("call_b")
            let chat = try await f.dm(a, b)
            let refused = await refusal {
                _ = try await f.call(a, "send_message_v1", ["conversation_id": chat, "client_msg_id": UUID().uuidString, "body": "", "kind": "call"])
            }
            #expect(refused?.status == .badRequest && refused?.message.hasPrefix("kind") == true)
            await #expect(throws: (any Error).self) {
                try await database.withCaller(a) { connection in
                    try await connection.execute(
                        "INSERT INTO public.messages (conversation_id, sender_id, client_msg_id, kind, body) VALUES ($1, $2, gen_random_uuid(), 'call', '')",
                        [UUID(uuidString: chat), a.userID])
                }
            }
            await #expect(throws: (any Error).self) {
                try await database.withCaller(a) { connection in
                    try await connection.execute(
                        "SELECT public.chat_send_message('authenticated', $1, $2, gen_random_uuid(), 'call', '', NULL::jsonb, NULL::uuid, 60)",
                        [a.claimsJSON, UUID(uuidString: chat)])
                }
            }
            #expect(try await f.messages(b, chat).isEmpty)
        }
    }

    @Test func callEventsAreWrittenOncePerCallIntoTheCallersDM() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("ev_a"), b = try await f.user("ev_b"), c = try await f.user("ev_c")
            let chat = try await f.dm(a, b)
            let recorder = ChatCallEvents(chat: f.chat)
            let call = UUID()
            let event = CallEventFixture.event(call: call, conversation: chat, caller: a, callee: b, outcome: .ended, duration: 65)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { try await recorder.record(event) } }
                try await group.waitForAll()
            }
            // The wrong pair for this DM: nothing.
            try await recorder.record(CallEventFixture.event(call: UUID(), conversation: chat, caller: a, callee: c, outcome: .missed, duration: nil))
            let history = try await f.messages(b, chat)
            #expect(history.count == 1)
            let message = try #require(history.first)
            #expect(message["kind"] as? String == "call" && message["body"] as? String == "" && message["sender_id"] as? String == a.id)
            let record = try #require(message["call"] as? [String: Any])
            #expect(record["outcome"] as? String == "ended" && record["video"] as? Bool == true)
            #expect(record["duration_s"] as? Int == 65 && record["caller_id"] as? String == a.id)
            // Not editable; unread for the callee.
            let edit = await refusal { _ = try await f.call(a, "edit_message", ["message_id": message["id"] as! String, "body": "x"]) }
            #expect(edit?.status == .badRequest)
            #expect((try await f.inbox(b)["items"] as? [[String: Any]])?.first?["unread_count"] as? Int == 1)
        }
    }

    @Test func aDirectConversationReachesTheOtherInboxWithItsFirstMessage() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("empty_a"), b = try await f.user("empty_b")
            let chat = try await f.dm(a, b)
            #expect((try await f.inbox(a)["items"] as? [[String: Any]])?.map { $0["conversation_id"] as? String } == [chat])
            #expect((try await f.inbox(b)["items"] as? [[String: Any]])?.isEmpty == true)
            _ = try await f.dm(b, a)  // opening it from the other side does not show it yet
            #expect((try await f.inbox(b)["items"] as? [[String: Any]])?.isEmpty == true)
            _ = try await f.send(a, chat, "привет")
            #expect((try await f.inbox(b)["items"] as? [[String: Any]])?.map { $0["conversation_id"] as? String } == [chat])
        }
    }

    /// The per-user limits of the new calls: the burst passes, the next call is a 429.
    @Test func searchPinAndHideHaveRateLimits() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("rate_a"), b = try await f.user("rate_b")
            let chat = try await f.dm(a, b)
            let message = try await f.send(a, chat, "limit")["message_id"] as! String
            let calls: [(ActionLimit, String, [String: Any])] = [
                (ChatLimits.searches, "search_messages", ["query": "limit"]),
                (ChatLimits.pins, "pin_message", ["message_id": message]),
                (ChatLimits.hides, "hide_message", ["message_id": message]),
            ]
            for (limit, name, arguments) in calls {
                // One call passes; then the bucket is emptied right before each attempt
                // (whatever refilled while a slow machine made the previous call is taken
                // too), so one of the next few calls is a 429 naming this limit.
                _ = try await f.call(a, name, arguments)
                var refused: APIError?
                for _ in 0..<20 where refused == nil {
                    while (try? await limit.take(database, a)) != nil {}
                    refused = await refusal { _ = try await f.call(a, name, arguments) }
                }
                #expect(refused?.status == .tooManyRequests && refused?.code == "rate_limited", "\(name)")
                #expect(refused?.message.contains(limit.allowance) == true, "\(name): \(refused?.message ?? "")")
            }
        }
    }
}

/// Call events for the recorder tests.
enum CallEventFixture {
    static func event(call: UUID, conversation: String, caller: Caller, callee: Caller, outcome: CallOutcome, duration: Int?) -> CallEvent {
        CallEvent(
            callID: call, conversationID: UUID(uuidString: conversation)!, callerID: caller.userID!, calleeID: callee.userID!, video: true,
            outcome: outcome, durationSeconds: duration)
    }
}
