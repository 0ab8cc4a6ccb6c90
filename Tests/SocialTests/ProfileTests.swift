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
