import Core
import Database
import Foundation
import Testing
import TestSupport

@testable import Reels

/// The review queues moderators work through and their decisions.
@Suite struct ReelsModerationTests {
    static func report(_ database: Database, _ reel: UUID, by user: Caller, reason: String, at: Date = Date()) async throws {
        try await database.withOwner { connection in
            try await connection.execute(
                "INSERT INTO reels.reports (reel_id, user_id, reason, created_at) VALUES ($1, $2, $3, $4)", [reel, user.userID, reason, at])
        }
    }

    @Test func pendingReelsWaitNewestFirstAndReportedOnesByTheirLatestReport() async throws {
        try await TestDatabase.withDatabase { database in
            let moderation = ReelsModeration(database: database)
            let author = try await ReelsFixture.user(database)
            let viewers = [try await ReelsFixture.user(database), try await ReelsFixture.user(database)]
            let now = Date()
            let older = try await ReelsFixture.reel(database, author: author, moderation: "pending", caption: "older", createdAt: now.addingTimeInterval(-60))
            let newer = try await ReelsFixture.reel(database, author: author, moderation: "pending", caption: "newer", createdAt: now)
            _ = try await ReelsFixture.reel(database, author: author, state: "processing", moderation: "pending")
            let visible = try await ReelsFixture.reel(database, author: author, caption: "visible")
            let rejected = try await ReelsFixture.reel(database, author: author, moderation: "rejected")
            try await Self.report(database, visible, by: viewers[0], reason: "spam", at: now.addingTimeInterval(-30))
            try await Self.report(database, visible, by: viewers[1], reason: "hate", at: now.addingTimeInterval(-10))
            try await Self.report(database, rejected, by: viewers[0], reason: "spam")

            let pending = try await moderation.queue(.pending, limit: 10, before: nil)
            #expect(pending.map(\.caption) == ["newer", "older"])
            let page = try await moderation.queue(.pending, limit: 1, before: nil)
            let next = try await moderation.queue(.pending, limit: 1, before: page.last?.createdAt)
            #expect(page.map(\.reelID) == [newer.uuidString.lowercased()])
            #expect(next.map(\.reelID) == [older.uuidString.lowercased()])

            let reported = try await moderation.queue(.reported, limit: 10, before: nil)
            #expect(reported.map(\.reelID) == [visible.uuidString.lowercased()])
            #expect(reported.first?.reports == 2)
            #expect(reported.first?.reportReasons == ["hate", "spam"])
        }
    }

    @Test func aDecisionMovesTheReelAndOnlyNewReportsBringItBack() async throws {
        try await TestDatabase.withDatabase { database in
            let moderation = ReelsModeration(database: database)
            let author = try await ReelsFixture.user(database)
            let viewer = try await ReelsFixture.user(database)
            let moderator = try await ReelsFixture.user(database)
            let held = try await ReelsFixture.reel(database, author: author, moderation: "pending")
            let reported = try await ReelsFixture.reel(database, author: author)
            try await Self.report(database, reported, by: viewer, reason: "spam", at: Date().addingTimeInterval(-5))

            #expect(!(try await ReelsFixture.visibleReels(database, viewer).contains(held)))
            let approved = try await database.withOwner { connection in
                try await moderation.decide(reel: held, approve: true, reason: nil, moderator: moderator.userID!, on: connection)
            }
            #expect(approved)
            #expect(try await ReelsFixture.visibleReels(database, viewer).contains(held))
            #expect(try await moderation.queue(.pending, limit: 10, before: nil).isEmpty)

            // Kept after review: the old report no longer queues it.
            _ = try await database.withOwner { connection in
                try await moderation.decide(reel: reported, approve: true, reason: nil, moderator: moderator.userID!, on: connection)
            }
            #expect(try await moderation.queue(.reported, limit: 10, before: nil).isEmpty)
            let another = try await ReelsFixture.user(database)
            try await Self.report(database, reported, by: another, reason: "violence", at: Date().addingTimeInterval(1))
            #expect(try await moderation.queue(.reported, limit: 10, before: nil).count == 1)

            let rejected = try await database.withOwner { connection in
                try await moderation.decide(reel: reported, approve: false, reason: "violence", moderator: moderator.userID!, on: connection)
            }
            #expect(rejected)
            #expect(!(try await ReelsFixture.visibleReels(database, viewer).contains(reported)))
            #expect(try await moderation.queue(.reported, limit: 10, before: nil).isEmpty)
            let missing = try await database.withOwner { connection in
                try await moderation.decide(reel: UUID(), approve: true, reason: nil, moderator: moderator.userID!, on: connection)
            }
            #expect(!missing)
        }
    }

    @Test func aBlockedHashtagHoldsItsReelsAndEmptiesItsList() async throws {
        try await TestDatabase.withDatabase { database in
            let moderation = ReelsModeration(database: database)
            let feed = ReelsFeedFixture.feed(database)
            let author = try await ReelsFixture.user(database)
            let viewer = try await ReelsFixture.user(database)
            let moderator = try await ReelsFixture.user(database)
            let tagged = try await ReelsFixture.reel(database, author: author, caption: "#Scam here", hashtags: ["scam"])
            let other = try await ReelsFixture.reel(database, author: author, caption: "#fine", hashtags: ["fine"])
            #expect(try await Self.listed(feed, viewer, "scam") == 1)

            let blocked = try await database.withOwner { connection in
                try await moderation.block(hashtag: "#Scam", reason: "fraud wave", moderator: moderator.userID!, on: connection)
            }
            #expect(blocked?.tag == "scam" && blocked?.held == 1)
            let again = try await database.withOwner { connection in
                try await moderation.block(hashtag: "scam", reason: "again", moderator: moderator.userID!, on: connection)
            }
            #expect(again == nil)
            await #expect(throws: APIError.self) {
                _ = try await database.withOwner { connection in
                    try await moderation.block(hashtag: "two words", reason: "x", moderator: moderator.userID!, on: connection)
                }
            }
            #expect(try await Self.listed(feed, viewer, "scam") == 0)
            let visible = try await ReelsFixture.visibleReels(database, viewer)
            #expect(!visible.contains(tagged) && visible.contains(other))
            #expect(try await moderation.queue(.pending, limit: 10, before: nil).map(\.moderationReason) == ["the hashtag #scam is blocked"])
            let list = try JSONSerialization.jsonObject(with: try await moderation.blockedHashtags()) as? [[String: Any]]
            #expect(list?.map { $0["tag"] as? String } == ["scam"])

            // New captions with the tag are held too.
            let policy = ModerationPolicy(mode: .auto, blocklist: [], blockedHashtags: ["scam"])
            #expect(policy.decide(caption: "look #SCAM").moderation == "pending")
            #expect(policy.decide(caption: "scam without the sign").moderation == "approved")

            let unblocked = try await database.withOwner { connection in try await moderation.unblock(hashtag: "#scam", on: connection) }
            #expect(unblocked == "scam")
            let missing = try await database.withOwner { connection in try await moderation.unblock(hashtag: "scam", on: connection) }
            #expect(missing == nil)
        }
    }

    /// How many reels `viewer` sees in the hashtag's list.
    static func listed(_ feed: ReelsFeed, _ viewer: Caller, _ tag: String) async throws -> Int {
        let page = try JSONSerialization.jsonObject(with: try await feed.list(viewer, .hashtag(tag), limit: 20, before: nil)) as? [String: Any]
        return (page?["reels"] as? [Any])?.count ?? -1
    }
}
