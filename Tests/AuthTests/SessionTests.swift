@testable import Auth
import Core
import Database
import Foundation
import Testing
import TestSupport

@Suite struct SessionTests {
    func service(_ database: Database, reuse: Int = 10) async throws -> (AuthService, CapturingSender) {
        let sender = CapturingSender()
        let auth = try await AuthService.load(
            database: database, settings: AuthFixture.settings { $0.refreshTokenReuseIntervalSeconds = reuse }, sender: sender)
        return (auth, sender)
    }

    @Test func accessTokenCarriesGoTrueClaimsAndVerifies() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let session = try await AuthFixture.signIn(auth, sender)
            let caller = try await auth.tokens.caller(fromToken: session.access_token)
            #expect(caller.role == .authenticated)
            #expect(caller.userID?.uuidString.lowercased() == session.user.id)
            let claims = try JSONValue.parse(caller.claimsJSON).objectValue ?? [:]
            #expect(claims["aud"] == .string("authenticated"))
            #expect(claims["aal"] == .string("aal1"))
            #expect(claims["role"] == .string("authenticated"))
            #expect(claims["is_anonymous"] == .bool(false))
            if case .array(let amr) = claims["amr"], case .object(let first) = amr.first {
                #expect(first["method"] == .string("otp"))
            } else {
                Issue.record("amr must be a list of objects")
            }
            #expect(session.expires_in > 3500 && session.expires_in <= 3600)
        }
    }

    @Test func tamperedOrForeignTokensAreRefused() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let session = try await AuthFixture.signIn(auth, sender)
            var parts = session.access_token.split(separator: ".").map(String.init)
            parts[1] = Data(#"{"sub":"00000000-0000-0000-0000-000000000000","role":"service_role","exp":9999999999}"#.utf8)
                .base64EncodedString().replacingOccurrences(of: "=", with: "")
            await #expect(throws: TokenError.invalid) { try await auth.tokens.caller(fromToken: parts.joined(separator: ".")) }
            await #expect(throws: TokenError.invalid) { try await auth.tokens.caller(fromToken: "not.a.jwt") }
        }
    }

    @Test func everyInstanceOnTheDatabaseSharesKeys() async throws {
        try await TestDatabase.withDatabase { database in
            let (first, sender) = try await service(database)
            let (second, _) = try await service(database)
            #expect(first.tokens.anonKey == second.tokens.anonKey)
            #expect(first.tokens.keyID == second.tokens.keyID)
            let session = try await AuthFixture.signIn(first, sender)
            _ = try await second.tokens.caller(fromToken: session.access_token)
        }
    }

    @Test func refreshRotatesAndKeepsTheSession() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let first = try await AuthFixture.signIn(auth, sender)
            let second = try await auth.sessions.refresh(first.refresh_token)
            #expect(second.refresh_token != first.refresh_token)
            let a = try await auth.tokens.caller(fromToken: first.access_token)
            let b = try await auth.tokens.caller(fromToken: second.access_token)
            #expect(a.sessionID == b.sessionID)
            // The parent of the active token gets the active token back (lost response).
            let again = try await auth.sessions.refresh(first.refresh_token)
            #expect(again.refresh_token == second.refresh_token)
        }
    }

    @Test func reuseOutsideTheWindowRevokesTheWholeSession() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database, reuse: 0)
            let first = try await AuthFixture.signIn(auth, sender)
            let second = try await auth.sessions.refresh(first.refresh_token)
            let third = try await auth.sessions.refresh(second.refresh_token)
            // `first` is neither active nor the active token's parent.
            await #expect(throws: AuthErrors.refreshAlreadyUsed) { try await auth.sessions.refresh(first.refresh_token) }
            await #expect(throws: AuthErrors.refreshAlreadyUsed) { try await auth.sessions.refresh(third.refresh_token) }
            let caller = try await auth.tokens.caller(fromToken: third.access_token)
            await #expect(throws: AuthErrors.sessionNotFound) { try await auth.currentUser(caller) }
        }
    }

    @Test func reuseInsideTheWindowIsTolerated() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database, reuse: 30)
            let first = try await AuthFixture.signIn(auth, sender)
            let second = try await auth.sessions.refresh(first.refresh_token)
            _ = try await auth.sessions.refresh(second.refresh_token)
            let late = try await auth.sessions.refresh(first.refresh_token)
            _ = try await auth.sessions.refresh(late.refresh_token)
        }
    }

    @Test func unknownRefreshTokenIsNotFound() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, _) = try await service(database)
            await #expect(throws: AuthErrors.refreshNotFound) { try await auth.sessions.refresh("does-not-exist") }
        }
    }

    @Test func concurrentRefreshesOfOneTokenAllSucceed() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database, reuse: 10)
            let first = try await AuthFixture.signIn(auth, sender)
            try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<5 { group.addTask { try await auth.sessions.refresh(first.refresh_token).refresh_token } }
                var results: [String] = []
                for try await token in group { results.append(token) }
                // Every caller got the one active token: the family did not fork.
                #expect(results.count == 5)
                #expect(Set(results).count == 1)
            }
            let active = try await database.withOwner { connection in
                try await connection.scalarText("SELECT count(*)::text FROM auth.refresh_tokens WHERE NOT revoked", [])
            }
            #expect(active == "1")
        }
    }

    @Test func logoutScopes() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let phone = AuthFixture.phone()
            let a = try await AuthFixture.signIn(auth, sender, phone: phone)
            try await database.withOwner { connection in
                try await connection.execute("UPDATE auth.one_time_codes SET sent_at = now() - interval '1 hour'", [])
                try await connection.execute("DELETE FROM auth.otp_requests", [])
            }
            let b = try await AuthFixture.signIn(auth, sender, phone: phone)
            let callerA = try await auth.tokens.caller(fromToken: a.access_token)
            let callerB = try await auth.tokens.caller(fromToken: b.access_token)
            let userID = try #require(callerA.userID)
            #expect(try await auth.sessions.list(userID: userID, current: callerA.sessionID).count == 2)

            try await auth.sessions.logout(userID: userID, sessionID: callerA.sessionID, scope: "others")
            _ = try await auth.currentUser(callerA)
            await #expect(throws: AuthErrors.sessionNotFound) { try await auth.currentUser(callerB) }
            await #expect(throws: APIError.self) { try await auth.sessions.refresh(b.refresh_token) }

            try await auth.sessions.logout(userID: userID, sessionID: callerA.sessionID, scope: "local")
            await #expect(throws: AuthErrors.sessionNotFound) { try await auth.currentUser(callerA) }
            await #expect(throws: AuthErrors.refreshNotFound) { try await auth.sessions.refresh(a.refresh_token) }
        }
    }

    @Test func metadataMergesAndNullDeletes() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let session = try await AuthFixture.signIn(auth, sender)
            let caller = try await auth.tokens.caller(fromToken: session.access_token)
            _ = try await auth.updateUser(caller, data: ["nick": .string("bob"), "tmp": .number(1)], phone: nil, clientAddress: "x")
            let user = try await auth.updateUser(caller, data: ["tmp": .null], phone: nil, clientAddress: "x")
            #expect(user.userMetadata == .object(["nick": .string("bob")]))
        }
    }

    @Test func phoneChangeNeedsTheCodeSentToTheNewNumber() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let session = try await AuthFixture.signIn(auth, sender)
            let caller = try await auth.tokens.caller(fromToken: session.access_token)
            let newPhone = AuthFixture.phone()
            let pending = try await auth.updateUser(caller, data: nil, phone: "+" + newPhone, clientAddress: "x")
            #expect(pending.newPhone == newPhone)
            let code = try #require(sender.lastCode(for: newPhone))
            let changed = try await auth.confirmPhoneChange(phone: newPhone, code: code, userAgent: "t", clientAddress: "x")
            #expect(changed.user.phone == newPhone)
        }
    }

    @Test func phoneOfAnotherUserCannotBeTaken() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let first = try await AuthFixture.signIn(auth, sender)
            let second = try await AuthFixture.signIn(auth, sender)
            let caller = try await auth.tokens.caller(fromToken: second.access_token)
            let ownersCode = sender.lastCode(for: first.user.phone)
            // Asking answers like a free number (no enumeration), cooldown included...
            let pending = try await auth.updateUser(caller, data: nil, phone: first.user.phone, clientAddress: "x")
            #expect(pending.newPhone == first.user.phone && pending.phoneChangeSentAt != nil)
            let cooldown = try await #require(throws: APIError.self) {
                try await auth.updateUser(caller, data: nil, phone: first.user.phone, clientAddress: "x")
            }
            #expect(cooldown.status == .tooManyRequests && cooldown.code == "over_sms_send_rate_limit")
            // ...but the owner gets no SMS from a stranger, so the change can never be confirmed.
            #expect(sender.lastCode(for: first.user.phone) == ownersCode)
        }
    }
}

extension APIError {
    static func ~= (pattern: APIError, value: any Error) -> Bool {
        (value as? APIError) == pattern
    }
}

@Suite struct PhoneChangeTests {
    @Test func codeForAReplacedPendingNumberIsExpired() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings(), sender: sender)
            let session = try await AuthFixture.signIn(auth, sender)
            let caller = try await auth.tokens.caller(fromToken: session.access_token)
            let first = AuthFixture.phone(), second = AuthFixture.phone()
            _ = try await auth.updateUser(caller, data: nil, phone: first, clientAddress: "x")
            _ = try await auth.updateUser(caller, data: nil, phone: second, clientAddress: "x")
            let code = try #require(sender.lastCode(for: first))
            await #expect(throws: AuthErrors.otpExpired) {
                try await auth.confirmPhoneChange(phone: first, code: code, userAgent: "t", clientAddress: "x")
            }
        }
    }
}
