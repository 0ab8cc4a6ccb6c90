import Core
import Database
import Foundation
@testable import Reels
import Testing
import TestSupport

/// Likes, saves, shares, views, impressions, marks, reports and the saved list, called the
/// way the RPC endpoint calls them (arguments as JSON through the registry).
@Suite struct ReelsInteractionsTests {
    @Test func likeAndSaveAreOnePerUserIdempotentAndShownInTheRecord() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db)
            let author = try await ReelsFixture.user(db)
            let viewer = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: author)
            for _ in 0..<2 {
                let liked = try await rpc.call("like_reel", viewer, ["reel_id": reel.uuidString])
                #expect(liked["liked"] as? Bool == true && liked["count"] as? Int == 1)
            }
            let saved = try await rpc.call("save_reel", viewer, ["reel_id": reel.uuidString])
            #expect(saved["saved"] as? Bool == true && saved["count"] as? Int == 1)

            let record = try await InteractionsHarness.record(db, viewer, reel)
            #expect((record["viewer"] as? [String: Any])?["liked"] as? Bool == true)
            #expect((record["viewer"] as? [String: Any])?["saved"] as? Bool == true)
            #expect((record["counts"] as? [String: Any])?["likes"] as? Int == 1)
            #expect((record["author"] as? [String: Any])?["id"] as? String == author.userID?.uuidString.lowercased())
            #expect(record.keys.contains("media"))
            let authorsView = try await InteractionsHarness.record(db, author, reel)
            #expect((authorsView["viewer"] as? [String: Any])?["liked"] as? Bool == false)

            for _ in 0..<2 {
                let unliked = try await rpc.call("unlike_reel", viewer, ["reel_id": reel.uuidString])
                #expect(unliked["liked"] as? Bool == false && unliked["count"] as? Int == 0)
            }
            let unsaved = try await rpc.call("unsave_reel", viewer, ["reel_id": reel.uuidString])
            #expect(unsaved["saved"] as? Bool == false && unsaved["count"] as? Int == 0)
        }
    }

    @Test func reelsTheCallerMayNotSeeAnswerLikeMissingOnes() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db)
            let author = try await ReelsFixture.user(db)
            let stranger = try await ReelsFixture.user(db)
            let blocked = try await ReelsFixture.user(db)
            try await ReelsFixture.block(db, author, blocked)
            let hidden = [
                try await ReelsFixture.reel(db, author: author, visibility: "private"),
                try await ReelsFixture.reel(db, author: author, visibility: "followers"),
                try await ReelsFixture.reel(db, author: author, moderation: "pending"),
                try await ReelsFixture.reel(db, author: author, state: "processing"),
                UUID(),
            ]
            let open = try await ReelsFixture.reel(db, author: author)
            let calls: [(String, [String: Any])] = [
                ("like_reel", [:]), ("save_reel", [:]), ("share_reel", [:]),
                ("record_reel_view", ["watched_seconds": 3]), ("not_interested_reel", [:]), ("hide_reel", [:]),
                ("report_reel", ["reason": "spam"]), ("comment_reel", ["body": "hi"]), ("get_reel_comments", [:]),
            ]
            for reel in hidden {
                for (name, extra) in calls {
                    await #expect(throws: ReelsInteractions.reelNotFound, "\(name)") {
                        _ = try await rpc.call(name, stranger, extra.merging(["reel_id": reel.uuidString]) { a, _ in a })
                    }
                }
            }
            await #expect(throws: ReelsInteractions.reelNotFound) {
                try await rpc.call("like_reel", blocked, ["reel_id": open.uuidString])
            }
            // The author may act on their own reel in any state; nothing was counted for the others.
            let liked = try await rpc.call("like_reel", author, ["reel_id": hidden[0].uuidString])
            #expect(liked["count"] as? Int == 1)
            #expect(try await InteractionsHarness.counts(db, hidden[1]) == [0, 0, 0, 0, 0])
        }
    }

    /// Taking back one's own like or save needs no sight of the reel: it works (and the counter
    /// follows) on a reel that became private, unapproved or blocked, and the answer for any
    /// reel the caller may not see is the same whether a like was removed, there was none, or
    /// the reel does not exist.
    @Test func takingBackALikeOrSaveWorksOnAReelNoLongerVisibleAndTellsNothing() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db)
            let author = try await ReelsFixture.user(db)
            let viewer = try await ReelsFixture.user(db)
            let made = [
                try await ReelsFixture.reel(db, author: author),
                try await ReelsFixture.reel(db, author: author),
                try await ReelsFixture.reel(db, author: author),
            ]
            for reel in made {
                _ = try await rpc.call("like_reel", viewer, ["reel_id": reel.uuidString])
                _ = try await rpc.call("save_reel", viewer, ["reel_id": reel.uuidString])
            }
            let neverLiked = try await ReelsFixture.reel(db, author: author, visibility: "private")
            try await db.withOwner { connection in
                try await connection.execute("UPDATE reels.reels SET visibility = 'private' WHERE id = $1", [made[0]])
                try await connection.execute("UPDATE reels.reels SET moderation = 'rejected' WHERE id = $1", [made[1]])
            }
            let blockedReel = made[2]
            try await ReelsFixture.block(db, author, viewer)

            for (unName, key) in [("unlike_reel", "liked"), ("unsave_reel", "saved")] {
                for reel in made + [neverLiked, UUID(), made[0]] {
                    let answer = try await rpc.call(unName, viewer, ["reel_id": reel.uuidString])
                    #expect(answer.count == 2 && answer[key] as? Bool == false && answer["count"] is NSNull, "\(unName): \(answer)")
                }
            }
            for reel in made {
                #expect(try await InteractionsHarness.counts(db, reel)[0...1] == [0, 0])
                #expect(try await InteractionsHarness.rows(db, "reels.likes", reel) == 0)
                #expect(try await InteractionsHarness.rows(db, "reels.saves", reel) == 0)
            }
            // Liking or saving again still needs the reel in sight.
            for name in ["like_reel", "save_reel"] {
                await #expect(throws: ReelsInteractions.reelNotFound) {
                    try await rpc.call(name, viewer, ["reel_id": blockedReel.uuidString])
                }
            }
        }
    }

    @Test func countersStayExactUnderParallelLikesAndUnlikes() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db)
            let author = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: author)
            var users: [Caller] = []
            for _ in 0..<24 { users.append(try await ReelsFixture.user(db)) }
            let everyone = users
            // Everyone likes at once, twice: one like each.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for user in everyone + everyone {
                    group.addTask { _ = try await rpc.call("like_reel", user, ["reel_id": reel.uuidString]) }
                }
                try await group.waitForAll()
            }
            #expect(try await InteractionsHarness.counts(db, reel)[0] == 24)
            #expect(try await InteractionsHarness.rows(db, "reels.likes", reel) == 24)
            // Then a storm of likes, unlikes, saves and unsaves in random order.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for round in 0..<6 {
                    for (index, user) in everyone.enumerated() {
                        let name = ["like_reel", "unlike_reel", "save_reel", "unsave_reel"][(index + round * 3) % 4]
                        group.addTask { _ = try await rpc.call(name, user, ["reel_id": reel.uuidString]) }
                    }
                }
                try await group.waitForAll()
            }
            let counts = try await InteractionsHarness.counts(db, reel)
            #expect(counts[0] == (try await InteractionsHarness.rows(db, "reels.likes", reel)))
            #expect(counts[1] == (try await InteractionsHarness.rows(db, "reels.saves", reel)))
            // A deleted user's like goes with them and the counter follows.
            let likers = try await InteractionsHarness.rows(db, "reels.likes", reel)
            if likers > 0 {
                try await db.withOwner { connection in
                    try await connection.execute(
                        "DELETE FROM auth.users WHERE id = (SELECT user_id FROM reels.likes WHERE reel_id = $1 LIMIT 1)", [reel])
                }
                #expect(try await InteractionsHarness.counts(db, reel)[0] == likers - 1)
            }
        }
    }

    @Test func sharesViewsAndImpressionsAreCountedForVisibleReelsOnly() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db)
            let author = try await ReelsFixture.user(db)
            let viewer = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: author)
            let secret = try await ReelsFixture.reel(db, author: author, visibility: "private")
            let shared = try await rpc.call("share_reel", viewer, ["reel_id": reel.uuidString, "target": "chat"])
            #expect(shared["shared"] as? Bool == true && shared["count"] as? Int == 1)
            _ = try await rpc.call("share_reel", viewer, ["reel_id": reel.uuidString])
            await #expect(throws: APIError.invalidField("target", "must be chat, link or external")) {
                try await rpc.call("share_reel", viewer, ["reel_id": reel.uuidString, "target": "fax"])
            }
            let viewed = try await rpc.call("record_reel_view", viewer, ["reel_id": reel.uuidString, "watched_seconds": 12.5])
            #expect(viewed["count"] as? Int == 1)
            _ = try await rpc.call("record_reel_view", viewer, ["reel_id": reel.uuidString, "watched_seconds": 0])
            for bad in [-1, 3600.5, 1e300] as [Double] {
                await #expect(throws: APIError.self) {
                    try await rpc.call("record_reel_view", viewer, ["reel_id": reel.uuidString, "watched_seconds": bad])
                }
            }
            #expect(try await InteractionsHarness.counts(db, reel) == [0, 0, 0, 2, 2])
            let watched = try await db.withOwner { connection in
                var all: [Int] = []
                for try await ms in try await connection.rows("SELECT watched_ms FROM reels.views WHERE reel_id = $1 ORDER BY watched_ms", [reel]).decode(Int.self) {
                    all.append(ms)
                }
                return all
            }
            #expect(watched == [0, 12_500])

            let impressions = try await rpc.call(
                "record_reel_impressions", viewer, ["reel_ids": [reel.uuidString, reel.uuidString, secret.uuidString, UUID().uuidString]])
            #expect(impressions["recorded"] as? Int == 1)
            await #expect(throws: APIError.invalidField("reel_ids", "must hold 1 to 50 reel ids")) {
                try await rpc.call("record_reel_impressions", viewer, ["reel_ids": (0..<51).map { _ in UUID().uuidString }])
            }
            await #expect(throws: APIError.invalidField("reel_ids", "must hold 1 to 50 reel ids")) {
                try await rpc.call("record_reel_impressions", viewer, ["reel_ids": [String]()])
            }
        }
    }

    @Test func marksAndReports() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db)
            let author = try await ReelsFixture.user(db)
            let viewer = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: author)
            for _ in 0..<2 {
                #expect(try await rpc.call("not_interested_reel", viewer, ["reel_id": reel.uuidString])["not_interested"] as? Bool == true)
                #expect(try await rpc.call("hide_reel", viewer, ["reel_id": reel.uuidString])["hidden"] as? Bool == true)
            }
            #expect(try await InteractionsHarness.rows(db, "reels.not_interested", reel) == 1)
            #expect(try await InteractionsHarness.rows(db, "reels.hidden", reel) == 1)

            let reported = try await rpc.call("report_reel", viewer, ["reel_id": reel.uuidString, "reason": "spam", "details": "  ads  "])
            #expect(reported["reported"] as? Bool == true)
            _ = try await rpc.call("report_reel", viewer, ["reel_id": reel.uuidString, "reason": "hate"])
            let report = try await db.withOwner { connection in
                try await connection.scalarText("SELECT reason || ':' || coalesce(details, '-') FROM reels.reports WHERE reel_id = $1", [reel])
            }
            #expect(report == "hate:-")
            await #expect(throws: APIError.invalidField("reason", "must be spam, violence, nudity, hate or other")) {
                try await rpc.call("report_reel", viewer, ["reel_id": reel.uuidString, "reason": "boring"])
            }
            await #expect(throws: APIError.invalidField("details", "must be at most 1000 characters")) {
                try await rpc.call("report_reel", viewer, ["reel_id": reel.uuidString, "reason": "other", "details": String(repeating: "я", count: 1001)])
            }
            await #expect(throws: APIError.invalidField("reel_id", "must not be your own reel")) {
                try await rpc.call("report_reel", author, ["reel_id": reel.uuidString, "reason": "spam"])
            }
        }
    }

    @Test func savedReelsArePagedNewestFirstAndLoseReelsTheCallerNoLongerSees() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db)
            let author = try await ReelsFixture.user(db)
            let viewer = try await ReelsFixture.user(db)
            var reels: [UUID] = []
            for _ in 0..<5 {
                let reel = try await ReelsFixture.reel(db, author: author)
                _ = try await rpc.call("save_reel", viewer, ["reel_id": reel.uuidString])
                reels.append(reel)
            }
            var seen: [String] = []
            var before: String?
            repeat {
                var args: [String: Any] = ["limit": 2]
                if let before { args["before"] = before }
                let page = try await rpc.call("get_saved_reels", viewer, args)
                let items = page["reels"] as? [[String: Any]] ?? []
                #expect(items.count <= 2)
                seen += items.compactMap { $0["id"] as? String }
                #expect(items.allSatisfy { ($0["viewer"] as? [String: Any])?["saved"] as? Bool == true })
                before = page["next"] as? String
            } while before != nil
            #expect(seen == reels.reversed().map { $0.uuidString.lowercased() })

            // A ready reel with outputs carries its media links; one without has none.
            let withMedia = reels[4]
            try await db.withOwner { connection in
                try await connection.execute(
                    "UPDATE reels.reels SET media_prefix = $1 WHERE id = $2", ["\(withMedia.uuidString.lowercased())/\(UUID().uuidString.lowercased())", withMedia])
            }
            let newest = try await rpc.call("get_saved_reels", viewer, ["limit": 2])
            let records = newest["reels"] as? [[String: Any]] ?? []
            let media = records.first?["media"] as? [String: Any]
            #expect((media?["hls"] as? String)?.hasPrefix("/reels/v1/media/") == true, "\(records)")
            #expect((media?["hls"] as? String)?.hasSuffix("/master.m3u8") == true)
            #expect(records.last?["media"] is NSNull)

            let first = reels[0]
            try await db.withOwner { connection in
                try await connection.execute("UPDATE reels.reels SET visibility = 'private' WHERE id = $1", [first])
            }
            let all = try await rpc.call("get_saved_reels", viewer, [:])
            #expect((all["reels"] as? [[String: Any]])?.count == 4)
            await #expect(throws: APIError.invalidField("before", "must be a cursor returned by a previous page")) {
                try await rpc.call("get_saved_reels", viewer, ["before": "bm90LWEtY3Vyc29y.c2ln"])
            }
            await #expect(throws: APIError.invalidField("limit", "must be between 1 and 30")) {
                try await rpc.call("get_saved_reels", viewer, ["limit": 31])
            }
        }
    }

    @Test func clientRolesReadOnlyTheirOwnInteractionsAndCannotWriteThem() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = InteractionsHarness(db)
            let author = try await ReelsFixture.user(db)
            let one = try await ReelsFixture.user(db)
            let two = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: author)
            for user in [one, two] {
                _ = try await rpc.call("like_reel", user, ["reel_id": reel.uuidString])
                _ = try await rpc.call("save_reel", user, ["reel_id": reel.uuidString])
                _ = try await rpc.call("record_reel_view", user, ["reel_id": reel.uuidString, "watched_seconds": 1])
            }
            for table in ["reels.likes", "reels.saves", "reels.views"] {
                let mine = try await db.withCaller(one) { connection in
                    var users: Set<UUID> = []
                    for try await user in try await connection.rows("SELECT user_id FROM \(table)", []).decode(UUID.self) { users.insert(user) }
                    return users
                }
                #expect(mine == [one.userID!], "\(table)")
            }
            await #expect(throws: (any Error).self) {
                try await db.withCaller(one) { connection in
                    try await connection.execute("INSERT INTO reels.likes (reel_id, user_id) VALUES ($1, $2)", [reel, one.userID])
                }
            }
            await #expect(throws: (any Error).self) {
                try await db.withCaller(one) { connection in
                    try await connection.execute("UPDATE reels.reels SET like_count = 100 WHERE id = $1", [reel])
                }
            }
        }
    }
}

