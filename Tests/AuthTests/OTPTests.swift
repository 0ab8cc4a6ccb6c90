@testable import Auth
import Core
import Database
import Foundation
import Testing
import TestSupport

@Suite struct OTPTests {
    @Test func codeSignsInOnceAndCreatesTheUser() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings(), sender: sender)
            let phone = AuthFixture.phone()
            try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.0.0.1")
            let code = try #require(sender.lastCode(for: phone))
            #expect(code.count == 6 && code.allSatisfy(\.isNumber))
            let userID = try await auth.otp.verify(phone: phone, code: code, purpose: .signIn)
            // Consumed: the same code does not work twice.
            await #expect(throws: AuthErrors.otpExpired) { try await auth.otp.verify(phone: phone, code: code, purpose: .signIn) }
            let session = try await auth.sessions.signIn(userID: userID, userAgent: "t", clientAddress: "10.0.0.1")
            #expect(session.user.phone == phone)
            #expect(session.user.phone_confirmed_at != nil)
            #expect(session.user.identities.first?.provider == "phone")
        }
    }

    @Test func codeIsStoredOnlyAsAKeyedHash() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings(), sender: sender)
            let phone = AuthFixture.phone()
            try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.0.0.1")
            let code = try #require(sender.lastCode(for: phone))
            let stored = try await database.withOwner { connection in
                try await connection.scalarText("SELECT code_hash FROM auth.one_time_codes WHERE phone = $1", [phone])
            }
            #expect(stored?.contains(code) == false)
            #expect(stored?.count == 64)
        }
    }

    @Test func fiveWrongGuessesVoidTheCode() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings(), sender: sender)
            let phone = AuthFixture.phone()
            try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.0.0.2")
            let code = try #require(sender.lastCode(for: phone))
            let wrong = code == "000000" ? "111111" : "000000"
            for _ in 0..<5 {
                await #expect(throws: AuthErrors.otpExpired) { try await auth.otp.verify(phone: phone, code: wrong, purpose: .signIn) }
            }
            // The right code no longer works after the attempts are used up.
            await #expect(throws: AuthErrors.otpExpired) { try await auth.otp.verify(phone: phone, code: code, purpose: .signIn) }
        }
    }

    @Test func expiredCodeIsRefused() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings(), sender: sender)
            let phone = AuthFixture.phone()
            try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.0.0.3")
            try await database.withOwner { connection in
                try await connection.execute("UPDATE auth.one_time_codes SET expires_at = now() - interval '1 second' WHERE phone = $1", [phone])
            }
            let code = try #require(sender.lastCode(for: phone))
            await #expect(throws: AuthErrors.otpExpired) { try await auth.otp.verify(phone: phone, code: code, purpose: .signIn) }
        }
    }

    @Test func resendWithinCooldownIsRateLimitedWithRetryAfter() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings(), sender: sender)
            let phone = AuthFixture.phone()
            try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.0.0.4")
            let error = try await #require(throws: APIError.self) {
                try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.0.0.4")
            }
            #expect(error.status == .tooManyRequests)
            #expect(error.code == "over_sms_send_rate_limit")
            #expect((1...60).contains(error.retryAfterSeconds ?? 0))
            #expect(sender.sent.withLockedValue { $0.count } == 1)
        }
    }

    @Test func perAddressLimitStopsSprayingNumbers() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(
                database: database, settings: AuthFixture.settings { $0.otpMaxPerAddressPerHour = 3 }, sender: sender)
            for _ in 0..<3 {
                try await auth.otp.requestSignInCode(phone: AuthFixture.phone(), createUser: true, metadata: nil, clientAddress: "10.9.9.9")
            }
            let error = try await #require(throws: APIError.self) {
                try await auth.otp.requestSignInCode(phone: AuthFixture.phone(), createUser: true, metadata: nil, clientAddress: "10.9.9.9")
            }
            #expect(error.code == "over_request_rate_limit")
            // Another address is unaffected.
            try await auth.otp.requestSignInCode(phone: AuthFixture.phone(), createUser: true, metadata: nil, clientAddress: "10.9.9.10")
        }
    }

    @Test func unknownNumberWithoutSignupIsOTPDisabled() async throws {
        try await TestDatabase.withDatabase { database in
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings(), sender: CapturingSender())
            await #expect(throws: AuthErrors.otpDisabled) {
                try await auth.otp.requestSignInCode(phone: AuthFixture.phone(), createUser: false, metadata: nil, clientAddress: "10.0.0.5")
            }
        }
    }

    @Test func deliveryFailureLeavesNoCooldownAndNoCode() async throws {
        try await TestDatabase.withDatabase { database in
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings(), sender: CapturingSender(failing: true))
            let phone = AuthFixture.phone()
            let error = try await #require(throws: APIError.self) {
                try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.0.0.6")
            }
            #expect(error.code == "sms_send_failed")
            #expect(error.status.code < 500)
            let pending = try await database.withOwner { connection in
                try await connection.exists("SELECT 1 FROM auth.one_time_codes WHERE phone = $1", [phone])
            }
            #expect(!pending)
        }
    }

    @Test func testNumbersUseTheirFixedCodeAndSendNothing() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let phone = AuthFixture.phone()
            let auth = try await AuthService.load(
                database: database, settings: AuthFixture.settings { $0.testOTPs = [phone: "424242"] }, sender: sender)
            try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.0.0.7")
            #expect(sender.sent.withLockedValue { $0.isEmpty })
            await #expect(throws: AuthErrors.otpExpired) { try await auth.otp.verify(phone: phone, code: "000000", purpose: .signIn) }
            _ = try await auth.otp.verify(phone: phone, code: "424242", purpose: .signIn)
        }
    }

    @Test func webhookSignatureFollowsStandardWebhooks() {
        // Known vector: HMAC-SHA256 over "<id>.<timestamp>.<body>" with the decoded whsec_ secret.
        let secret = WebhookOTPSender.decodeSecret("v1,whsec_" + Data("0123456789abcdef".utf8).base64EncodedString())
        #expect(secret == Array("0123456789abcdef".utf8))
        let signature = WebhookOTPSender.signature(id: "msg_1", timestamp: 1_700_000_000, body: Data("{}".utf8), secret: secret)
        #expect(signature == "v1,3uojc/2kvL+KpJkw4ZNrA/5YjEs9cdfKdc3lXIvRjkk=")
    }
}

