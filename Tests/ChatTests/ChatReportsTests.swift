@testable import Chat
import Core
import Database
import Foundation
import Testing
import TestSupport

/// Reports of messages (`report_message`) and the moderator's side of them: who may report
/// what, the queue moderators see, and what a decision changes.
@Suite struct ChatReportsTests {
    @Test func membersReportOthersMessagesOnceAndTheQueueGroupsThem() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("rep_a"), b = try await f.user("rep_b"), c = try await f.user("rep_c")
            let outsider = try await f.user("rep_out")
            let group = try await f.call(a, "create_group_chat", ["title": "g", "member_ids": [b.id, c.id]]) as! String
            let rude = try await f.send(a, group, "rude words")["message_id"] as! String
            let mine = try await f.send(b, group, "my own")["message_id"] as! String

            #expect(try await f.object(b, "report_message", ["message_id": rude, "reason": "harassment", "details": "  not ok  "])["reported"] as? Bool == true)
            // Reporting again replaces the report: still one per reporter.
            _ = try await f.call(b, "report_message", ["message_id": rude, "reason": "hate"])
            _ = try await f.call(c, "report_message", ["message_id": rude, "reason": "spam", "details": "ads"])
            #expect(await refusal { _ = try await f.call(outsider, "report_message", ["message_id": rude, "reason": "spam"]) }?.status == .notFound)
            #expect(await refusal { _ = try await f.call(b, "report_message", ["message_id": UUID().uuidString, "reason": "spam"]) }?.status == .notFound)
            let own = await refusal { _ = try await f.call(b, "report_message", ["message_id": mine, "reason": "spam"]) }
            #expect(own?.status == .badRequest && own?.message.hasPrefix("message_id") == true)

            let queue = try JSONSerialization.jsonObject(with: try await f.chat.reportedMessages(limit: 10, before: nil)) as! [[String: Any]]
            #expect(queue.count == 1)
            let item = try #require(queue.first)
            #expect(item["message_id"] as? String == rude && item["body"] as? String == "rude words" && item["sender_id"] as? String == a.id)
            #expect(item["reports"] as? Int == 2 && item["report_reasons"] as? [String] == ["hate", "spam"])
            #expect(item["report_details"] as? [String] == ["ads"])
            let raw = String(decoding: try await f.chat.reportedMessages(limit: 10, before: nil), as: UTF8.self)
            #expect(item["reporter_id"] == nil && !raw.contains(b.id) && !raw.contains(c.id))
            #expect(try await f.chat.reportedMessageCount() == 1)
            // A reporter sees their own report, nobody else's.
            let visible = try await database.withCaller(b) { connection in
                var count = 0
                for try await n in try await connection.rows("SELECT count(*) FROM public.message_reports", []).decode(Int.self) { count = n }
                return count
            }
            #expect(visible == 1)
        }
    }

    @Test func reportArgumentsAreCheckedAtTheirLimits() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("repl_a"), b = try await f.user("repl_b")
            let chat = try await f.dm(a, b)
            let message = try await f.send(a, chat, "hi")["message_id"] as! String
            let longest = String(repeating: "я", count: ContentReport.maximumDetailsLength)
            _ = try await f.call(b, "report_message", ["message_id": message, "reason": "other", "details": longest])
            let cases: [([String: Any], String)] = [
                (["message_id": message, "reason": "boring"], "reason"), (["message_id": message], "reason"),
                (["message_id": message, "reason": "spam", "details": longest + "я"], "details"),
                (["message_id": message, "reason": "spam", "details": "a\u{0}b"], "details"),
                (["message_id": "nope", "reason": "spam"], "message_id"),
            ]
            for (arguments, field) in cases {
                let error = await refusal { _ = try await f.call(b, "report_message", arguments) }
                #expect(error?.status == .badRequest, "\(arguments)")
                #expect(error?.message.contains(field) == true, "\(arguments): \(error?.message ?? "no error")")
            }
            // 20 reports an hour per user, then 429.
            for _ in 0..<19 { _ = try await f.call(b, "report_message", ["message_id": message, "reason": "spam"]) }
            #expect(await refusal { _ = try await f.call(b, "report_message", ["message_id": message, "reason": "spam"]) }?.status == .tooManyRequests)
        }
    }

    @Test func removingAMessageTombstonesItForEveryoneAndSettlesItsReports() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("rem_a"), b = try await f.user("rem_b")
            let chat = try await f.dm(a, b)
            let kept = try await f.send(a, chat, "fine")["message_id"] as! String
            let bad = try await f.send(a, chat, "bad")["message_id"] as! String
            for id in [kept, bad] { _ = try await f.call(b, "report_message", ["message_id": id, "reason": "spam"]) }

            let dismissed = try await database.withOwner { connection in
                try await f.chat.moderate(message: UUID(uuidString: kept)!, remove: false, on: connection)
            }
            #expect(dismissed?.author == a.userID)
            let removed = try await database.withOwner { connection in
                try await f.chat.moderate(message: UUID(uuidString: bad)!, remove: true, on: connection)
            }
            #expect(removed?.author == a.userID)
            let missing = try await database.withOwner { connection in try await f.chat.moderate(message: UUID(), remove: true, on: connection) }
            #expect(missing == nil)

            #expect(try await f.chat.reportedMessageCount() == 0)
            let seen = try await f.messages(b, chat)
            #expect(seen.map { $0["body"] as? String } == ["fine", ""])
            #expect(seen.last?["deleted_at"] is String)
            // Reporting it again reopens it: a new report after a decision is a new case.
            _ = try await f.call(b, "report_message", ["message_id": kept, "reason": "hate"])
            #expect(try await f.chat.reportedMessageCount() == 1)
            // A deleted message cannot be reported.
            #expect(await refusal { _ = try await f.call(b, "report_message", ["message_id": bad, "reason": "spam"]) }?.status == .badRequest)
        }
    }
}
