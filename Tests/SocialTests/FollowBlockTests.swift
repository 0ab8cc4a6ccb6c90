import Core
import Database
import Foundation
@testable import Social
import Testing
import TestSupport

@Suite struct FollowBlockTests {
    @Test func followIsIdempotentAndSelfFollowRefused() async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            let a = try await SocialFixture.user(database, "aaa")
            let b = try await SocialFixture.user(database, "bbb")
            for _ in 0..<2 {
                #expect(try SocialFixture.json(try await social.follow(a, target: b.userID!))["status"] as? String == "accepted")
            }
            await #expect(throws: APIError.invalidField("target_user_id", "must not be yourself")) {
                try await social.follow(a, target: a.userID!)
            }
            let following = try SocialFixture.json(try await social.list(a, direction: .following, owner: nil, cursor: nil, limit: 10))
            #expect((following["items"] as? [Any])?.count == 1)
        }
    }

    @Test func privateAccountRequestAcceptAndDecline() async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            let star = try await SocialFixture.user(database, "star", isPrivate: true)
            let one = try await SocialFixture.user(database, "one")
            let two = try await SocialFixture.user(database, "two")
            _ = try await social.follow(one, target: star.userID!)
            _ = try await social.follow(two, target: star.userID!)
            // Non-followers cannot see a private account's connections.
            await #expect(throws: APIError.self) {
                try await social.list(one, direction: .followers, owner: star.userID, cursor: nil, limit: 10)
            }
            let requests = try SocialFixture.json(try await social.list(star, direction: .requests, owner: nil, cursor: nil, limit: 10))
            #expect((requests["items"] as? [Any])?.count == 2)
            _ = try await social.respond(star, follower: one.userID!, accept: true)
            _ = try await social.respond(star, follower: two.userID!, accept: false)
            await #expect(throws: APIError.self) { try await social.respond(star, follower: two.userID!, accept: true) }
            // Only the accepted follower now sees the list, with one member.
            let followers = try SocialFixture.json(try await social.list(one, direction: .followers, owner: star.userID, cursor: nil, limit: 10))
            #expect((followers["items"] as? [Any])?.count == 1)
        }
    }

    @Test func blockCutsFollowsHidesBlockerAndStopsNewFollows() async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            let blocker = try await SocialFixture.user(database, "blocker")
            let pest = try await SocialFixture.user(database, "pest")
            _ = try await social.follow(pest, target: blocker.userID!)
            _ = try await social.follow(blocker, target: pest.userID!)
            _ = try await social.block(blocker, target: pest.userID!)
            // Follows in both directions are gone.
            let following = try SocialFixture.json(try await social.list(blocker, direction: .following, owner: nil, cursor: nil, limit: 10))
            #expect((following["items"] as? [Any])?.isEmpty == true)
            // The blocker is invisible to the blocked user.
            #expect(try SocialFixture.array(try await social.search(pest, query: "block", limit: 10)).isEmpty)
            await #expect(throws: APIError.notFound("profile not found")) {
                try await social.profile(pest, userID: blocker.userID, username: nil)
            }
            // Neither can follow the other.
            await #expect(throws: APIError.self) { try await social.follow(pest, target: blocker.userID!) }
            await #expect(throws: APIError.self) { try await social.follow(blocker, target: pest.userID!) }
            // The blocker still sees whom they blocked, and can lift it.
            let blocked = try SocialFixture.json(try await social.blocked(blocker, cursor: nil, limit: 10))
            #expect((blocked["items"] as? [Any])?.count == 1)
            _ = try await social.unblock(blocker, target: pest.userID!)
            #expect(try SocialFixture.array(try await social.search(pest, query: "block", limit: 10)).count == 1)
        }
    }

    @Test func followerListsPageByKeysetWithoutGapsOrRepeats() async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            let celebrity = try await SocialFixture.user(database, "celebrity")
            var expected: Set<String> = []
            for index in 0..<7 {
                let fan = try await SocialFixture.user(database, "fan_\(index)")
                _ = try await social.follow(fan, target: celebrity.userID!)
                expected.insert("fan_\(index)")
            }
            var seen: [String] = []
            var cursor: KeysetCursor?
            repeat {
                let page = try SocialFixture.json(try await social.list(celebrity, direction: .followers, owner: nil, cursor: cursor, limit: 3))
                let items = page["items"] as? [[String: Any]] ?? []
                #expect(items.count <= 3)
                seen += items.compactMap { $0["username"] as? String }
                cursor = try await social.cursors.decode(page["next_cursor"] as? String, field: "cursor")
            } while cursor != nil
            #expect(seen.count == 7)
            #expect(Set(seen) == expected)
        }
    }
}