@Suite struct TestNumberLimitTests {
    @Test func testNumbersKeepTheCooldownButNotTheHourlyCaps() async throws {
        try await TestDatabase.withDatabase { database in
            let phone = AuthFixture.phone()
            let settings = AuthFixture.settings {
                $0.testOTPs = [phone: "135790"]
                $0.smsMaxFrequencySeconds = 0
                $0.otpMaxPerPhonePerHour = 1
                $0.otpMaxPerAddressPerHour = 1
            }
            let auth = try await AuthService.load(database: database, settings: settings, sender: CapturingSender())
            for _ in 0..<3 {
                try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.1.1.1")
            }
            // A real number from the same address still gets its first code…
            try await auth.otp.requestSignInCode(phone: AuthFixture.phone(), createUser: true, metadata: nil, clientAddress: "10.1.1.1")
            // …and the address cap applies to the next one.
            await #expect(throws: APIError.self) {
                try await auth.otp.requestSignInCode(phone: AuthFixture.phone(), createUser: true, metadata: nil, clientAddress: "10.1.1.1")
            }
        }
    }

    @Test func cooldownAppliesToTestNumbersToo() async throws {
        try await TestDatabase.withDatabase { database in
            let phone = AuthFixture.phone()
            let auth = try await AuthService.load(
                database: database, settings: AuthFixture.settings { $0.testOTPs = [phone: "135790"] }, sender: CapturingSender())
            try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.1.1.2")
            let error = try await #require(throws: APIError.self) {
                try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "10.1.1.2")
            }
            #expect(error.code == "over_sms_send_rate_limit")
        }
    }
}
