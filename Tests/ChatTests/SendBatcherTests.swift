@testable import Chat
import Core
import Database
import Foundation
import Testing
import TestSupport

/// Sends that arrive while the database is busy go to it together (SendBatcher, migrations
/// 0045 and 0046), each with its own outcome. One statement of sends at a time here, and the first
/// send held on a lock of its conversation's row, so every later send queues behind it.
@Suite struct SendBatcherTests {
    /// A send as ChatService.send builds it.
    static func send(_ caller: Caller, _ conversation: String, _ body: String, clientID: UUID = UUID(),
                     attachment: JSONValue? = nil, replyTo: String? = nil, perMinute: Int = MessageRules.perMinute) -> SendMessageStatement {
        SendMessageStatement(
            role: caller.role.rawValue, claims: caller.claimsJSON, conversation: UUID(uuidString: conversation)!, clientMessageID: clientID,
            kind: attachment == nil ? "text" : "image", body: body, attachment: attachment, replyTo: replyTo.flatMap(UUID.init(uuidString:)),
            perMinute: perMinute, forwardedFrom: nil)
    }

    /// Runs `first` while `conversation`'s row is locked, queues `queued` behind it, then
    /// lets them all go; the results in the order given (the outcome's object, or the error).
    static func heldThenQueued(
        _ database: Database, _ batcher: SendBatcher, conversation: String, first: SendMessageStatement, queued: [SendMessageStatement]
    ) async throws -> [Result<[String: JSONValue], any Error>] {
        let holder = await Lock(database, conversation)
        let results = try await withThrowingTaskGroup(of: (Int, Result<[String: JSONValue], any Error>).self) { group in
            // The lock goes whatever happens: the group waits for the held send before it throws.
            defer { holder.release() }
            for (index, send) in ([first] + queued).enumerated() {
                group.addTask {
                    do {
                        let text = try await batcher.outcome(of: send) ?? "null"
                        return (index, .success(try JSONValue.parse(text).objectValue ?? [:]))
                    } catch {
                        return (index, .failure(error))
                    }
                }
                // The first send takes the one place; the others queue behind it, in order.
                try await waitUntil { batcher.load == (1, index) }
            }
            holder.release()
            var results: [(Int, Result<[String: JSONValue], any Error>)] = []
            for try await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        try await holder.task.value
        return results
    }

    /// A transaction of its own holding a conversation's row until released.
    struct Lock {
        let task: Task<Void, any Error>
        let release: @Sendable () -> Void

        init(_ database: Database, _ conversation: String) async {
            let (released, releasing) = AsyncStream.makeStream(of: Void.self)
            let (locked, locking) = AsyncStream.makeStream(of: Void.self)
            task = Task {
                defer { locking.finish() }
                try await database.withOwner { connection in
                    try await connection.execute("SELECT 1 FROM public.conversations WHERE id = $1 FOR UPDATE", [UUID(uuidString: conversation)])
                    locking.yield()
                    for await _ in released { break }
                }
            }
            release = { releasing.yield() }
            for await _ in locked { break }
        }
    }

    /// Two users `<name>_a`, `<name>_b` and their DM.
    static func dm(_ f: ChatFixture, _ name: String) async throws -> (Caller, Caller, String) {
        let a = try await f.user(name + "_a"), b = try await f.user(name + "_b")
        return (a, b, try await f.dm(a, b))
    }

    /// A batcher with one statement of sends at a time.
    static func oneAtATime(_ database: Database) -> SendBatcher {
        SendBatcher(database: database, concurrentBatches: 1)
    }

    /// The message id a sent or existing outcome names.
    static func messageID(_ outcome: [String: JSONValue]) -> String? {
        if case .string(let id)? = outcome["result"]?.objectValue?["message_id"] { id } else { nil }
    }

    static func waitUntil(_ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        try #require(condition())
    }

    static func created(_ database: Database, _ ids: [String]) async throws -> [String: String] {
        try await database.withOwner { connection in
            var created: [String: String] = [:]
            for try await (id, at) in try await connection.rows(
                "SELECT id::text, created_at::text FROM public.messages WHERE id = ANY($1::uuid[])", [ids]
            ).decode((String, String).self) {
                created[id] = at
            }
            return created
        }
    }

    @Test func queuedSendsCommitTogetherEachWithItsOwnOutcome() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("batch_a"), b = try await f.user("batch_b"), c = try await f.user("batch_c")
            let ab = try await f.dm(a, b), ac = try await f.dm(a, c)
            let batcher = Self.oneAtATime(database)
            let retried = UUID()
            let results = try await Self.heldThenQueued(
                database, batcher, conversation: ab, first: Self.send(a, ab, "first"),
                queued: [
                    Self.send(b, ab, "second", clientID: retried),
                    Self.send(a, ac, "elsewhere"),
                    Self.send(c, ab, "not a member"),
                    Self.send(b, ab, "second again", clientID: retried),
                    Self.send(a, ab, "third"),
                ])
            let outcomes = try results.map { try $0.get() }
            #expect(outcomes.map { $0["outcome"] } == ["sent", "sent", "sent", "not_member", "existing", "sent"].map(JSONValue.string))
            let ids = outcomes.map(Self.messageID)
            #expect(ids[1] != nil && ids[4] == ids[1], "the retry answers with the message its first send made")
            #expect(outcomes.map { $0["result"]?.objectValue?["seq"] } == [.number(1), .number(2), .number(1), nil, .number(2), .number(3)])
            // The queued sends were one transaction: they share its start time, which the held send's is not.
            let created = try await Self.created(database, ids.compactMap { $0 })
            let batched = Set([1, 2, 5].compactMap { ids[$0].flatMap { created[$0] } })
            #expect(batched.count == 1)
            #expect(ids[0].flatMap { created[$0] } != batched.first)
            #expect(try await f.messages(b, ab).map { $0["body"] as? String } == ["first", "second", "third"])
            #expect(batcher.load == (0, 0))
        }
    }

    /// While a statement of sends waits, queued sends stay queued until there are
    /// `smallestExtraBatch` of them; then they go to the database as a statement of their own,
    /// beside the waiting one.
    @Test func aFullQueueStartsAStatementBesideTheRunningOne() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("extra_a"), b = try await f.user("extra_b"), c = try await f.user("extra_c")
            let d = try await f.user("extra_d")
            let ab = try await f.dm(a, b), ac = try await f.dm(a, c), bc = try await f.dm(b, c), bd = try await f.dm(b, d)
            let batcher = SendBatcher(database: database, concurrentBatches: 2, smallestExtraBatch: 3)
            // The held send's statement waits on this lock (for up to its second's lock_timeout).
            let lock = await Lock(database, ab)
            defer { lock.release() }
            let held = Task { try await batcher.outcome(of: Self.send(a, ab, "held")) }
            try await Self.waitUntil { batcher.load == (1, 0) }
            let second = Task { try await batcher.outcome(of: Self.send(c, ac, "second")) }
            let third = Task { try await batcher.outcome(of: Self.send(b, bc, "third")) }
            try await Self.waitUntil { batcher.load == (1, 2) }
            try await Task.sleep(for: .milliseconds(100))
            #expect(batcher.load == (1, 2), "two queued sends wait for the running statement")
            #expect(try await f.messages(c, ac).isEmpty)
            let fourth = Task { try await batcher.outcome(of: Self.send(d, bd, "fourth")) }
            for queued in [second, third, fourth] {
                let outcome = try JSONValue.parse(try #require(try await queued.value))
                #expect(outcome.objectValue?["outcome"] == .string("sent"))
            }
            #expect(try await f.messages(a, ab).isEmpty, "the held send still waits")
            lock.release()
            let late = try JSONValue.parse(try #require(try await held.value))
            #expect(late.objectValue?["outcome"] == .string("sent"))
            try await Self.waitUntil { batcher.load == (0, 0) }
        }
    }

    /// Plain text messages from different senders, the usual batch, are judged and inserted
    /// by one statement (migration 0046); each still gets the outcome a lone send gets, in the
    /// order of `chat_send_message`'s checks, and the sent ones take their seq in the batch's order.
    @Test func aBatchOfDifferentSendersGetsEachSendsOwnOutcome() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("one_a"), b = try await f.user("one_b"), c = try await f.user("one_c")
            let d = try await f.user("one_d"), e = try await f.user("one_e"), g = try await f.user("one_g")
            let ab = try await f.dm(a, b), de = try await f.dm(d, e), ga = try await f.dm(g, a)
            let p = try await f.user("one_p"), q = try await f.user("one_q"), r = try await f.user("one_r")
            let group = try #require(try await f.call(p, "create_group_chat", ["title": "one", "member_ids": [q.id, r.id]]) as? String)
            try await database.withOwner { connection in
                try await connection.execute("INSERT INTO public.blocks (blocker_id, blocked_id) VALUES ($1, $2)", [d.userID, e.userID])
            }
            let retried = UUID()
            let earlier = try #require(try await f.send(b, ab, "earlier", clientID: retried)["message_id"] as? String)
            _ = try await f.send(g, ga, "one")
            _ = try await f.send(g, ga, "two")
            let batcher = Self.oneAtATime(database)
            let results = try await Self.heldThenQueued(
                database, batcher, conversation: ab, first: Self.send(a, ab, "first", perMinute: 2),
                queued: [
                    Self.send(a, ab, "second", perMinute: 2),
                    Self.send(c, ab, "not a member", perMinute: 2),
                    Self.send(b, ab, "earlier again", clientID: retried, perMinute: 2),
                    Self.send(e, de, "to the one who blocked me", perMinute: 2),
                    Self.send(g, ga, "three", perMinute: 2),
                    Self.send(r, group, "r", perMinute: 2),
                    Self.send(p, group, "p", perMinute: 2),
                    Self.send(q, group, "q", perMinute: 2),
                ])
            let outcomes = try results.map { try $0.get() }
            #expect(outcomes.map { $0["outcome"] }
                == ["sent", "sent", "not_member", "existing", "blocked", "rate_limited", "sent", "sent", "sent"].map(JSONValue.string))
            let groupSeqs = outcomes[6...].compactMap { outcome -> Double? in
                if case .number(let seq)? = outcome["result"]?.objectValue?["seq"] { seq } else { nil }
            }
            #expect(groupSeqs.count == 3 && groupSeqs == groupSeqs.sorted() && Set(groupSeqs).count == 3, "seq follows the batch's order")
            #expect(try await f.messages(q, group).compactMap { $0["body"] as? String }.suffix(3) == ["r", "p", "q"])
            #expect(Self.messageID(outcomes[3]) == earlier, "the retry answers with the message its first send made")
            #expect(outcomes[1]["result"]?.objectValue?["seq"] == .number(3))
            let record = outcomes[1]["record"]?.objectValue
            #expect(record?["body"] == .string("second") && record?["sender_id"] == .string(a.id) && record?["seq"] == .number(3))
            #expect(outcomes[3]["record"]?.objectValue?["body"] == .string("earlier"))
            #expect(outcomes[5]["retry_after"].map { if case .number(let s) = $0 { (1...60).contains(s) } else { false } } == true)
            #expect(try await f.messages(b, ab).map { $0["body"] as? String } == ["earlier", "first", "second"])
            #expect(try await f.messages(d, de).isEmpty)
            #expect(try await f.messages(a, ga).map { $0["body"] as? String } == ["one", "two"])
        }
    }

    /// When the one statement of a batch from different senders raises an error, nothing of
    /// the batch is kept and each send runs by itself: the failing one gets its own error.
    @Test func aSendThatFailsInABatchOfDifferentSendersGetsItsOwnError() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("one_err_a"), b = try await f.user("one_err_b"), c = try await f.user("one_err_c")
            let ab = try await f.dm(a, b), ca = try await f.dm(c, a)
            let elsewhere = try #require(try await f.send(a, ab, "elsewhere")["message_id"] as? String)
            let batcher = Self.oneAtATime(database)
            let results = try await Self.heldThenQueued(
                database, batcher, conversation: ab, first: Self.send(a, ab, "first"),
                queued: [Self.send(b, ab, "kept"), Self.send(c, ca, "a reply across conversations", replyTo: elsewhere)])
            #expect(try results[1].get()["outcome"] == .string("sent"))
            guard case .failure(let error) = results[2] else {
                Issue.record("a reply to a message of another conversation was accepted")
                return
            }
            let refusal = error as? APIError
            #expect(refusal?.code == "22023" && refusal?.message.hasPrefix("reply_to_id:") == true, "\(error)")
            #expect(try await f.messages(a, ab).map { $0["body"] as? String } == ["elsewhere", "first", "kept"])
            #expect(try await f.messages(a, ca).isEmpty)
        }
    }

    /// A send that raises an error in a batch is undone alone and answered with the error a
    /// lone send gets; the batch's other sends are kept.
    @Test func aFailingSendInABatchGetsItsOwnErrorAndTheOthersAreKept() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let (a, b, ab) = try await Self.dm(f, "batch_err")
            let batcher = Self.oneAtATime(database)
            let missing = JSONValue.object(["bucket": .string("attachments"), "path": .string(a.id + "/never-uploaded.png")])
            let results = try await Self.heldThenQueued(
                database, batcher, conversation: ab, first: Self.send(a, ab, "first"),
                queued: [Self.send(b, ab, "before"), Self.send(a, ab, "", attachment: missing), Self.send(b, ab, "after")])
            #expect(try results[1].get()["outcome"] == .string("sent"))
            #expect(try results[3].get()["outcome"] == .string("sent"))
            guard case .failure(let error) = results[2] else {
                Issue.record("the send of an object never uploaded was accepted")
                return
            }
            #expect((error as? APIError)?.field == "attachment")
            #expect(try await f.messages(a, ab).map { $0["body"] as? String } == ["first", "before", "after"])
        }
    }

    /// Claims the batch's statement cannot read fail that statement as a whole; nothing of it
    /// is kept, and each send then runs by itself.
    @Test func aBatchStatementThatFailsFallsBackToSendsOfTheirOwn() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let (a, b, ab) = try await Self.dm(f, "batch_fall")
            let batcher = Self.oneAtATime(database)
            let broken = Caller(role: .authenticated, userID: a.userID, claimsJSON: #"{"sub":"not-a-uuid","role":"authenticated"}"#)
            let results = try await Self.heldThenQueued(
                database, batcher, conversation: ab, first: Self.send(a, ab, "first"),
                queued: [Self.send(b, ab, "kept"), Self.send(broken, ab, "refused"), Self.send(a, ab, "kept too")])
            #expect(try results[1].get()["outcome"] == .string("sent"))
            #expect(try results[3].get()["outcome"] == .string("sent"))
            if case .success = results[2] { Issue.record("a send with claims naming no user was accepted") }
            // Sends by themselves run side by side, in no fixed order.
            #expect(Set(try await f.messages(a, ab).compactMap { $0["body"] as? String }) == ["first", "kept", "kept too"])
        }
    }

    /// `chat_send_messages` trusts the claims it is given, as `chat_send_message` does, so
    /// no client role may call it.
    @Test func theBatchFunctionIsTheServersAlone() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let (a, b, ab) = try await Self.dm(f, "batch_fn")
            let forged = JSONValue.array([.object([
                "role": .string("authenticated"), "claims": .string(b.claimsJSON), "conversation": .string(ab),
                "client_msg_id": .string(UUID().uuidString), "kind": .string("text"), "body": .string("forged"),
            ])]).jsonText
            for role in ["anon", "authenticated", "service_role"] {
                await #expect(throws: APIError.self, "\(role) must not execute it") {
                    try await database.withCaller(a) { connection in
                        try await connection.execute("SELECT set_config('role', $1, true)", [role])
                        try await connection.execute("SELECT * FROM public.chat_send_messages($1::jsonb, 60)", [forged])
                    }
                }
            }
            #expect(try await f.messages(a, ab).isEmpty)
        }
    }

    /// A batch that waits a second for a conversation's row (a transaction holding it) gives
    /// up; its sends then run by themselves, so the others are answered while that one waits.
    /// (Different senders: one sender's sends wait for each other in any case.)
    @Test func aLockOnOneConversationDoesNotHoldUpTheBatchsOtherSends() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("batch_lock_a"), b = try await f.user("batch_lock_b"), c = try await f.user("batch_lock_c")
            let ab = try await f.dm(a, b), ac = try await f.dm(a, c), bc = try await f.dm(b, c)
            let batcher = Self.oneAtATime(database)
            let long = await Lock(database, ab)
            defer { long.release() }
            // Without the batch's lock timeout the free send would wait for this lock: the
            // watchdog lets it go, and the test fails instead of hanging.
            let watchdog = Task {
                try await Task.sleep(for: .seconds(10))
                long.release()
            }
            defer { watchdog.cancel() }
            let short = await Lock(database, bc)
            defer { short.release() }
            let first = Task { try await batcher.outcome(of: Self.send(b, bc, "first")) }
            try await Self.waitUntil { batcher.load == (1, 0) }
            let held = Task { try await batcher.outcome(of: Self.send(b, ab, "held")) }
            try await Self.waitUntil { batcher.load == (1, 1) }
            let free = Task { try await batcher.outcome(of: Self.send(a, ac, "free")) }
            try await Self.waitUntil { batcher.load == (1, 2) }
            short.release()
            _ = try await first.value
            let answered = try JSONValue.parse(try #require(try await free.value))
            #expect(answered.objectValue?["outcome"] == .string("sent"))
            #expect(try await f.messages(a, ab).isEmpty, "the held conversation's send still waits")
            long.release()
            let late = try JSONValue.parse(try #require(try await held.value))
            #expect(late.objectValue?["outcome"] == .string("sent"))
            #expect(try await f.messages(b, ab).map { $0["body"] as? String } == ["held"])
        }
    }

    /// The sliding minute counts the batch's own earlier sends.
    @Test func theRateWindowCountsSendsOfTheSameBatch() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let (a, b, ab) = try await Self.dm(f, "batch_rate")
            let batcher = Self.oneAtATime(database)
            let results = try await Self.heldThenQueued(
                database, batcher, conversation: ab, first: Self.send(b, ab, "held", perMinute: 3),
                queued: (1...4).map { Self.send(a, ab, "m\($0)", perMinute: 3) })
            #expect(try results.map { try $0.get()["outcome"] } == ["sent", "sent", "sent", "sent", "rate_limited"].map(JSONValue.string))
            #expect(try results[4].get()["retry_after"].map { if case .number(let s) = $0 { (1...60).contains(s) } else { false } } == true)
        }
    }
}
