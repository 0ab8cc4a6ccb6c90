import Core
import Database
import Foundation
@testable import Social
import Testing
import TestSupport

/// Issue 11, item 9: one username rule for `check_username`, `update_my_profile` and the
/// database; signed list cursors.
@Suite struct UsernameRuleAndCursorTests {
    static let refusedCharacters = [
        "abc\u{0301}",  // combining acute (NFD)
        "ab\u{0107}",  // the same letter precomposed (NFC)
        "\u{FF41}\u{FF42}\u{FF43}",  // fullwidth abc (NFKC gives abc)
        "\u{212A}elvin",  // Kelvin sign, lower-cases to k
        "\u{0131}stanbul",  // dotless i
        "ab\u{200B}c",  // zero-width space
        "aa" + String(repeating: "\u{0301}", count: 31),  // 2 characters, 33 code points
        "имя",
    ]

    @Test(arguments: refusedCharacters)
    func nonASCIIIsRefusedByBothCallsAndTheDatabase(_ name: String) async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            let me = try await SocialFixture.user(database, "namer")
            let answer = try SocialFixture.json(try await social.usernameAvailability(me, username: name))
            #expect(answer["available"] as? Bool == false)
            #expect(answer["reason"] as? String == "may contain only letters a-z, digits and underscores")
            #expect(throws: APIError.invalidField("username", "may contain only letters a-z, digits and underscores")) {
                try ProfileRules.username(name)
            }
            // The database's check refuses the same text as typed. (Lower-casing first would
            // have let the Kelvin sign through as "kelvin": the rule looks before it lowers.)
            await #expect(throws: APIError.self) {
                try await database.withCaller(me) { connection in
                    try await connection.execute("UPDATE public.profiles SET username = $1 WHERE id = auth.uid()", [name])
                }
            }
        }
    }

    @Test(arguments: [("abc", true), ("ABC_def_09", true), (String(repeating: "a", count: 32), true), ("ab", false),
                      (String(repeating: "a", count: 33), false)])
    func lengthEdgesAgree(_ name: String, _ accepted: Bool) async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            let me = try await SocialFixture.user(database, "edger")
            let answer = try SocialFixture.json(try await social.usernameAvailability(me, username: name))
            #expect(answer["available"] as? Bool == accepted)
            var changes = ProfileChanges()
            if accepted {
                changes.username = try ProfileRules.username(name)
                let profile = try SocialFixture.json(try await social.updateMyProfile(me, changes))
                #expect(profile["username"] as? String == name.lowercased())
            } else {
                #expect(throws: APIError.invalidField("username", "must be 3 to 32 characters")) { try ProfileRules.username(name) }
            }
        }
    }

    @Test func cursorsAreSignedAndForgeriesNameTheField() async throws {
        try await TestDatabase.withDatabase { database in
            let codec = CursorCodec(database: database)
            let cursor = KeysetCursor(timestamp: "2026-11-26 17:02:53.293317+00", id: UUID())
            let text = try await codec.encode(cursor)
            #expect(try await codec.decode(text, field: "cursor") == cursor)
            // Another codec on the same database (another instance) shares the key.
            #expect(try await CursorCodec(database: database).decode(text, field: "p_cursor") == cursor)
            let unsigned = Data(KeysetCursor(timestamp: "2026-11-26 17:02:53+99", id: cursor.id).payload.utf8).base64EncodedString()
            let parts = text.split(separator: ".")
            let otherPayload = KeysetCursor.signedText(payload: Data("2026-11-26 17:02:53+99|\(cursor.id.uuidString)".utf8), mac: Data())
            for forged in [unsigned, otherPayload.split(separator: ".")[0] + "." + parts[1], text + "A", "", "."] {
                await #expect(throws: APIError.invalidField("p_cursor", "must be a cursor returned by a previous page")) {
                    try await codec.decode(String(forged), field: "p_cursor")
                }
            }
            // A codec with another key (another deployment) refuses it too.
            await #expect(throws: APIError.self) { try await CursorCodec(key: Data(repeating: 7, count: 32)).decode(text, field: "cursor") }
        }
    }

    @Test func groupAddSettingIsInTheOwnProfileOnly() async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            let me = try await SocialFixture.user(database, "private_setting")
            let other = try await SocialFixture.user(database, "looker")
            #expect(try SocialFixture.json(try await social.myProfile(me))["who_can_add_to_groups"] as? String == "everyone")
            var changes = ProfileChanges()
            changes.whoCanAddToGroups = try GroupAddPolicy.parse("contacts")
            #expect(try SocialFixture.json(try await social.updateMyProfile(me, changes))["who_can_add_to_groups"] as? String == "contacts")
            let seen = try SocialFixture.json(try await social.profile(other, userID: me.userID, username: nil))
            #expect(seen["who_can_add_to_groups"] == nil)
            #expect(throws: APIError.invalidField("who_can_add_to_groups", "must be everyone, contacts or nobody")) {
                try GroupAddPolicy.parse("friends")
            }
        }
    }
}
