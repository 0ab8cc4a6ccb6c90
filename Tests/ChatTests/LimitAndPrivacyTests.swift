@testable import Chat
import Core
import Database
import Foundation
import Testing
import TestSupport

/// Issue 11, item 10: exact message limit under concurrency, per-user limits on the other
/// chat calls, and who may add whom to groups.
@Suite struct LimitAndPrivacyTests {
    @Test func parallelSendsStoreExactlySixty() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("burst_a"), b = try await f.user("burst_b")
            let chat = try await f.dm(a, b)
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<120 {
                    group.addTask { (try? await f.send(a, chat, "burst \(index)")) != nil }
                }
                var stored = 0
                for await ok in group where ok { stored += 1 }
                return stored
            }
            #expect(outcomes == 60)
            let count = try await database.withOwner { connection in
                try await connection.scalarText("SELECT count(*)::text FROM public.messages WHERE sender_id = $1", [a.userID!])
            }
            #expect(count == "60")
        }
    }

    @Test func groupCreationHasAPerUserLimitThatIsAClear429() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("maker")
            for index in 0..<ChatLimits.groupsCreated.burst { _ = try await f.call(a, "create_group_chat", ["title": "g\(index)"]) }
            let error = try await #require(throws: APIError.self) { try await f.call(a, "create_group_chat", ["title": "one more"]) }
            #expect(error.status == .tooManyRequests && error.code == "rate_limited")
            #expect(error.message.hasPrefix("You can create 20 groups an hour; retry in "))
            #expect((1...3600).contains(error.retryAfterSeconds ?? 0))
            // Bad arguments are refused before the limit and do not count against it.
            await #expect(throws: APIError.invalidField("title", "must be 1 to 100 characters")) {
                try await f.call(a, "create_group_chat", ["title": " "])
            }
            // Other users have their own buckets.
            let b = try await f.user("other_maker")
            _ = try await f.call(b, "create_group_chat", ["title": "fine"])
        }
    }

    @Test func memberAddsCountEveryListedUser() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("adder")
            let strangers = (0..<200).map { _ in UUID().uuidString }
            // 500 an hour: two calls of 200 unknown ids count (and fail), the third is refused.
            for _ in 0..<2 {
                let error = try await #require(throws: APIError.self) {
                    try await f.call(a, "add_chat_members", ["conversation_id": UUID().uuidString, "member_ids": strangers])
                }
                #expect(error.status == .notFound)
            }
            let error = try await #require(throws: APIError.self) {
                try await f.call(a, "add_chat_members", ["conversation_id": UUID().uuidString, "member_ids": strangers])
            }
            #expect(error.status == .tooManyRequests)
        }
    }

    @Test func whoCanAddMeToGroupsIsRespected() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let owner = try await f.user("g_owner"), nobody = try await f.user("g_nobody")
            let contact = try await f.user("g_contact"), open = try await f.user("g_open")
            try await database.withOwner { connection in
                try await connection.execute("INSERT INTO public.profile_settings (user_id, who_can_add_to_groups) VALUES ($1, 'nobody'), ($2, 'contacts')",
                                             [nobody.userID!, contact.userID!])
            }
            let refused = try await #require(throws: APIError.self) {
                try await f.call(owner, "create_group_chat", ["title": "t", "member_ids": [open.id, nobody.id]])
            }
            #expect(refused.status == .forbidden)
            #expect(refused.message == "member_ids: @g_nobody (\(nobody.id)) cannot be added: their privacy settings do not allow you to add them to groups")
            let group = try #require(try await f.call(owner, "create_group_chat", ["title": "t", "member_ids": [open.id]]) as? String)
            // Contacts only: refused until the contact follows the owner; the whole call fails.
            await #expect(throws: APIError.self) {
                try await f.call(owner, "add_chat_members", ["conversation_id": group, "member_ids": [contact.id]])
            }
            try await database.withOwner { connection in
                try await connection.execute("INSERT INTO public.follows (follower_id, following_id, status) VALUES ($1, $2, 'accepted')",
                                             [contact.userID!, owner.userID!])
            }
            #expect(try await f.object(owner, "add_chat_members", ["conversation_id": group, "member_ids": [contact.id, open.id]])["added"] as? Int == 1)
        }
    }
}
