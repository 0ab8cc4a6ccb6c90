import Core
import Database
import Foundation
@testable import Reels
import Testing
import TestSupport

/// Comments: one level of replies, keyset pages, who may delete, blocks and counters.
@Suite struct ReelsInteractionsCommentsTests {
    @Test func aReplyToAReplyIsAttachedToTheTopComment() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db)
            let author = try await ReelsFixture.user(db)
            let viewer = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: author)
            let top = try await rpc.call("comment_reel", viewer, ["reel_id": reel.uuidString, "body": "  first!  "])
            let topComment = try #require(top["comment"] as? [String: Any])
            let topID = try #require(topComment["id"] as? String)
            #expect(topComment["body"] as? String == "first!")
            #expect(topComment["parent_id"] is NSNull)
            #expect(topComment["can_delete"] as? Bool == true)
            #expect((topComment["author"] as? [String: Any])?["id"] as? String == viewer.userID?.uuidString.lowercased())
            #expect(top["count"] as? Int == 1)

            let reply = try await rpc.call("comment_reel", author, ["reel_id": reel.uuidString, "body": "thanks", "reply_to": topID])
            let replyID = try #require((reply["comment"] as? [String: Any])?["id"] as? String)
            let deep = try await rpc.call("comment_reel", viewer, ["reel_id": reel.uuidString, "body": "welcome", "reply_to": replyID])
            #expect((deep["comment"] as? [String: Any])?["parent_id"] as? String == topID)
            #expect(deep["count"] as? Int == 3)

            let tops = try await rpc.call("get_reel_comments", viewer, ["reel_id": reel.uuidString])
            let items = try #require(tops["comments"] as? [[String: Any]])
            #expect(items.count == 1)
            #expect(items.first?["reply_count"] as? Int == 2)
            let replies = try await rpc.call("get_reel_comments", viewer, ["reel_id": reel.uuidString, "parent_id": topID])
            #expect((replies["comments"] as? [[String: Any]])?.compactMap { $0["body"] as? String } == ["thanks", "welcome"])

            // A reply must name a comment of the same reel.
            let other = try await ReelsFixture.reel(db, author: author)
            await #expect(throws: APIError.notFound("reply_to: no such comment on this reel")) {
                try await rpc.call("comment_reel", viewer, ["reel_id": other.uuidString, "body": "x", "reply_to": topID])
            }
            await #expect(throws: APIError.notFound("parent_id: no such top comment on this reel")) {
                try await rpc.call("get_reel_comments", viewer, ["reel_id": reel.uuidString, "parent_id": replyID])
            }
        }
    }

    @Test func commentBodiesAreCheckedAndNamed() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db)
            let author = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: author)
            await #expect(throws: APIError.invalidField("body", "must not be empty")) {
                try await rpc.call("comment_reel", author, ["reel_id": reel.uuidString, "body": " \n\t "])
            }
            await #expect(throws: APIError.invalidField("body", "must be at most 2000 characters")) {
                try await rpc.call("comment_reel", author, ["reel_id": reel.uuidString, "body": String(repeating: "ж", count: 2001)])
            }
            await #expect(throws: APIError.invalidField("body", "is required")) {
                try await rpc.call("comment_reel", author, ["reel_id": reel.uuidString])
            }
            await #expect(throws: APIError.invalidField("reel_id", "must be a string")) {
                try await rpc.call("comment_reel", author, ["reel_id": 5, "body": "x"])
            }
            let longest = try await rpc.call("comment_reel", author, ["reel_id": reel.uuidString, "body": String(repeating: "ж", count: 2000)])
            #expect(longest["count"] as? Int == 1)
        }
    }

    @Test func pagesAreKeysetNewestFirstWithoutDuplicates() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db)
            let author = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: author)
            for index in 0..<7 {
                _ = try await rpc.call("comment_reel", author, ["reel_id": reel.uuidString, "body": "c\(index)"])
            }
            var bodies: [String] = []
            var before: String?
            repeat {
                var args: [String: Any] = ["reel_id": reel.uuidString, "limit": 3]
                if let before { args["before"] = before }
                let page = try await rpc.call("get_reel_comments", author, args)
                bodies += (page["comments"] as? [[String: Any]] ?? []).compactMap { $0["body"] as? String }
                before = page["next"] as? String
            } while before != nil
            #expect(bodies == (0..<7).reversed().map { "c\($0)" })
            await #expect(throws: APIError.invalidField("limit", "must be between 1 and 50")) {
                try await rpc.call("get_reel_comments", author, ["reel_id": reel.uuidString, "limit": 0])
            }
        }
    }

    @Test func theCommentsAuthorOrTheReelsAuthorDeletesAndTheCounterFollows() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db)
            let author = try await ReelsFixture.user(db)
            let commenter = try await ReelsFixture.user(db)
            let bystander = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: author)
            let top = try await rpc.call("comment_reel", commenter, ["reel_id": reel.uuidString, "body": "top"])
            let topID = try #require((top["comment"] as? [String: Any])?["id"] as? String)
            for index in 0..<3 {
                _ = try await rpc.call("comment_reel", bystander, ["reel_id": reel.uuidString, "body": "r\(index)", "reply_to": topID])
            }
            let second = try await rpc.call("comment_reel", commenter, ["reel_id": reel.uuidString, "body": "second"])
            let secondID = try #require((second["comment"] as? [String: Any])?["id"] as? String)
            #expect(try await InteractionsHarness.counts(db, reel)[2] == 5)

            await #expect(throws: APIError.forbidden("only the comment's author or the reel's author may delete it")) {
                try await rpc.call("delete_reel_comment", bystander, ["comment_id": topID])
            }
            await #expect(throws: APIError.notFound("comment not found")) {
                try await rpc.call("delete_reel_comment", bystander, ["comment_id": UUID().uuidString])
            }
            // The reel's author removes the thread: the top comment and its three replies.
            let deleted = try await rpc.call("delete_reel_comment", author, ["comment_id": topID])
            #expect(deleted["deleted"] as? Bool == true && deleted["count"] as? Int == 1)
            let own = try await rpc.call("delete_reel_comment", commenter, ["comment_id": secondID])
            #expect(own["count"] as? Int == 0)
            #expect(try await InteractionsHarness.rows(db, "reels.comments", reel) == 0)
        }
    }

    @Test func blocksHideCommentsAndPrivateReelsHideTheirThreads() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db)
            let author = try await ReelsFixture.user(db)
            let viewer = try await ReelsFixture.user(db)
            let pest = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: author)
            let pestComment = try await rpc.call("comment_reel", pest, ["reel_id": reel.uuidString, "body": "spam"])
            let pestID = try #require((pestComment["comment"] as? [String: Any])?["id"] as? String)
            _ = try await rpc.call("comment_reel", viewer, ["reel_id": reel.uuidString, "body": "nice"])
            try await ReelsFixture.block(db, viewer, pest)

            let page = try await rpc.call("get_reel_comments", viewer, ["reel_id": reel.uuidString])
            #expect((page["comments"] as? [[String: Any]])?.compactMap { $0["body"] as? String } == ["nice"])
            await #expect(throws: APIError.notFound("reply_to: no such comment on this reel")) {
                try await rpc.call("comment_reel", viewer, ["reel_id": reel.uuidString, "body": "no", "reply_to": pestID])
            }
            await #expect(throws: APIError.notFound("comment not found")) {
                try await rpc.call("delete_reel_comment", viewer, ["comment_id": pestID])
            }
            // Row-level security says the same to a client reading the table itself.
            let readable = try await db.withCaller(viewer) { connection in
                var bodies: [String] = []
                for try await body in try await connection.rows("SELECT body FROM reels.comments", []).decode(String.self) { bodies.append(body) }
                return bodies
            }
            #expect(readable == ["nice"])

            try await db.withOwner { connection in
                try await connection.execute("UPDATE reels.reels SET visibility = 'private' WHERE id = $1", [reel])
            }
            let hidden = try await db.withCaller(viewer) { connection in
                try await connection.exists("SELECT 1 FROM reels.comments", [])
            }
            #expect(!hidden)
            await #expect(throws: ReelsInteractions.reelNotFound) {
                try await rpc.call("get_reel_comments", viewer, ["reel_id": reel.uuidString])
            }
            // The author of a comment may still delete it.
            let own = try await db.withOwner { connection in
                try await connection.scalarText("SELECT id::text FROM reels.comments WHERE author_id = $1", [viewer.userID])
            }
            let deleted = try await rpc.call("delete_reel_comment", viewer, ["comment_id": try #require(own)])
            #expect(deleted["deleted"] as? Bool == true)
        }
    }

    /// One level of replies makes a thread of a top comment and its replies: a block either way
    /// with the top comment's author closes the whole thread to the reader — its replies
    /// (whoever wrote them) are neither shown nor readable from the table, and no reply can be
    /// added to it, not even through a reply of a third user. Others still see it all.
    @Test func aBlockWithTheTopCommentsAuthorClosesTheWholeThread() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db)
            let author = try await ReelsFixture.user(db)
            let starter = try await ReelsFixture.user(db)
            let third = try await ReelsFixture.user(db)
            let blockedByStarter = try await ReelsFixture.user(db)
            let blockingStarter = try await ReelsFixture.user(db)
            let bystander = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: author)
            let top = try await rpc.call("comment_reel", starter, ["reel_id": reel.uuidString, "body": "thread"])
            let topID = try #require((top["comment"] as? [String: Any])?["id"] as? String)
            let reply = try await rpc.call("comment_reel", third, ["reel_id": reel.uuidString, "body": "reply", "reply_to": topID])
            let replyID = try #require((reply["comment"] as? [String: Any])?["id"] as? String)
            _ = try await rpc.call("comment_reel", third, ["reel_id": reel.uuidString, "body": "elsewhere"])
            try await ReelsFixture.block(db, starter, blockedByStarter)
            try await ReelsFixture.block(db, blockingStarter, starter)

            for reader in [blockedByStarter, blockingStarter] {
                let page = try await rpc.call("get_reel_comments", reader, ["reel_id": reel.uuidString])
                #expect((page["comments"] as? [[String: Any]])?.compactMap { $0["body"] as? String } == ["elsewhere"])
                await #expect(throws: APIError.notFound("parent_id: no such top comment on this reel")) {
                    try await rpc.call("get_reel_comments", reader, ["reel_id": reel.uuidString, "parent_id": topID])
                }
                for target in [topID, replyID] {
                    await #expect(throws: APIError.notFound("reply_to: no such comment on this reel"), "reply to \(target)") {
                        try await rpc.call("comment_reel", reader, ["reel_id": reel.uuidString, "body": "no", "reply_to": target])
                    }
                }
                await #expect(throws: APIError.notFound("comment not found")) {
                    try await rpc.call("delete_reel_comment", reader, ["comment_id": replyID])
                }
                let readable = try await db.withCaller(reader) { connection in
                    var bodies: Set<String> = []
                    for try await body in try await connection.rows("SELECT body FROM reels.comments", []).decode(String.self) { bodies.insert(body) }
                    return bodies
                }
                #expect(readable == ["elsewhere"])
            }
            // Nothing was added, and a reader with no block sees the thread whole.
            #expect(try await InteractionsHarness.counts(db, reel)[2] == 3)
            let replies = try await rpc.call("get_reel_comments", bystander, ["reel_id": reel.uuidString, "parent_id": topID])
            #expect((replies["comments"] as? [[String: Any]])?.compactMap { $0["body"] as? String } == ["reply"])
            let readable = try await db.withCaller(bystander) { connection in
                var bodies: Set<String> = []
                for try await body in try await connection.rows("SELECT body FROM reels.comments", []).decode(String.self) { bodies.insert(body) }
                return bodies
            }
            #expect(readable == ["thread", "reply", "elsewhere"])
            let added = try await rpc.call("comment_reel", bystander, ["reel_id": reel.uuidString, "body": "ok", "reply_to": replyID])
            #expect((added["comment"] as? [String: Any])?["parent_id"] as? String == topID)
        }
    }
}