/// Calls the interaction RPCs through a registry, as `POST /rest/v1/rpc/<name>` does.
struct InteractionsHarness: Sendable {
    let registry: RPCRegistry

    init(_ database: Database, limits: InteractionLimits = InteractionLimits()) {
        var registry = RPCRegistry()
        let media = ReelMedia(keyBytes: Data(repeating: 7, count: 32))
        registry.register(ReelsInteractions(database: database, limits: limits, media: media).rpcFunctions)
        self.registry = registry
    }

    /// Calls `name` with `arguments` as `caller`; the JSON object answer.
    @discardableResult
    func call(_ name: String, _ caller: Caller, _ arguments: [String: Any]) async throws -> [String: Any] {
        let body = try JSONSerialization.data(withJSONObject: arguments)
        let result: RPCResult
        do {
            result = try await registry.call(RPCCall(name: name, arguments: body, caller: caller))
        } catch let error as APIError {
            throw error
        } catch {
            // Database errors in full (PSQLError's description hides them).
            throw FixtureError("\(name): \(String(reflecting: error))")
        }
        guard case .json(let data) = result else { return [:] }
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    /// `reels.record` of `reel` as `viewer` sees it (under their role and row-level security).
    static func record(_ database: Database, _ viewer: Caller, _ reel: UUID) async throws -> [String: Any] {
        let text = try await database.withCaller(viewer) { connection in
            try await connection.scalarText("SELECT reels.record(r)::text FROM reels.reels r WHERE r.id = $1", [reel])
        }
        return try JSONSerialization.jsonObject(with: Data((text ?? "{}").utf8)) as? [String: Any] ?? [:]
    }

    /// The reel's counters: likes, saves, comments, shares, views.
    static func counts(_ database: Database, _ reel: UUID) async throws -> [Int] {
        try await database.withOwner { connection in
            let rows = try await connection.rows(
                "SELECT like_count, save_count, comment_count, share_count, view_count FROM reels.reels WHERE id = $1", [reel])
            for try await (a, b, c, d, e) in rows.decode((Int, Int, Int, Int, Int).self) { return [a, b, c, d, e] }
            return []
        }
    }

    /// How many rows of `table` are about `reel`.
    static func rows(_ database: Database, _ table: String, _ reel: UUID) async throws -> Int {
        try await database.withOwner { connection in
            for try await count in try await connection.rows("SELECT count(*)::int FROM \(table) WHERE reel_id = $1", [reel]).decode(Int.self) {
                return count
            }
            return 0
        }
    }
}
