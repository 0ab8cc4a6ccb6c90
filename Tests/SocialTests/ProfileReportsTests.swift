import Core
import Database
import Foundation
import Testing
import TestSupport

@testable import Social

/// Reports of profiles (`report_profile`) and the moderator's side of them.
@Suite struct ProfileReportsTests {
    @Test func usersReportProfilesTheyCanSeeAndRemovalClearsWhatTheProfileShows() async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            let troll = try await SocialFixture.user(database, "troll_1")
            let alice = try await SocialFixture.user(database, "alice_r"), bob = try await SocialFixture.user(database, "bob_r")
            let blocked = try await SocialFixture.user(database, "blocked_r")
            let report = try ContentReport(reason: "impersonation", details: "pretends to be the bank")
            #expect(try SocialFixture.json(try await social.report(alice, profile: troll.userID!, report))["reported"] as? Bool == true)
            _ = try await social.report(bob, profile: troll.userID!, try ContentReport(reason: "spam", details: nil))
            // Oneself, nobody, and someone who blocked the reporter cannot be reported.
            await #expect(throws: APIError.self) { _ = try await social.report(alice, profile: alice.userID!, report) }
            await #expect(throws: APIError.notFound("user_id: no such user")) { _ = try await social.report(alice, profile: UUID(), report) }
            _ = try await social.block(troll, target: blocked.userID!)
            await #expect(throws: APIError.notFound("user_id: no such user")) { _ = try await social.report(blocked, profile: troll.userID!, report) }

            let queue = try SocialFixture.array(try await social.reportedProfiles(limit: 10, before: nil))
            #expect(queue.count == 1)
            #expect(queue.first?["username"] as? String == "troll_1" && queue.first?["reports"] as? Int == 2)
            #expect(queue.first?["report_reasons"] as? [String] == ["impersonation", "spam"])
            #expect(try await social.reportedProfileCount() == 1)

            let moderated = try await database.withOwner { connection in
                try await social.moderate(profile: troll.userID!, remove: true, on: connection)
            }
            #expect(moderated?.author == troll.userID)
            #expect(try await social.reportedProfileCount() == 0)
            let shown = try SocialFixture.json(try await social.profile(alice, userID: troll.userID, username: nil))
            #expect(shown["username"] is NSNull && shown["display_name"] as? String == "" && shown["bio"] as? String == "")
            let none = try await database.withOwner { connection in try await social.moderate(profile: UUID(), remove: false, on: connection) }
            #expect(none == nil)
        }
    }

    @Test func reportArgumentsAndLimit() async throws {
        try await TestDatabase.withDatabase { database in
            let social = SocialService(database: database)
            var registry = RPCRegistry()
            registry.register(social.rpcFunctions)
            let alice = try await SocialFixture.user(database, "alice_l"), target = try await SocialFixture.user(database, "target_l")
            func call(_ arguments: [String: Any]) async -> APIError? {
                do {
                    let data = try JSONSerialization.data(withJSONObject: arguments)
                    _ = try await registry.call(RPCCall(name: "report_profile", arguments: data, caller: alice))
                    return nil
                } catch let error as APIError {
                    return error
                } catch {
                    return APIError(status: .internalServerError, code: "?", message: "\(error)")
                }
            }
            let id = target.userID!.uuidString
            for (arguments, field) in [
                (["user_id": id, "reason": "meh"], "reason"), (["user_id": id, "reason": "spam", "details": String(repeating: "x", count: 1001)], "details"),
                (["user_id": "x", "reason": "spam"], "user_id"),
            ] as [([String: Any], String)] {
                let error = await call(arguments)
                #expect(error?.status == .badRequest && error?.message.contains(field) == true, "\(arguments): \(String(describing: error))")
            }
            for _ in 0..<20 { #expect(await call(["user_id": id, "reason": "spam"]) == nil) }
            #expect(await call(["user_id": id, "reason": "spam"])?.status == .tooManyRequests)
        }
    }
}
