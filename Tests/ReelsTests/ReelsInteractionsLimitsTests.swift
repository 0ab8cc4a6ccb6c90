import Core
import Database
import Foundation
@testable import Reels
import Testing
import TestSupport

/// Every per-user interaction limit answers 429 `rate_limited` once its bucket is empty
/// (small buckets here; the defaults are in ``InteractionLimits``), per user.
@Suite struct ReelsInteractionsLimitsTests {
    static func small() -> InteractionLimits {
        var limits = InteractionLimits()
        limits.reactions = ActionLimit("reels.react", burst: 3, perSeconds: 3600, allowance: "react 3 times an hour")
        limits.comments = ActionLimit("reels.comment", burst: 2, perSeconds: 3600, allowance: "comment 2 times an hour")
        limits.commentDeletions = ActionLimit("reels.delete_comment", burst: 1, perSeconds: 3600, allowance: "delete 1 comment an hour")
        limits.shares = ActionLimit("reels.share", burst: 2, perSeconds: 3600, allowance: "share 2 reels an hour")
        limits.views = ActionLimit("reels.view", burst: 2, perSeconds: 3600, allowance: "record 2 views an hour")
        limits.impressions = ActionLimit("reels.impressions", burst: 5, perSeconds: 3600, allowance: "record 5 impressions an hour")
        limits.marks = ActionLimit("reels.mark", burst: 2, perSeconds: 3600, allowance: "hide or mark 2 reels an hour")
        limits.reports = ActionLimit("reels.report", burst: 1, perSeconds: 3600, allowance: "report 1 reel an hour")
        return limits
    }

    @Test func eachLimitIsHitAndIsPerUser() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db, limits: Self.small())
            let author = try await ReelsFixture.user(db)
            let viewer = try await ReelsFixture.user(db)
            let other = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: author)
            let id = reel.uuidString

            for name in ["like_reel", "unlike_reel", "save_reel"] { _ = try await rpc.call(name, viewer, ["reel_id": id]) }
            await ReelsFixture.expectLimited("react 3 times an hour") { _ = try await rpc.call("unsave_reel", viewer, ["reel_id": id]) }
            // Another user's bucket is their own.
            _ = try await rpc.call("like_reel", other, ["reel_id": id])

            var commentIDs: [String] = []
            for index in 0..<2 {
                let added = try await rpc.call("comment_reel", viewer, ["reel_id": id, "body": "c\(index)"])
                commentIDs.append((added["comment"] as? [String: Any])?["id"] as? String ?? "")
            }
            await ReelsFixture.expectLimited("comment 2 times an hour") { _ = try await rpc.call("comment_reel", viewer, ["reel_id": id, "body": "c"]) }
            _ = try await rpc.call("delete_reel_comment", viewer, ["comment_id": commentIDs[0]])
            await ReelsFixture.expectLimited("delete 1 comment an hour") {
                _ = try await rpc.call("delete_reel_comment", viewer, ["comment_id": commentIDs[1]])
            }

            for _ in 0..<2 { _ = try await rpc.call("share_reel", viewer, ["reel_id": id]) }
            await ReelsFixture.expectLimited("share 2 reels an hour") { _ = try await rpc.call("share_reel", viewer, ["reel_id": id]) }

            for _ in 0..<2 { _ = try await rpc.call("record_reel_view", viewer, ["reel_id": id, "watched_seconds": 1]) }
            await ReelsFixture.expectLimited("record 2 views an hour") {
                _ = try await rpc.call("record_reel_view", viewer, ["reel_id": id, "watched_seconds": 1])
            }

            // Impressions cost one token per id: 3 + 2 fit, then one more does not.
            _ = try await rpc.call("record_reel_impressions", viewer, ["reel_ids": [id, UUID().uuidString, UUID().uuidString]])
            _ = try await rpc.call("record_reel_impressions", viewer, ["reel_ids": [id, UUID().uuidString]])
            await ReelsFixture.expectLimited("record 5 impressions an hour") {
                _ = try await rpc.call("record_reel_impressions", viewer, ["reel_ids": [id]])
            }

            _ = try await rpc.call("not_interested_reel", viewer, ["reel_id": id])
            _ = try await rpc.call("hide_reel", viewer, ["reel_id": id])
            await ReelsFixture.expectLimited("hide or mark 2 reels an hour") { _ = try await rpc.call("hide_reel", viewer, ["reel_id": id]) }

            _ = try await rpc.call("report_reel", viewer, ["reel_id": id, "reason": "spam"])
            await ReelsFixture.expectLimited("report 1 reel an hour") {
                _ = try await rpc.call("report_reel", viewer, ["reel_id": id, "reason": "other"])
            }

            // Reads are not limited.
            for _ in 0..<5 {
                _ = try await rpc.call("get_reel_comments", viewer, ["reel_id": id])
                _ = try await rpc.call("get_saved_reels", viewer, [:])
            }
        }
    }

    @Test func invalidArgumentsAreRefusedBeforeATokenIsTaken() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db, limits: Self.small())
            let author = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: author)
            for _ in 0..<5 {
                await #expect(throws: APIError.self) {
                    try await rpc.call("report_reel", author, ["reel_id": reel.uuidString, "reason": "nope"])
                }
            }
            let viewer = try await ReelsFixture.user(db)
            for _ in 0..<5 {
                await #expect(throws: APIError.invalidField("reel_id", "is required")) { try await rpc.call("like_reel", viewer, [:]) }
            }
            _ = try await rpc.call("like_reel", viewer, ["reel_id": reel.uuidString])
        }
    }
}
