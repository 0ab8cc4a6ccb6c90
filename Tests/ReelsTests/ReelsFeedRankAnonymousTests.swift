import Core
import Database
import Foundation
@testable import Reels
import Testing
import TestSupport

/// `reels.feed_page` for anonymous callers (migration 0024): public reels of public accounts
/// only, exploration only, and sessions that neither side can page for the other.
@Suite struct ReelsFeedRankAnonymousTests {
    typealias F = ReelsFeedFixture

    struct RawPage: Decodable {
        var session: UUID
        var page: Int
        var mode: String
        var ids: [UUID]
        var more: Bool
    }

    /// `reels.feed_page` called straight in the database as `caller` (the Swift layer's
    /// anonymous handling is ReelsFeed's concern).
    static func feedPage(_ db: Database, _ caller: Caller, session: UUID? = nil, page: Int = 0, size: Int = 30) async throws -> RawPage {
        let text = try await db.withCaller(caller) { connection in
            var text = "{}"
            for try await value in try await connection.rows(
                "SELECT reels.feed_page($1::uuid, $2::integer, $3::integer)::text", [session, page, size]
            ).decode(String.self) {
                text = value
            }
            return text
        }
        return try JSONDecoder().decode(RawPage.self, from: Data(text.utf8))
    }

    @Test func anonymousViewersSeeOnlyPublicReelsOfPublicAccountsRankedWithoutCaps() async throws {
        try await TestDatabase.withDatabase { db in
            let author = try await ReelsFixture.user(db)
            let closed = try await ReelsFixture.user(db, isPrivate: true)
            let viewer = try await ReelsFixture.user(db)
            let popular = try await F.reel(db, author: author)
            try await F.counts(db, popular, views: 500, likes: 90)
            let quiet = try await F.reel(db, author: author, createdAt: Date().addingTimeInterval(-86400))
            try await F.counts(db, quiet, views: 5)
            _ = try await F.reel(db, author: author, visibility: "followers")
            _ = try await F.reel(db, author: author, visibility: "private")
            _ = try await F.reel(db, author: author, moderation: "pending")
            _ = try await F.reel(db, author: author, state: "processing")
            _ = try await F.reel(db, author: author, createdAt: Date().addingTimeInterval(-91 * 86400))
            _ = try await F.reel(db, author: closed)
            // A signed-in viewer's marks and impressions do not reach the anonymous feed.
            try await F.impressions(db, viewer, popular, count: 5)
            try await F.mark(db, "hidden", viewer, quiet)
            let page = try await Self.feedPage(db, .anonymous)
            #expect(page.ids == [popular, quiet])
            #expect(page.mode == "personalised")
            #expect(!page.more)
            // Suppressed: newest first, same rules.
            try await F.suppress(db, true)
            let recency = try await Self.feedPage(db, .anonymous)
            #expect(recency.mode == "recency")
            #expect(recency.ids == [popular, quiet])
        }
    }

    @Test func anonymousAndSignedInSessionsCannotBePagedByTheOtherSide() async throws {
        try await TestDatabase.withDatabase { db in
            for _ in 0..<4 { _ = try await F.reel(db, author: try await ReelsFixture.user(db)) }
            let viewer = try await ReelsFixture.user(db)
            let anonymous = try await Self.feedPage(db, .anonymous, size: 1)
            #expect(anonymous.ids.count == 1 && anonymous.more)
            let mine = try await Self.feedPage(db, viewer, size: 1)
            #expect(mine.ids.count == 1 && mine.more)
            // Each side pages its own session…
            let next = try await Self.feedPage(db, .anonymous, session: anonymous.session, page: 1, size: 1)
            #expect(next.ids.count == 1 && next.ids != anonymous.ids)
            #expect(try await Self.feedPage(db, viewer, session: mine.session, page: 1, size: 1).ids.count == 1)
            // …and never the other's.
            await #expect(throws: (any Error).self) {
                _ = try await Self.feedPage(db, viewer, session: anonymous.session, page: 2, size: 1)
            }
            await #expect(throws: (any Error).self) {
                _ = try await Self.feedPage(db, .anonymous, session: mine.session, page: 2, size: 1)
            }
            // Another anonymous caller holding the session id (from a signed cursor) may.
            let again = try await Self.feedPage(db, .anonymous, session: anonymous.session, page: 1, size: 1)
            #expect(again.ids == next.ids)
        }
    }

    /// `reels.feed_page_as` trusts the claims it is given, so only the server's own role may
    /// call it, and only for the roles the feed serves.
    @Test func theOneStatementPageIsTheServersOwnAndOnlyForViewers() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            _ = try await F.reel(db, author: try await ReelsFixture.user(db))
            let sql = "SELECT reels.feed_page_as($1, $2, NULL, 0, 10, 'reels.feed_session', 30, 60)::text"
            for caller in [viewer, Caller.anonymous] {
                await #expect(throws: (any Error).self) {
                    _ = try await db.withCaller(caller) { connection in
                        try await connection.scalarText(sql, [caller.role.rawValue, caller.claimsJSON])
                    }
                }
            }
            let service = Caller(role: .serviceRole, claimsJSON: #"{"role":"service_role"}"#)
            await #expect(throws: (any Error).self) {
                _ = try await db.withOwner { connection in
                    try await connection.scalarText(sql, [service.role.rawValue, service.claimsJSON])
                }
            }
            let text = try await db.withOwner { connection in
                try await connection.scalarText(sql, [viewer.role.rawValue, viewer.claimsJSON])
            }
            let page = try JSONDecoder().decode(RawPage.self, from: Data((text ?? "").utf8))
            #expect(page.ids.count == 1)
        }
    }
}
