@testable import Auth
import Core
import Database
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// Issue 12: sign-in and refresh run as one SQL function call each (migration 0009). These
/// pin the rules that moved into SQL, through the path `POST /verify` and `POST /token` use.
@Suite struct SignInInOneCallTests {
    func service(_ database: Database, reuse: Int = 10, testOTPs: [String: String] = [:]) async throws -> (AuthService, CapturingSender) {
        let sender = CapturingSender()
        let settings = AuthFixture.settings {
            $0.refreshTokenReuseIntervalSeconds = reuse
            $0.testOTPs = testOTPs
        }
        return (try await AuthService.load(database: database, settings: settings, sender: sender), sender)
    }

    /// `POST /verify` as the controller runs it.
    func verify(_ auth: AuthService, _ phone: String, _ code: String) async throws -> SessionJSON {
        try await auth.sessions.signIn(with: auth.otp.presented(phone: phone, code: code, purpose: .signIn), userAgent: "t", clientAddress: "10.9.0.1")
    }

    func requestCode(_ auth: AuthService, _ sender: CapturingSender, _ phone: String) async throws -> String {
        try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.9.0.1")
        return try #require(sender.lastCode(for: phone))
    }

    func scalar(_ database: Database, _ sql: String, _ values: [(any PostgresEncodable & Sendable)?] = []) async throws -> String? {
        try await database.withOwner { connection in try await connection.scalarText(sql, values) }
    }

