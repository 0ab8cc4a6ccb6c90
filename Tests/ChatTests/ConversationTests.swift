@testable import Chat
import Core
import Database
import Foundation
import Testing
import TestSupport

@Suite struct ConversationTests {
    @Test func directConversationIsOnePerPairInEitherOrder() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("dm_a"), b = try await f.user("dm_b")
            let first = try await f.dm(a, b)
            #expect(try await f.dm(a, b) == first)
            #expect(try await f.dm(b, a) == first)
            await #expect(throws: APIError.invalidField("target_user_id", "must not be yourself")) { try await f.dm(a, a) }
        }
    }

    @Test func concurrentFirstContactsMakeOneConversation() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("race_a"), b = try await f.user("race_b")
            async let one = f.dm(a, b)
            async let two = f.dm(b, a)
            let (x, y) = try await (one, two)
            #expect(x == y)
        }
    }

    @Test func blockedUsersCannotOpenADirectConversation() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("blk_a"), b = try await f.user("blk_b")
            try await database.withOwner { connection in
                try await connection.execute("INSERT INTO public.blocks (blocker_id, blocked_id) VALUES ($1, $2)", [b.userID, a.userID])
            }
            let error = try await #require(throws: APIError.self) { try await f.dm(a, b) }
            #expect(error.status == .forbidden)
        }
    }

    /// Defect: anyone could add themselves to any conversation by id and then promote themselves.
    @Test func nobodyJoinsByKnowingAnIdOrPromotesThemselves() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let owner = try await f.user("grp_owner"), member = try await f.user("grp_member"), outsider = try await f.user("grp_outsider")
            let group = try await f.call(owner, "create_group_chat", ["title": "Team", "member_ids": [member.id]]) as! String
            // An outsider cannot add themselves, read, or send.
            let added = try await #require(throws: APIError.self) {
                try await f.call(outsider, "add_chat_members", ["conversation_id": group, "member_ids": [outsider.id]])
            }
            #expect(added.status == .notFound)
            await #expect(throws: APIError.self) { try await f.messages(outsider, group) }
            await #expect(throws: APIError.self) { try await f.send(outsider, group, "hi") }
            // A plain member cannot add people or raise their own role.
            let byMember = try await #require(throws: APIError.self) {
                try await f.call(member, "add_chat_members", ["conversation_id": group, "member_ids": [outsider.id]])
            }
            #expect(byMember.status == .forbidden)
            let selfPromotion = try await #require(throws: APIError.self) {
                try await f.call(member, "set_chat_member_role", ["conversation_id": group, "user_id": member.id, "role": "owner"])
            }
            #expect(selfPromotion.status == .forbidden)
            // Raw SQL as the member cannot insert membership or change roles either.
            await #expect(throws: APIError.self) {
                try await database.withCaller(outsider) { connection in
                    try await connection.execute("INSERT INTO public.participants (conversation_id, user_id, role) VALUES ($1, $2, 'owner')", [UUID(uuidString: group), outsider.userID])
                }
            }
            await #expect(throws: APIError(status: .forbidden, code: "42501", message: "permission denied")) {
                try await database.withCaller(member) { connection in
                    try await connection.execute("UPDATE public.participants SET role = 'owner' WHERE user_id = $1", [member.userID])
                }
            }
        }
    }

    @Test func ownersAndAdminsManageMembersAndTheLastOwnerStays() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let owner = try await f.user("mgr_owner"), admin = try await f.user("mgr_admin"), member = try await f.user("mgr_member")
            let extra = try await f.user("mgr_extra")
            let group = try await f.call(owner, "create_group_chat", ["title": "Ops", "member_ids": [admin.id, member.id]]) as! String
            try await f.call(owner, "set_chat_member_role", ["conversation_id": group, "user_id": admin.id, "role": "admin"])
            // Admins add and remove members, but cannot touch the owner or grant ownership.
            #expect(try await f.object(admin, "add_chat_members", ["conversation_id": group, "member_ids": [extra.id, member.id]])["added"] as? Int == 1)
            try await f.call(admin, "remove_chat_member", ["conversation_id": group, "user_id": extra.id])
            await #expect(throws: APIError.self) { try await f.call(admin, "remove_chat_member", ["conversation_id": group, "user_id": owner.id]) }
            await #expect(throws: APIError.self) {
                try await f.call(admin, "set_chat_member_role", ["conversation_id": group, "user_id": member.id, "role": "owner"])
            }
            // The last owner cannot leave while others remain; after handing over they can.
            let leave = try await #require(throws: APIError.self) { try await f.call(owner, "leave_conversation", ["conversation_id": group]) }
            #expect(leave.message.contains("last owner"))
            try await f.call(owner, "set_chat_member_role", ["conversation_id": group, "user_id": admin.id, "role": "owner"])
            try await f.call(owner, "leave_conversation", ["conversation_id": group])
            await #expect(throws: APIError.self) { try await f.messages(owner, group) }
            // A removed member stops reading the conversation.
            try await f.call(admin, "remove_chat_member", ["conversation_id": group, "user_id": member.id])
            await #expect(throws: APIError.self) { try await f.messages(member, group) }
        }
    }

    /// Defect: the inbox sorted by a per-conversation counter, and unread counts included one's own messages.
    @Test func inboxOrdersByActivityAndCountsOnlyOthersUnread() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let me = try await f.user("inbox_me"), busy = try await f.user("inbox_busy"), quiet = try await f.user("inbox_quiet")
            let busyChat = try await f.dm(me, busy)
            let quietChat = try await f.dm(me, quiet)
            for index in 0..<5 { _ = try await f.send(busy, busyChat, "ping \(index)") }
            _ = try await f.send(me, busyChat, "my own words")
            _ = try await f.send(quiet, quietChat, "latest")
            let page = try await f.inbox(me)
            let items = page["items"] as? [[String: Any]] ?? []
            #expect(items.map { $0["conversation_id"] as? String } == [quietChat, busyChat])
            #expect(items.last?["unread_count"] as? Int == 5)
            #expect(items.first?["unread_count"] as? Int == 1)
            let participants = items.first?["participants"] as? [[String: Any]] ?? []
            #expect(participants.map { $0["username"] as? String } == ["inbox_quiet"])
            #expect(participants.first?["phone"] == nil)
            // The other side's read position, for read ticks after a reload.
            #expect(participants.first?["read_up_to_seq"] as? Int == 0)
            #expect((items.first?["last_message"] as? [String: Any])?["body"] as? String == "latest")
            // Keyset pagination, one item per page.
            let first = try await f.inbox(me, limit: 1)
            let next = try #require(first["next_cursor"] as? String)
            let second = try await f.inbox(me, limit: 1, cursor: next)
            #expect((second["items"] as? [[String: Any]])?.first?["conversation_id"] as? String == busyChat)
            #expect(second["next_cursor"] is NSNull)
            // Reading clears the count.
            _ = try await f.object(me, "ack_read_v1", ["conversation_id": busyChat, "up_to_seq": 6])
            let after = try await f.inbox(me)
            #expect((after["items"] as? [[String: Any]])?.last?["unread_count"] as? Int == 0)
        }
    }
}
