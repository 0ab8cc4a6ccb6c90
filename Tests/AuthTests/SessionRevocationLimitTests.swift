@testable import Auth
import Core
import Database
import Foundation
import Testing
import TestSupport

/// Issue 11, item 10: signing devices out is a call a client can repeat, so it has a per-user limit.
@Suite struct SessionRevocationLimitTests {
    @Test func revokingSessionsIsLimitedPerUser() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings { _ in }, sender: sender)
            var registry = RPCRegistry()
            registry.register(auth.rpcFunctions)
            let session = try await AuthFixture.signIn(auth, sender)
            let caller = try await auth.tokens.caller(fromToken: session.access_token)
            func revokeUnknown() async throws {
                let arguments = Data(#"{"session_id":"\#(UUID().uuidString)"}"#.utf8)
                _ = try await registry.call(RPCCall(name: "revoke_my_session", arguments: arguments, caller: caller))
            }
            // Unknown sessions answer 404 but still count, like every limited call (docs/api.md §1.8).
            for _ in 0..<AuthService.sessionRevocations.burst {
                let error = try await #require(throws: APIError.self) { try await revokeUnknown() }
                #expect(error.status == .notFound)
            }
            // On a busy machine the burst takes minutes and the bucket refills meanwhile: what
            // came back is taken first, so the next call meets an empty bucket.
            while (try? await AuthService.sessionRevocations.take(database, caller)) != nil {}
            let error = try await #require(throws: APIError.self) { try await revokeUnknown() }
            #expect(error.status == .tooManyRequests && error.code == "rate_limited")
            #expect(error.message.hasPrefix("You can sign out 60 devices an hour; retry in "))
        }
    }
}
