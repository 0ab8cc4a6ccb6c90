import Core
import Database
import Foundation
@testable import Social
import Testing
import TestSupport

@Suite struct ProfileTests {
    @Test func ownProfileHasPhoneOthersNever() async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            let alice = try await SocialFixture.user(database, "alice")
            let bob = try await SocialFixture.user(database, "bob")
            let mine = try SocialFixture.json(try await social.myProfile(alice))
            #expect((mine["phone"] as? String)?.hasPrefix("1555") == true)
            let seen = try SocialFixture.json(try await social.profile(bob, userID: alice.userID, username: nil))
            #expect(seen["phone"] == nil)
            #expect(seen["username"] as? String == "alice")
            let found = try SocialFixture.array(try await social.search(bob, query: "ali", limit: 10))
            #expect(found.count == 1)
            #expect(found.allSatisfy { $0["phone"] == nil })
        }
    }

    @Test func usernameIsUniqueIgnoringCase() async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            _ = try await SocialFixture.user(database, "alice")
            let bob = try await SocialFixture.user(database, "bob")
            var changes = ProfileChanges()
            changes.username = try ProfileRules.username("ALICE")
            let error = try await #require(throws: APIError.self) { try await social.updateMyProfile(bob, changes) }
            #expect(error.code == "23505")
            #expect(error.message.hasPrefix("username:"))
            let availability = try SocialFixture.json(try await social.usernameAvailability(bob, username: "Alice"))
            #expect(availability["available"] as? Bool == false)
        }
    }

    @Test(arguments: [
        ("ab", "must be 3 to 32 characters"),
        ("has space", "may contain only letters a-z, digits and underscores"),
        ("ok_name_but_far_too_long_for_the_rule", "must be 3 to 32 characters"),
        ("имя", "may contain only letters a-z, digits and underscores"),
    ])
    func invalidUsernamesNameTheFieldAndRule(_ value: String, _ rule: String) {
        #expect(throws: APIError.invalidField("username", rule)) { try ProfileRules.username(value) }
    }

    @Test func fieldRulesNameFieldAndRule() throws {
        #expect(throws: APIError.invalidField("display_name", "must be 1 to 64 characters")) { try ProfileRules.displayName("   ") }
        #expect(throws: APIError.invalidField("bio", "must be at most 500 characters")) { try ProfileRules.bio(String(repeating: "x", count: 501)) }
        #expect(throws: APIError.self) { try ProfileRules.avatarURL("javascript:alert(1)") }
        #expect(try ProfileRules.avatarURL("https://example.org/a.png") == "https://example.org/a.png")
        let avatars = "/storage/v1/object/public/avatars/"
        #expect(try ProfileRules.avatarURL(avatars + "u/a.jpg") == avatars + "u/a.jpg")
        // '..' as the database sees it (bytes), even when a combining mark follows: refused
        // naming the field, as is the bare prefix.
        let rule = "must be an http(s) URL or /storage/v1/object/public/avatars/<path>, at most 2048 characters"
        for url in [avatars + "u/../a.jpg", avatars + "u/..\u{301}a.jpg", avatars] {
            #expect(throws: APIError.invalidField("avatar_url", rule), "\(url.debugDescription)") { try ProfileRules.avatarURL(url) }
        }
    }

    @Test func searchEscapesWildcardsAndIsPrefixOnly() async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            let me = try await SocialFixture.user(database, "searcher")
            _ = try await SocialFixture.user(database, "maria")
            _ = try await SocialFixture.user(database, "anna_maria")
            #expect(try SocialFixture.array(try await social.search(me, query: "mar", limit: 10)).count == 1)
            #expect(try SocialFixture.array(try await social.search(me, query: "%", limit: 10)).isEmpty)
            #expect(try SocialFixture.array(try await social.search(me, query: "anna_", limit: 10)).count == 1)
        }
    }

    @Test func goingPublicAcceptsPendingRequests() async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            let shy = try await SocialFixture.user(database, "shy", isPrivate: true)
            let fan = try await SocialFixture.user(database, "fan")
            let status = try SocialFixture.json(try await social.follow(fan, target: shy.userID!))
            #expect(status["status"] as? String == "pending")
            var changes = ProfileChanges()
            changes.isPrivate = false
            _ = try await social.updateMyProfile(shy, changes)
            let followers = try SocialFixture.json(try await social.list(fan, direction: .followers, owner: shy.userID, cursor: nil, limit: 10))
            #expect((followers["items"] as? [Any])?.count == 1)
        }
    }
}

@Suite struct ProfileEdgeTests {
    @Test func upperCaseSchemeAndLongGraphemesNeverFailInTheDatabase() async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            let me = try await SocialFixture.user(database, "edgy")
            var changes = ProfileChanges()
            changes.avatarURL = .some(try ProfileRules.avatarURL("HTTPS://EXAMPLE.ORG/A.PNG"))
            let profile = try SocialFixture.json(try await social.updateMyProfile(me, changes))
            #expect(profile["avatar_url"] as? String == "HTTPS://EXAMPLE.ORG/A.PNG")
            // 20 family emoji are 20 characters but 140 code points: refused before the database.
            let family = String(repeating: "👨‍👩‍👧‍👦", count: 20)
            #expect(throws: APIError.invalidField("display_name", "must be 1 to 64 characters")) { try ProfileRules.displayName(family) }
        }
    }

    @Test func constraintViolationsReachClientsAs400NotAs500() async throws {
        try await TestDatabase.withDatabase { database in
            let me = try await SocialFixture.user(database, "rulebreaker")
            // Bypassing the service's own checks, the database still refuses, as a client error.
            let error = try await #require(throws: APIError.self) {
                try await database.withCaller(me) { connection in
                    try await connection.execute("UPDATE public.profiles SET username = 'NO SPACES ALLOWED' WHERE id = auth.uid()", [])
                }
            }
            #expect(error.status == .badRequest)
            #expect(error.code == "22023")
            #expect(error.message.contains("profiles_username_check"))
        }
    }

    @Test func mutualBlockersStillSeeWhomTheyBlocked() async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            let a = try await SocialFixture.user(database, "mutual_a")
            let b = try await SocialFixture.user(database, "mutual_b")
            _ = try await social.block(a, target: b.userID!)
            _ = try await social.block(b, target: a.userID!)
            for (me, other) in [(a, b), (b, a)] {
                let page = try SocialFixture.json(try await social.blocked(me, cursor: nil, limit: 10))
                let ids = (page["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                #expect(ids == [other.userID!.uuidString.lowercased()])
            }
        }
    }

    @Test func countsFollowTheCallersVisibilityAsDocumented() async throws {
        // docs/api.md (get_profile): counted under the caller's visibility, so a stranger sees
        // only the private account's follows that are visible through the other end.
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            let star = try await SocialFixture.user(database, "counted", isPrivate: true)
            let openFan = try await SocialFixture.user(database, "counted_open")
            let closedFan = try await SocialFixture.user(database, "counted_closed", isPrivate: true)
            let stranger = try await SocialFixture.user(database, "counted_stranger")
            for fan in [openFan, closedFan] {
                _ = try await social.follow(fan, target: star.userID!)
                _ = try await social.respond(star, follower: fan.userID!, accept: true)
            }
            for (viewer, expected) in [(star, 2), (openFan, 2), (closedFan, 2), (stranger, 1)] {
                let profile = try SocialFixture.json(try await social.profile(viewer, userID: star.userID, username: nil))
                #expect(profile["followers_count"] as? Int == expected)
            }
        }
    }
}
