import Core
import Database
import Foundation
@testable import Reels
import Testing
import TestSupport

/// get_following_reels, get_author_reels, get_hashtag_reels: newest first, what the viewer
/// may see, keyset pages.
@Suite struct ReelsFeedListsTests {
    typealias F = ReelsFeedFixture

    @Test func followingAuthorAndHashtagListsPageNewestFirst() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            let followed = try await ReelsFixture.user(db)
            let stranger = try await ReelsFixture.user(db)
            try await ReelsFixture.follow(db, viewer, followed)
            var followedReels: [UUID] = []
            for index in 0..<5 {
                followedReels.append(
                    try await F.reel(db, author: followed, hashtags: ["cars"], createdAt: Date().addingTimeInterval(-Double(index) * 60)))
            }
            let forFollowers = try await F.reel(db, author: followed, visibility: "followers", createdAt: Date().addingTimeInterval(-3600))
            _ = try await F.reel(db, author: followed, moderation: "pending")
            let strangerReel = try await F.reel(db, author: stranger, hashtags: ["cars", "red"], createdAt: Date().addingTimeInterval(-30))
            try await F.mark(db, "hidden", viewer, followedReels[4])
            let feed = F.feed(db)

            let first = try F.page(try await feed.list(viewer, .following, limit: 3, before: nil))
            #expect(first.ids == Array(followedReels.prefix(3)))
            let second = try F.page(try await feed.list(viewer, .following, limit: 3, before: first.next))
            #expect(second.ids == [followedReels[3], forFollowers])
            #expect(second.next == nil)

            let byStranger = try F.page(try await feed.list(stranger, .author(try #require(followed.userID)), limit: 30, before: nil))
            #expect(byStranger.ids == Array(followedReels))

            let tagged = try F.page(try await feed.list(viewer, .hashtag("cars"), limit: 30, before: nil))
            #expect(tagged.ids == [followedReels[0], strangerReel] + followedReels[1...3])

            try await ReelsFixture.block(db, stranger, viewer)
            let afterBlock = try F.page(try await feed.list(viewer, .hashtag("cars"), limit: 30, before: nil))
            #expect(!afterBlock.ids.contains(strangerReel))
        }
    }

    @Test func hashtagArgumentsAreChecked() throws {
        #expect(try FeedHashtag.normalise("#Cars") == "cars")
        #expect(try FeedHashtag.normalise("машина") == "машина")
        for bad in ["", "#", "bad-tag", "two words", String(repeating: "a", count: 101)] {
            #expect(throws: APIError.invalidField("tag", "must be 1–100 letters, digits or _")) {
                _ = try FeedHashtag.normalise(bad)
            }
        }
    }

    @Test func listCursorsAreChecked() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            await #expect(throws: KeysetCursor.invalid("before")) {
                _ = try await F.feed(db).list(viewer, .following, limit: 3, before: "nope")
            }
        }
    }
}