    @Test func verifySignsInOnceAndConsumesTheCode() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let phone = AuthFixture.phone()
            let code = try await requestCode(auth, sender, phone)
            let session = try await verify(auth, phone, code)
            #expect(session.user.phone == phone)
            #expect(session.user.phone_confirmed_at != nil && session.user.last_sign_in_at != nil)
            let caller = try await auth.tokens.caller(fromToken: session.access_token)
            #expect(caller.userID?.uuidString.lowercased() == session.user.id)
            await #expect(throws: AuthErrors.otpExpired) { try await verify(auth, phone, code) }
            // The refresh token handed out is the one stored (as its hash) for the new session.
            let refreshed = try await auth.sessions.refresh(session.refresh_token)
            #expect(try await auth.tokens.caller(fromToken: refreshed.access_token).sessionID == caller.sessionID)
        }
    }

    @Test func wrongGuessesCountAndVoidTheCode() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let phone = AuthFixture.phone()
            let code = try await requestCode(auth, sender, phone)
            let wrong = code == "000000" ? "111111" : "000000"
            for attempt in 1...5 {
                await #expect(throws: AuthErrors.otpExpired) { try await verify(auth, phone, wrong) }
                // Each wrong guess is committed although the request fails.
                #expect(try await scalar(database, "SELECT attempts::text FROM auth.one_time_codes WHERE phone = $1", [phone]) == String(attempt))
            }
            await #expect(throws: AuthErrors.otpExpired) { try await verify(auth, phone, code) }
            // A void code is neither counted further nor deleted (its sent_at keeps the cooldown).
            #expect(try await scalar(database, "SELECT attempts::text FROM auth.one_time_codes WHERE phone = $1", [phone]) == "5")
            #expect(try await scalar(database, "SELECT count(*)::text FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id WHERE u.phone = $1", [phone]) == "0")
        }
    }

    @Test func expiredCodeIsRefusedAndKept() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let phone = AuthFixture.phone()
            let code = try await requestCode(auth, sender, phone)
            try await database.withOwner { connection in
                try await connection.execute("UPDATE auth.one_time_codes SET expires_at = now() - interval '1 second' WHERE phone = $1", [phone])
            }
            await #expect(throws: AuthErrors.otpExpired) { try await verify(auth, phone, code) }
            #expect(try await scalar(database, "SELECT attempts::text FROM auth.one_time_codes WHERE phone = $1", [phone]) == "0")
        }
    }

    @Test func aCodeOfAnotherPurposeOrNumberIsRefused() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let phone = AuthFixture.phone()
            let code = try await requestCode(auth, sender, phone)
            await #expect(throws: AuthErrors.otpExpired) { try await verify(auth, AuthFixture.phone(), code) }
            await #expect(throws: AuthErrors.otpExpired) { try await auth.otp.verify(phone: phone, code: code, purpose: .phoneChange) }
            _ = try await verify(auth, phone, code)
        }
    }

    @Test func aBannedUserUsesUpTheCodeButGetsNoSession() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let phone = AuthFixture.phone()
            let code = try await requestCode(auth, sender, phone)
            try await database.withOwner { connection in
                try await connection.execute("UPDATE auth.users SET banned_until = now() + interval '1 day' WHERE phone = $1", [phone])
            }
            await #expect(throws: AuthErrors.userBanned) { try await verify(auth, phone, code) }
            // As when the code check and the session were two transactions: the code is
            // consumed and the number confirmed, but no session starts and no sign-in is recorded.
            #expect(try await scalar(database, "SELECT count(*)::text FROM auth.one_time_codes WHERE phone = $1", [phone]) == "0")
            #expect(try await scalar(database, "SELECT (phone_confirmed_at IS NOT NULL AND last_sign_in_at IS NULL)::text FROM auth.users WHERE phone = $1", [phone]) == "true")
            #expect(try await scalar(database, "SELECT count(*)::text FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id WHERE u.phone = $1", [phone]) == "0")
        }
    }

    @Test func aTestNumbersFixedCodeSignsInWheneverTheUserExists() async throws {
        try await TestDatabase.withDatabase { database in
            let phone = AuthFixture.phone()
            let (auth, sender) = try await service(database, testOTPs: [phone: "424242"])
            await #expect(throws: AuthErrors.otpExpired) { try await verify(auth, phone, "424242") }
            try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.9.0.1")
            #expect(sender.lastCode(for: phone) == nil)
            let first = try await verify(auth, phone, "424242")
            let second = try await verify(auth, phone, "424242")
            #expect(first.user.id == second.user.id)
            await #expect(throws: AuthErrors.otpExpired) { try await verify(auth, phone, "424243") }
        }
    }

    @Test func refreshOfABannedUserIsRefusedAndWritesNothing() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let phone = AuthFixture.phone()
            let session = try await AuthFixture.signIn(auth, sender, phone: phone)
            try await database.withOwner { connection in
                try await connection.execute("UPDATE auth.users SET banned_until = now() + interval '1 day' WHERE phone = $1", [phone])
            }
            await #expect(throws: AuthErrors.userBanned) { try await auth.sessions.refresh(session.refresh_token) }
            #expect(try await scalar(database, "SELECT count(*)::text FROM auth.refresh_tokens t JOIN auth.users u ON u.id = t.user_id WHERE u.phone = $1 AND NOT t.revoked", [phone]) == "1")
            try await database.withOwner { connection in
                try await connection.execute("UPDATE auth.users SET banned_until = now() - interval '1 second' WHERE phone = $1", [phone])
            }
            _ = try await auth.sessions.refresh(session.refresh_token)
        }
    }

    @Test func reuseDetectionRevokesEveryTokenAndTheSession() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database, reuse: 0)
            let first = try await AuthFixture.signIn(auth, sender)
            let second = try await auth.sessions.refresh(first.refresh_token)
            // The parent of the active token gets the active token back and writes nothing.
            #expect(try await auth.sessions.refresh(first.refresh_token).refresh_token == second.refresh_token)
            let third = try await auth.sessions.refresh(second.refresh_token)
            await #expect(throws: AuthErrors.refreshAlreadyUsed) { try await auth.sessions.refresh(first.refresh_token) }
            // Committed although that request failed: the family and the session are revoked.
            let sessionID = try #require(try await auth.tokens.caller(fromToken: third.access_token).sessionID)
            #expect(try await scalar(database, "SELECT count(*)::text FROM auth.refresh_tokens WHERE session_id = $1 AND NOT revoked", [sessionID]) == "0")
            #expect(try await scalar(database, "SELECT (revoked_at IS NOT NULL)::text FROM auth.sessions WHERE id = $1", [sessionID]) == "true")
            await #expect(throws: AuthErrors.refreshAlreadyUsed) { try await auth.sessions.refresh(third.refresh_token) }
        }
    }

    @Test func aLoggedOutSessionsTokenIsNotFound() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let session = try await AuthFixture.signIn(auth, sender)
            let caller = try await auth.tokens.caller(fromToken: session.access_token)
            try await auth.sessions.logout(userID: try #require(caller.userID), sessionID: caller.sessionID, scope: "local")
            await #expect(throws: AuthErrors.refreshNotFound) { try await auth.sessions.refresh(session.refresh_token) }
        }
    }

    @Test func requestRolesCannotCallTheSignInFunctions() async throws {
        try await TestDatabase.withDatabase { database in
            let functions = [
                "auth.consume_code(text, text, text, boolean, integer)",
                "auth.start_session(uuid, text, text, bigint, text)",
                "auth.sign_in_with_code(text, text, boolean, integer, text, text, bigint, text)",
                "auth.refresh_session(text, integer, bigint, text)",
            ]
            for function in functions {
                for role in ["anon", "authenticated", "service_role", "public"] {
                    let allowed = try await scalar(
                        database, "SELECT has_function_privilege(\(role == "public" ? "'public'" : "$1"), '\(function)', 'EXECUTE')::text",
                        role == "public" ? [] : [role])
                    #expect(allowed == "false", "\(role) may execute \(function)")
                }
            }
        }
    }

    @Test func tokenIDsAreReservedAheadAndNeverRepeat() async throws {
        try await TestDatabase.withDatabase { database in
            let ids = RefreshTokenIDs(database: database)
            var seen = Set<Int64>()
            for _ in 0..<(RefreshTokenIDs.blockSize * 2 + 3) {
                let id = try await ids.next()
                #expect(seen.insert(id).inserted)
            }
            let other = RefreshTokenIDs(database: database)
            let fromAnotherInstance = try await other.next()
            #expect(!seen.contains(fromAnotherInstance))
        }
    }

    @Test func theSessionWriterWritesWhatTheSharedEncoderWrites() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            var session = try await AuthFixture.signIn(auth, sender)
            session.user.user_metadata = .object([
                "nick": .string("Ann \"the\" \\ / 😀\u{1}\n"), "n": .number(42), "pi": .number(3.25), "big": .number(1e20),
                "list": .array([.null, .bool(true), .object(["b": .number(-1), "a": .string("")])]),
            ])
            session.user.banned_until = Date(timeIntervalSince1970: 1_767_225_600.999_999_7)
            session.user.new_phone = "15550000000"
            let written = try JSONValue.parse(String(decoding: SessionWriter.session(session), as: UTF8.self))
            let encoded = try JSONValue.parse(String(decoding: try JSONBody.encoder.encode(session), as: UTF8.self))
            #expect(written == encoded)
        }
    }

    @Test(arguments: [
        0.0, 1.5, 86_399.999_999_6, 951_782_400.25, 1_709_164_800.000_001, 1_767_225_599.999_999, 4_102_444_800.5, -1.25, -86_400.0,
        253_402_300_799.0,
    ])
    func timestampsMatchTheSharedFormat(_ seconds: Double) throws {
        let date = Date(timeIntervalSince1970: seconds)
        var session = SessionJSON(
            access_token: "", token_type: "bearer", expires_in: 0, expires_at: 0, refresh_token: "",
            user: UserJSON(
                id: "", aud: "", role: "", email: "", phone: "", app_metadata: .object([:]), user_metadata: .object([:]),
                identities: [], created_at: date, updated_at: date, is_anonymous: false))
        session.user.last_sign_in_at = date
        let written = String(decoding: SessionWriter.session(session), as: UTF8.self)
        #expect(written.contains("\"created_at\":\"\(Timestamp.format(date))\""))
    }

    @Test func accessTokensCarryTheClaimsJWTKitWouldWrite() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let session = try await AuthFixture.signIn(auth, sender)
            let parts = session.access_token.split(separator: ".").map(String.init)
            #expect(parts.count == 3)
            let header = try JSONValue.parse(String(decoding: try #require(Base64URL.decode(parts[0])), as: UTF8.self))
            #expect(header == .object(["alg": .string("ES256"), "kid": .string(auth.tokens.keyID), "typ": .string("JWT")]))
            let payload = try JSONValue.parse(String(decoding: try #require(Base64URL.decode(parts[1])), as: UTF8.self))
            let caller = try await auth.tokens.caller(fromToken: session.access_token)
            let claims = try JSONValue.parse(caller.claimsJSON)
            #expect(payload == claims)
            let members = try #require(payload.objectValue)
            #expect(Set(members.keys) == [
                "aal", "amr", "app_metadata", "aud", "email", "exp", "iat", "is_anonymous", "iss", "phone", "role", "session_id", "sub",
                "user_metadata",
            ])
            #expect(members["sub"] == .string(session.user.id))
            // A token signed by JWTKit with the same claims is read back the same.
            let decoded = try JSONDecoder().decode(AccessTokenClaims.self, from: try #require(Base64URL.decode(parts[1])))
            let viaJWTKit = try await auth.tokens.keys.sign(decoded, kid: .init(string: auth.tokens.keyID))
            let reread = try await auth.tokens.caller(fromToken: viaJWTKit)
            #expect(try JSONValue.parse(reread.claimsJSON) == payload)
        }
    }

    @Test func base64URLMatchesFoundationsBase64() throws {
        for length in 0..<70 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ length) }
            let expected = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            let encoded = Base64URL.encode(bytes)
            #expect(encoded == expected)
            #expect(Base64URL.decode(encoded) == Data(bytes))
        }
        #expect(Base64URL.decode("not base64!") == nil)
    }

    @Test func theDefaultMetadataTextsReadAsTheDecoderReadsThem() async throws {
        try await TestDatabase.withDatabase { database in
            let (auth, sender) = try await service(database)
            let session = try await AuthFixture.signIn(auth, sender)
            let stored = try #require(try await scalar(database, "SELECT app_metadata::text FROM auth.users WHERE id = $1::uuid", [session.user.id]))
            #expect(try JSONValue.parse(stored) == session.user.app_metadata)
            #expect(session.user.app_metadata == .object(["provider": .string("phone"), "providers": .array([.string("phone")])]))
            #expect(session.user.user_metadata == .object([:]))
        }
    }
}
