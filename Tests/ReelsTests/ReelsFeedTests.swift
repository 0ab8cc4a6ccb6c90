import Core
import Database
import Foundation
@testable import Reels
import Testing
import TestSupport

/// `get_reels_feed` on generated data: who may see what, exclusions, caps, pages, the
/// exploration share, recency mode while suppressed and config activation.
@Suite struct ReelsFeedTests {
    typealias F = ReelsFeedFixture

    @Test func onlyReelsTheViewerMaySeeFromTheLast90DaysReachTheFeed() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            let author = try await ReelsFixture.user(db)
            let blocked = try await ReelsFixture.user(db)
            let closed = try await ReelsFixture.user(db, isPrivate: true)
            let closedFollowed = try await ReelsFixture.user(db, isPrivate: true)
            try await ReelsFixture.follow(db, viewer, closedFollowed)
            try await ReelsFixture.block(db, blocked, viewer)
            let visible = try await F.reel(db, author: author)
            let followedPrivate = try await F.reel(db, author: closedFollowed)
            _ = try await F.reel(db, author: author, moderation: "pending")
            _ = try await F.reel(db, author: author, moderation: "rejected")
            _ = try await F.reel(db, author: author, state: "processing")
            _ = try await F.reel(db, author: author, visibility: "followers")
            _ = try await F.reel(db, author: author, visibility: "private")
            _ = try await F.reel(db, author: author, createdAt: Date().addingTimeInterval(-91 * 86400))
            _ = try await F.reel(db, author: blocked)
            _ = try await F.reel(db, author: closed)
            _ = try await F.reel(db, author: viewer)
            let page = try await F.feedPage(F.feed(db), viewer, limit: 30)
            #expect(Set(page.ids) == [visible, followedPrivate])
            #expect(page.mode == "personalised")
            #expect(page.next == nil)
        }
    }

    @Test func hiddenReportedNotInterestedAndOftenShownReelsAreLeftOut() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            var reels: [UUID] = []
            for _ in 0..<6 {
                reels.append(try await F.reel(db, author: try await ReelsFixture.user(db)))
            }
            try await F.mark(db, "hidden", viewer, reels[0])
            try await F.mark(db, "reports", viewer, reels[1])
            try await F.mark(db, "not_interested", viewer, reels[2])
            try await F.impressions(db, viewer, reels[3], count: 2)  // the default cap
            try await F.impressions(db, viewer, reels[4], count: 1)
            let page = try await F.feedPage(F.feed(db), viewer, limit: 30)
            #expect(Set(page.ids) == [reels[4], reels[5]])
        }
    }

    @Test func atMostThreeReelsOfOneAuthorOnAPage() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            let prolific = try await F.prolificAuthor(db, reels: 10, others: 10)
            let feed = F.feed(db)
            let pages = try await F.allPages(feed, viewer, limit: 10)
            for page in pages {
                #expect(page.authors.filter { $0 == prolific.userID }.count <= 3)
            }
            #expect(pages[0].authors.filter { $0 == prolific.userID }.count == 3)
            #expect(Set(pages.flatMap(\.ids)).count == 20)
        }
    }

    /// A page first looks at the next 4 × limit reels of the snapshot; when one author fills
    /// them all, the cap leaves the page short there and the rest of the snapshot fills it.
    @Test func aPageBehindOneAuthorsRunOfReelsIsFilledFromFurtherDown() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            let prolific = try await F.prolificAuthor(db, reels: 30, others: 10)
            let pages = try await F.allPages(F.feed(db), viewer, limit: 5)
            for page in pages.prefix(5) {
                #expect(page.ids.count == 5)
                #expect(page.authors.filter { $0 == prolific.userID }.count == 3)
            }
            let served = pages.flatMap(\.ids)
            #expect(served.count == 40)
            #expect(Set(served).count == 40)
        }
    }

    @Test func pagesNeverRepeatAReelAndARetriedCursorGivesTheSamePage() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            var all: Set<UUID> = []
            for index in 0..<30 {
                let reel = try await F.reel(
                    db, author: try await ReelsFixture.user(db), createdAt: Date().addingTimeInterval(-Double(index) * 3600))
                try await F.counts(db, reel, views: index * 7, likes: index % 5, comments: index % 3)
                all.insert(reel)
            }
            let feed = F.feed(db)
            let pages = try await F.allPages(feed, viewer, limit: 7)
            let served = pages.flatMap(\.ids)
            #expect(served.count == Set(served).count)
            #expect(Set(served) == all)
            #expect(pages.count == 5)
            // Counters change between pages: the snapshot keeps the order, nothing repeats.
            let first = try await F.feedPage(feed, viewer, limit: 7)
            for reel in all { try await F.counts(db, reel, views: 1000, likes: 1000) }
            let second = try await F.feedPage(feed, viewer, limit: 7, cursor: first.next)
            #expect(Set(first.ids).isDisjoint(with: second.ids))
            let again = try await F.feedPage(feed, viewer, limit: 7, cursor: first.next)
            #expect(again.ids == second.ids)
        }
    }

    @Test func laterPagesLeaveOutWhatTheViewerMayNoLongerSee() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            var reels: [UUID] = []
            var authors: [UUID: Caller] = [:]
            for index in 0..<12 {
                let author = try await ReelsFixture.user(db)
                let reel = try await F.reel(db, author: author, createdAt: Date().addingTimeInterval(-Double(index) * 3600))
                reels.append(reel)
                authors[reel] = author
            }
            let feed = F.feed(db)
            let first = try await F.feedPage(feed, viewer, limit: 4)
            let second = try await F.feedPage(feed, viewer, limit: 4, cursor: first.next)
            #expect(second.ids.count == 4)
            // Since the snapshot was ranked: a reel of the second page hidden (a retried cursor
            // leaves it out), and of the reels not served yet one hidden, one whose author
            // blocked the viewer, one made private.
            try await F.mark(db, "hidden", viewer, second.ids[0])
            let again = try await F.feedPage(feed, viewer, limit: 4, cursor: first.next)
            #expect(again.ids == Array(second.ids.dropFirst()))
            let unserved = reels.filter { !first.ids.contains($0) && !second.ids.contains($0) }
            try await F.mark(db, "hidden", viewer, unserved[0])
            try await ReelsFixture.block(db, try #require(authors[unserved[1]]), viewer)
            try await db.withOwner { connection in
                try await connection.execute("UPDATE reels.reels SET visibility = 'private' WHERE id = $1", [unserved[2]])
            }
            var later: [UUID] = []
            var cursor = second.next
            while let next = cursor {
                let page = try await F.feedPage(feed, viewer, limit: 4, cursor: next)
                later += page.ids
                cursor = page.next
            }
            #expect(Set(later) == Set(unserved.dropFirst(3)))
        }
    }

    @Test func cursorsAndLimitsAreChecked() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            let other = try await ReelsFixture.user(db)
            for _ in 0..<3 { _ = try await F.reel(db, author: try await ReelsFixture.user(db)) }
            let feed = F.feed(db)
            let first = try await F.feedPage(feed, viewer, limit: 1)
            let cursor = try #require(first.next)
            await #expect(throws: KeysetCursor.invalid("cursor")) {
                _ = try await feed.feed(viewer, limit: 1, cursor: cursor + "x")
            }
            await #expect(throws: KeysetCursor.invalid("cursor")) {
                _ = try await feed.feed(viewer, limit: 1, cursor: "feed|00000000-0000-0000-0000-000000000000|1")
            }
            // Another viewer's session is not theirs to page.
            await #expect(throws: APIError.self) {
                _ = try await feed.feed(other, limit: 1, cursor: cursor)
            }
            let handler = try #require(feed.rpcFunctions.first { $0.name == "get_reels_feed" })
            for limit in [0, 31] {
                await #expect(throws: APIError.invalidField("limit", "must be between 1 and 30")) {
                    _ = try await handler.handler(RPCCall(name: "get_reels_feed", arguments: Data("{\"limit\":\(limit)}".utf8), caller: viewer))
                }
            }
            let result = try await handler.handler(RPCCall(name: "get_reels_feed", arguments: Data("{\"limit\":30}".utf8), caller: viewer))
            guard case .json(let data) = result else { throw FixtureError("no JSON") }
            let full = try F.page(data)
            #expect(full.ids.count == 3)
            // Anonymous callers get their own sessions (public reels of public accounts) and
            // cannot page a user's.
            #expect(try await F.feedPage(feed, .anonymous, limit: 30).ids.count == 3)
            await #expect(throws: APIError.self) {
                _ = try await feed.feed(.anonymous, limit: 1, cursor: cursor)
            }
        }
    }

    @Test func anExplorationShareGoesToAuthorsWithoutAffinity() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            let newcomer = try await ReelsFixture.user(db)
            var followed: Set<UUID> = []
            for _ in 0..<5 {
                let author = try await ReelsFixture.user(db)
                try await ReelsFixture.follow(db, viewer, author)
                followed.insert(try #require(author.userID))
                for _ in 0..<2 { try await F.counts(db, try await F.reel(db, author: author), views: 200, likes: 1) }
            }
            for _ in 0..<10 {
                let author = try await ReelsFixture.user(db)
                for _ in 0..<2 { try await F.counts(db, try await F.reel(db, author: author), views: 200, likes: 50) }
            }
            let feed = F.feed(db)
            // Default share 0.2: 8 of 10 positions for followed authors, 2 for the others,
            // although the others' reels score higher.
            let page = try await F.feedPage(feed, viewer, limit: 10)
            #expect(page.authors.filter { followed.contains($0) }.count == 8)
            // A viewer without any affinity gets exploration only: the best scores.
            let fresh = try await F.feedPage(feed, newcomer, limit: 10)
            #expect(fresh.authors.filter { followed.contains($0) }.isEmpty)
            // Share 1.0 from the config: the viewer's page is ranked like the newcomer's.
            _ = try await F.activate(db, F.config(["exploration_share": "1"]))
            let all = try await F.feedPage(feed, viewer, limit: 10)
            #expect(all.authors.filter { followed.contains($0) }.isEmpty)
        }
    }

    @Test func whileSuppressedTheFeedIsNewestFirstAndSwitchesMidSessionWithoutRepeats() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            var newestFirst: [UUID] = []
            for index in 0..<12 {
                let reel = try await F.reel(
                    db, author: try await ReelsFixture.user(db), createdAt: Date().addingTimeInterval(-Double(index) * 7200))
                // Older reels are far more engaging, so the ranked order is not the newest first.
                try await F.counts(db, reel, views: 1000, likes: index * 40)
                newestFirst.append(reel)
            }
            let feed = F.feed(db)
            let ranked = try await F.feedPage(feed, viewer, limit: 4)
            #expect(ranked.mode == "personalised")
            #expect(ranked.ids != Array(newestFirst.prefix(4)))
            try await F.suppress(db, true)
            let switched = try await F.feedPage(feed, viewer, limit: 4, cursor: ranked.next)
            #expect(switched.mode == "recency")
            #expect(Set(switched.ids).isDisjoint(with: ranked.ids))
            #expect(switched.ids == newestFirst.filter { !ranked.ids.contains($0) }.prefix(4).map { $0 })
            let fresh = try await F.feedPage(feed, viewer, limit: 4)
            #expect(fresh.mode == "recency")
            #expect(fresh.ids == Array(newestFirst.prefix(4)))
            try await F.suppress(db, false)
            #expect(try await F.feedPage(feed, viewer, limit: 4).mode == "personalised")
        }
    }

    @Test func activatingAConfigChangesTheRanking() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            let old = try await F.reel(db, author: try await ReelsFixture.user(db), createdAt: Date().addingTimeInterval(-5 * 86400))
            try await F.counts(db, old, likes: 100)
            let new = try await F.reel(db, author: try await ReelsFixture.user(db))
            try await F.counts(db, new, likes: 1)
            let feed = F.feed(db)
            #expect(try await F.feedPage(feed, viewer, limit: 2).ids == [old, new])
            let first = try await F.feedPage(feed, viewer, limit: 1)
            #expect(first.ids == [old])
            // A 2.4-hour half-life: the new reel wins, in new sessions and on the next page
            // of the running one (which is ranked again without what it served).
            let version = try await F.activate(db, F.config(["recency_days": "0.1"]))
            #expect(version == 2)
            #expect(try await F.feedPage(feed, viewer, limit: 2).ids == [new, old])
            let next = try await F.feedPage(feed, viewer, limit: 1, cursor: first.next)
            #expect(next.ids == [new])
            #expect(next.next == nil)
        }
    }
}
