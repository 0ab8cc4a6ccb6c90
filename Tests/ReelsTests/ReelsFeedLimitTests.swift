import Core
import Database
import Foundation
import Logging
@testable import Reels
import Testing
import TestSupport

/// get_reels_feed limits new sessions (first pages) per user and, for anonymous callers, per
/// client address; cursor pages are not limited; who may call which feed RPC.
@Suite struct ReelsFeedLimitTests {
    typealias F = ReelsFeedFixture

    static func small() -> FeedLimitSettings {
        var settings = FeedLimitSettings()
        settings.sessionsPerMinute = 2
        settings.anonymousSessionsPerMinute = 2
        return settings
    }

    /// The feed's RPCs over a registry, as the HTTP layer calls them.
    struct Harness {
        let registry: RPCRegistry

        init(_ database: Database, limits: FeedLimitSettings) {
            var registry = RPCRegistry()
            registry.register(ReelsFeed(database: database, logger: Logger(label: "feed-limit-tests"), media: ReelMedia(database: database), limits: limits).rpcFunctions)
            self.registry = registry
        }

        func call(_ name: String, _ caller: Caller, _ arguments: [String: Any], address: String? = nil) async throws -> [String: Any] {
            var call = RPCCall(name: name, arguments: try JSONSerialization.data(withJSONObject: arguments), caller: caller)
            call.clientAddress = address
            guard case .json(let data) = try await registry.call(call) else {
                return [:]
            }
            return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        }
    }

    @Test func newSessionsAreLimitedPerUserAndCursorPagesAreNot() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = Harness(db, limits: Self.small())
            let author = try await ReelsFixture.user(db)
            let viewer = try await ReelsFixture.user(db)
            let other = try await ReelsFixture.user(db)
            for _ in 0..<4 { _ = try await F.reel(db, author: author) }

            // Arguments are checked before a token is taken.
            for _ in 0..<3 {
                await #expect(throws: APIError.self) { _ = try await rpc.call("get_reels_feed", viewer, ["limit": 31]) }
            }
            let first = try await rpc.call("get_reels_feed", viewer, ["limit": 1])
            _ = try await rpc.call("get_reels_feed", viewer, ["limit": 1])
            await ReelsFixture.expectLimited("start 2 feed sessions a minute") { _ = try await rpc.call("get_reels_feed", viewer, ["limit": 1]) }

            // The first session's later pages still come.
            var cursor = try #require(first["next"] as? String)
            for _ in 0..<3 {
                let page = try await rpc.call("get_reels_feed", viewer, ["limit": 1, "cursor": cursor])
                #expect((page["reels"] as? [Any])?.count == 1)
                guard let next = page["next"] as? String else { break }
                cursor = next
            }
            // Another user's bucket is their own.
            _ = try await rpc.call("get_reels_feed", other, ["limit": 1])
        }
    }

    @Test func anonymousSessionsAreLimitedPerAddress() async throws {
        try await TestDatabase.withDatabase { db in
            let limiter = FeedSessionLimiter(Self.small())
            let allowance = "start 2 feed sessions a minute from one address without signing in"
            for _ in 0..<2 { try await limiter.admit(.anonymous, address: "203.0.113.7") }
            await ReelsFixture.expectLimited(allowance) { try await limiter.admit(.anonymous, address: "203.0.113.7") }
            try await limiter.admit(.anonymous, address: "203.0.113.8")
            // A signed-in user is counted in their own bucket, not the address's.
            let user = try await ReelsFixture.user(db)
            try await limiter.admit(user, address: "203.0.113.7")
        }
    }

    @Test func anonymousCallersGetTheFeedButNotTheLists() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = Harness(db, limits: Self.small())
            let author = try await ReelsFixture.user(db)
            let privateAuthor = try await ReelsFixture.user(db, isPrivate: true)
            let shown = try await F.reel(db, author: author)
            let forFollowers = try await F.reel(db, author: author, visibility: "followers")
            let ofPrivateAccount = try await F.reel(db, author: privateAuthor)

            let page = try await rpc.call("get_reels_feed", .anonymous, ["limit": 30], address: "192.0.2.1")
            let ids = Set((page["reels"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? String).flatMap(UUID.init(uuidString:)) })
            #expect(ids.contains(shown))
            #expect(!ids.contains(forFollowers) && !ids.contains(ofPrivateAccount))

            let lists: [(String, [String: Any], String)] = [
                ("get_following_reels", [:], "sign in required: the following list shows reels of the accounts you follow"),
                ("get_author_reels", ["author_id": try #require(author.userID).uuidString],
                 "sign in required: an author's or a hashtag's reels need a signed-in user (anonymous viewers may read get_reels_feed)"),
                ("get_hashtag_reels", ["tag": "cars"],
                 "sign in required: an author's or a hashtag's reels need a signed-in user (anonymous viewers may read get_reels_feed)"),
            ]
            for (name, arguments, rule) in lists {
                await #expect(throws: APIError(status: .unauthorized, code: "42501", message: rule)) {
                    _ = try await rpc.call(name, .anonymous, arguments)
                }
            }
        }
    }

    @Test func theServiceRoleWithoutAUserIsToldToSignIn() async throws {
        try await TestDatabase.withDatabase { db in
            let rpc = Harness(db, limits: Self.small())
            let service = Caller(role: .serviceRole, claimsJSON: #"{"role":"service_role"}"#)
            for name in ["get_reels_feed", "get_following_reels", "get_author_reels", "get_hashtag_reels"] {
                var arguments: [String: Any] = [:]
                if name == "get_author_reels" { arguments["author_id"] = UUID().uuidString }
                if name == "get_hashtag_reels" { arguments["tag"] = "cars" }
                do {
                    _ = try await rpc.call(name, service, arguments)
                    Issue.record("\(name) answered the service role")
                } catch let error as APIError {
                    #expect(error.status == .unauthorized, "\(name): \(error)")
                }
            }
        }
    }
}
