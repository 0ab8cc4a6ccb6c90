@testable import Auth
import Core
import Database
import Foundation
import Testing
import TestSupport

/// Issue 11 item 7: metadata size and ownership, voided codes keep the cooldown, lookups
/// count against the per-address cap, phone changes do not reveal taken numbers.
@Suite struct AuthHardeningTests {
    func metadata(_ database: Database, _ phone: String) async throws -> String? {
        try await database.withOwner { connection in
            try await connection.scalarText("SELECT user_metadata::text FROM auth.users WHERE phone = $1", [phone])
        }
    }

    @Test func otpDataIsAppliedOnlyWhenTheNumberIsVerified() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings(), sender: sender)
            let phone = AuthFixture.phone()
            try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: .object(["nick": .string("ann")]), clientAddress: "10.2.0.1")
            #expect(try await metadata(database, phone) == "{}")
            let code = try #require(sender.lastCode(for: phone))
            let userID = try await auth.otp.verify(phone: phone, code: code, purpose: .signIn)
            let session = try await auth.sessions.signIn(userID: userID, userAgent: "t", clientAddress: "10.2.0.1")
            #expect(session.user.user_metadata == .object(["nick": .string("ann")]))
        }
    }

    @Test func aStrangersDataIsReplacedWhenTheOwnerSignsIn() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings { $0.smsMaxFrequencySeconds = 0 }, sender: sender)
            let phone = AuthFixture.phone()
            try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: .object(["junk": .string("x")]), clientAddress: "10.2.0.2")
            // Earlier versions wrote the data straight to the unconfirmed user.
            try await database.withOwner { connection in
                try await connection.execute("UPDATE auth.users SET user_metadata = '{\"junk\":\"x\"}' WHERE phone = $1", [phone])
            }
            try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.2.0.3")
            let code = try #require(sender.lastCode(for: phone))
            _ = try await auth.otp.verify(phone: phone, code: code, purpose: .signIn)
            #expect(try await metadata(database, phone) == "{}")
            // Once confirmed, /otp data is ignored (GoTrue does not touch existing users).
            try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: .object(["late": .bool(true)]), clientAddress: "10.2.0.3")
            _ = try await auth.otp.verify(phone: phone, code: try #require(sender.lastCode(for: phone)), purpose: .signIn)
            #expect(try await metadata(database, phone) == "{}")
        }
    }

    @Test func metadataOverTheLimitIsRefusedNamingTheField() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings { $0.userMetadataMaxBytes = 64 }, sender: sender)
            let session = try await AuthFixture.signIn(auth, sender)
            let caller = try await auth.tokens.caller(fromToken: session.access_token)
            _ = try await auth.updateUser(caller, data: ["a": .string(String(repeating: "x", count: 40))], phone: nil, clientAddress: "x")
            let error = try await #require(throws: APIError.self) {
                try await auth.updateUser(caller, data: ["b": .string(String(repeating: "y", count: 40))], phone: nil, clientAddress: "x")
            }
            #expect(error.field == "data")
            #expect(error.status == .badRequest)
            #expect(error.message.contains("at most 64 bytes"))
            // Deleting a key to get under the limit works.
            let user = try await auth.updateUser(caller, data: ["a": .null, "b": .string("y")], phone: nil, clientAddress: "x")
            #expect(user.userMetadata == .object(["b": .string("y")]))
        }
    }

    @Test func aVoidedCodeKeepsTheResendCooldown() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings(), sender: sender)
            let phone = AuthFixture.phone()
            try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.2.0.4")
            let code = try #require(sender.lastCode(for: phone))
            let wrong = code == "000000" ? "111111" : "000000"
            for _ in 0..<6 {
                await #expect(throws: AuthErrors.otpExpired) { try await auth.otp.verify(phone: phone, code: wrong, purpose: .signIn) }
            }
            let error = try await #require(throws: APIError.self) {
                try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.2.0.4")
            }
            #expect(error.code == "over_sms_send_rate_limit")
            // Expired codes too.
            let other = AuthFixture.phone()
            try await auth.otp.requestSignInCode(phone: other, createUser: true, metadata: nil, clientAddress: "10.2.0.4")
            try await database.withOwner { connection in
                try await connection.execute("UPDATE auth.one_time_codes SET expires_at = now() - interval '1 second' WHERE phone = $1", [other])
            }
            await #expect(throws: AuthErrors.otpExpired) {
                try await auth.otp.verify(phone: other, code: try #require(sender.lastCode(for: other)), purpose: .signIn)
            }
            let again = try await #require(throws: APIError.self) {
                try await auth.otp.requestSignInCode(phone: other, createUser: true, metadata: nil, clientAddress: "10.2.0.4")
            }
            #expect(again.code == "over_sms_send_rate_limit")
        }
    }

    @Test func lookupsWithoutSignupCountAgainstTheAddressCap() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings { $0.otpMaxPerAddressPerHour = 3 }, sender: sender)
            for _ in 0..<3 {
                await #expect(throws: AuthErrors.otpDisabled) {
                    try await auth.otp.requestSignInCode(phone: AuthFixture.phone(), createUser: false, metadata: nil, clientAddress: "10.2.0.5")
                }
            }
            let error = try await #require(throws: APIError.self) {
                try await auth.otp.requestSignInCode(phone: AuthFixture.phone(), createUser: false, metadata: nil, clientAddress: "10.2.0.5")
            }
            #expect(error.code == "over_request_rate_limit")
            #expect(error.status == .tooManyRequests)
            // A lookup does not use up the number's own hourly quota.
            let phone = AuthFixture.phone()
            await #expect(throws: AuthErrors.otpDisabled) {
                try await auth.otp.requestSignInCode(phone: phone, createUser: false, metadata: nil, clientAddress: "10.2.0.6")
            }
            let counted = try await database.withOwner { connection in
                try await connection.scalarText("SELECT count(*)::text FROM auth.otp_requests WHERE phone = $1 AND code_sent", [phone])
            }
            #expect(counted == "0")
        }
    }
}
