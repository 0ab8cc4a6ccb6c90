import Core
import Database
import Foundation
@testable import Reels
import Testing
import TestSupport

/// A feed page's records (`reels.feed_items`, one statement since migration 0043) are the
/// records every other reel-returning call gives (`reels.record`), item for item.
@Suite struct ReelsFeedItemsTests {
    typealias F = ReelsFeedFixture

    @Test func aPagesRecordsAreTheReelRecordsInThePagesOrder() async throws {
        try await TestDatabase.withDatabase { db in
            let viewer = try await ReelsFixture.user(db)
            let author = try await ReelsFixture.user(db)
            let blocker = try await ReelsFixture.user(db)
            try await ReelsFixture.block(db, blocker, viewer)
            let likedAndSaved = try await ReelsFixture.reel(db, author: author, caption: "hello #Swift", hashtags: ["swift"])
            try await F.mark(db, "likes", viewer, likedAndSaved)
            try await F.mark(db, "saves", viewer, likedAndSaved)
            let plain = try await F.reel(db, author: author, visibility: "followers")
            let byBlocker = try await F.reel(db, author: blocker)
            let ownFailed = try await F.reel(db, author: viewer, state: "failed")
            let othersFailed = try await F.reel(db, author: author, state: "failed")
            try await db.withOwner { connection in
                try await connection.execute(
                    "UPDATE reels.reels SET failure_reason = 'no video stream' WHERE id = ANY ($1)", [[ownFailed, othersFailed]])
            }
            let order = [othersFailed, byBlocker, likedAndSaved, ownFailed, plain]
            let (items, records) = try await db.withOwner { connection in
                try await connection.execute("SELECT set_config('request.jwt.claims', $1, false)", [viewer.claimsJSON])
                var items = ""
                for try await text in try await connection.rows("SELECT reels.feed_items($1)::text", [order]).decode(String.self) {
                    items = text
                }
                var records: [String] = []
                for try await text in try await connection.rows(
                    """
                    SELECT jsonb_build_object('record', reels.record(r) - 'media', 'media_prefix', r.media_prefix,
                                              'state', r.state, 'moderation', r.moderation)::text
                    FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, ord) JOIN reels.reels r ON r.id = u.id ORDER BY u.ord
                    """, [order]
                ).decode(String.self) {
                    records.append(text)
                }
                return (items, records)
            }
            #expect(items == "[" + records.joined(separator: ", ") + "]")
            let decoded = try #require(try JSONSerialization.jsonObject(with: Data(items.utf8)) as? [[String: Any]])
            let byID = Dictionary(
                uniqueKeysWithValues: decoded.compactMap { item -> (String, [String: Any])? in
                    guard let record = item["record"] as? [String: Any], let id = record["id"] as? String else { return nil }
                    return (id, record)
                })
            let id = { (reel: UUID) in reel.uuidString.lowercased() }
            #expect(decoded.count == order.count)
            #expect((byID[id(likedAndSaved)]?["viewer"] as? [String: Bool]) == ["liked": true, "saved": true])
            #expect((byID[id(plain)]?["viewer"] as? [String: Bool]) == ["liked": false, "saved": false])
            // A user who blocked the viewer shows as an empty card; a failure reason only to its author.
            #expect((byID[id(byBlocker)]?["author"] as? [String: Any])?["display_name"] as? String == "")
            #expect(byID[id(ownFailed)]?["failure_reason"] as? String == "no video stream")
            #expect(byID[id(othersFailed)]?["failure_reason"] is NSNull)
        }
    }
}
