import Core
import Database
import Foundation
@testable import Reels
import Testing
import TestSupport

/// Migration 0024: the stored `rank_key` orders reels as 0023's decayed score does — after
/// counters change through the interaction triggers and after a config activation — and the
/// ranked feed built from it is the formula's order.
@Suite struct ReelsFeedRankKeyTests {
    typealias F = ReelsFeedFixture

    /// 0023's score under the active config, written out as in `reels.feed_rank` of 0023.
    static let formulaOrder = """
        SELECT r.id FROM reels.reels r CROSS JOIN (SELECT a.body AS config FROM reels.active_feed_config() a) c
        WHERE r.id = ANY ($1)
        ORDER BY ((c.config #>> '{engagement_weights,views}')::float8 * ln(1 + r.view_count::float8)
                  + (c.config #>> '{engagement_weights,likes}')::float8 * ln(1 + r.like_count::float8)
                  + (c.config #>> '{engagement_weights,comments}')::float8 * ln(1 + r.comment_count::float8)
                  + (c.config #>> '{engagement_weights,saves}')::float8 * ln(1 + r.save_count::float8)
                  + (c.config #>> '{engagement_weights,shares}')::float8 * ln(1 + r.share_count::float8))
                 * exp(greatest(-700, -ln(2) * (extract(epoch FROM now() - r.created_at) / 3600) / ((c.config ->> 'recency_days')::float8 * 24)))
                 * (1 + CASE WHEN r.view_count < (c.config ->> 'cold_views')::float8
                             THEN (c.config ->> 'cold_boost')::float8 * (1 - r.view_count / (c.config ->> 'cold_views')::float8)
                             ELSE 0 END) DESC,
                 r.created_at DESC, r.id DESC
        """

    static let keyOrder = "SELECT r.id FROM reels.reels r WHERE r.id = ANY ($1) ORDER BY r.rank_key DESC, r.created_at DESC, r.id DESC"

    static func ids(_ db: Database, _ sql: String, _ reels: [UUID]) async throws -> [UUID] {
        try await db.withOwner { connection in
            var ids: [UUID] = []
            for try await id in try await connection.rows(sql, [reels]).decode(UUID.self) { ids.append(id) }
            return ids
        }
    }

    /// A small deterministic generator (the same data on every run).
    struct Numbers {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    /// Reels of distinct authors over the last 80 days, some without any engagement.
    static func generate(_ db: Database, count: Int) async throws -> [UUID] {
        var numbers = Numbers(state: 15)
        var reels: [UUID] = []
        for index in 0..<count {
            let age = Double(numbers.next(80 * 24)) * 3600 + Double(index)
            let reel = try await F.reel(db, author: try await ReelsFixture.user(db), createdAt: Date().addingTimeInterval(-age))
            if index % 7 != 0 {
                try await F.counts(
                    db, reel, views: numbers.next(3000), likes: numbers.next(200), comments: numbers.next(20), saves: numbers.next(10),
                    shares: numbers.next(5))
            }
            reels.append(reel)
        }
        return reels
    }

    @Test func theKeyOrdersLikeTheDecayedScoreAfterCountersChangeAndAfterAnActivation() async throws {
        try await TestDatabase.withDatabase { db in
            let reels = try await Self.generate(db, count: 40)
            #expect(try await Self.ids(db, Self.keyOrder, reels) == Self.ids(db, Self.formulaOrder, reels))
            // Counters moved by the interaction triggers (likes, saves) after the insert.
            for index in stride(from: 0, to: reels.count, by: 3) {
                for _ in 0..<(index % 4 + 1) {
                    let fan = try await ReelsFixture.user(db)
                    try await F.mark(db, "likes", fan, reels[index])
                    try await F.mark(db, "saves", fan, reels[index])
                }
            }
            #expect(try await Self.ids(db, Self.keyOrder, reels) == Self.ids(db, Self.formulaOrder, reels))
            // Another config: every key is recomputed from it.
            _ = try await F.activate(
                db,
                F.config([
                    "recency_days": "0.5", "cold_boost": "3", "cold_views": "1000",
                    "engagement_weights": #"{"views": 0.6, "likes": 0.1, "comments": 0.1, "saves": 0.1, "shares": 0.1}"#,
                ]))
            #expect(try await Self.ids(db, Self.keyOrder, reels) == Self.ids(db, Self.formulaOrder, reels))
            // And a counter change after the activation uses the new config.
            try await F.counts(db, reels[1], views: 5, likes: 900)
            #expect(try await Self.ids(db, Self.keyOrder, reels) == Self.ids(db, Self.formulaOrder, reels))
        }
    }

    @Test func aViewerWithoutAffinityIsServedTheFormulasOrder() async throws {
        try await TestDatabase.withDatabase { db in
            let reels = try await Self.generate(db, count: 36)
            let viewer = try await ReelsFixture.user(db)
            let expected = try await Self.ids(db, Self.formulaOrder, reels)
            let pages = try await F.allPages(F.feed(db), viewer, limit: 10)
            #expect(pages.flatMap(\.ids) == expected)
        }
    }

    @Test func affinityAuthorsAreRankedByKeyPlusAffinityAndOldReelsStayOut() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            let friend = try await ReelsFixture.user(db)
            try await ReelsFixture.follow(db, viewer, friend)
            // The friend's reels: newer beats more engaging only as the decay says.
            let fresh = try await F.reel(db, author: friend, createdAt: Date().addingTimeInterval(-3600))
            try await F.counts(db, fresh, views: 200, likes: 2)
            let weekOld = try await F.reel(db, author: friend, createdAt: Date().addingTimeInterval(-7 * 86400))
            try await F.counts(db, weekOld, views: 200, likes: 150)
            let ancient = try await F.reel(db, author: friend, createdAt: Date().addingTimeInterval(-95 * 86400))
            try await F.counts(db, ancient, views: 9000, likes: 9000)
            let expected = try await Self.ids(db, Self.formulaOrder, [fresh, weekOld])
            let page = try await F.feedPage(F.feed(db), viewer, limit: 10)
            #expect(page.ids == expected)
        }
    }
}
