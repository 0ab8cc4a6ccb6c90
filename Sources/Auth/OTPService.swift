import Core
import Crypto
import Database
import Foundation
import PostgresNIO

/// One-time codes: issuing (with resend cooldown and per-phone / per-address limits),
/// delivering, and checking them (at most ``AuthSettings/otpMaxAttempts`` guesses).
///
/// Codes are kept only as an HMAC keyed with an instance secret. Requests for unknown and
/// known numbers answer the same, so the endpoint does not reveal who has an account.
struct OTPService: Sendable {
    enum Purpose: String, Sendable {
        case signIn = "sms"
        case phoneChange = "phone_change"
    }

    let database: Database
    let settings: AuthSettings
    /// The operators' switches; `signups` stops new accounts (existing users still sign in).
    let killSwitches: any KillSwitches
    let sender: any OTPSender
    let hashKey: SymmetricKey

    init(database: Database, settings: AuthSettings, sender: any OTPSender, hashKey: String, killSwitches: any KillSwitches = NoKillSwitches()) {
        self.killSwitches = killSwitches
        self.database = database
        self.settings = settings
        self.sender = sender
        self.hashKey = SymmetricKey(data: Data(hashKey.utf8))
    }

    /// Issues and delivers a sign-in code, creating the user on first request when allowed.
    ///
    /// `metadata` is not written to the user: it travels with the code of a number that is
    /// not yet confirmed and becomes `user_metadata` when that code is verified (so nobody can
    /// attach data to someone else's number). For a confirmed number it is ignored, as in GoTrue.
    /// An unknown number with sign-up not allowed still counts against the per-address cap.
    func requestSignInCode(phone: String, createUser: Bool, metadata: JSONValue?, clientAddress: String) async throws {
        let isTestNumber = settings.testOTPs[phone] != nil
        let signupRefused: Bool = try await database.withOwner { connection in
            if !isTestNumber {
                try await checkAddressLimit(clientAddress, connection)
            }
            var user = try await UserRecord.find(phone: phone, on: connection, database: database)
            if user == nil {
                guard createUser, settings.signupEnabled, !killSwitches.isEngaged(.signups) else {
                    if !isTestNumber {
                        // Committed although the request fails: the lookup used up one try.
                        try await connection.query(
                            "INSERT INTO auth.otp_requests (phone, client_address, code_sent) VALUES (\(phone), \(clientAddress), false)",
                            logger: database.logger)
                    }
                    return true
                }
                try await connection.query(
                    "INSERT INTO auth.users (phone) VALUES (\(phone)) ON CONFLICT (phone) DO NOTHING", logger: database.logger)
                user = try await UserRecord.find(phone: phone, on: connection, database: database)
            }
            guard let user else { throw AuthErrors.otpExpired }
            let pending = user.phoneConfirmedAt == nil ? metadata : nil
            try await issue(.signIn, phone: phone, userID: user.id, pendingMetadata: pending, clientAddress: clientAddress, connection)
            return false
        }
        if signupRefused { throw AuthErrors.otpDisabled }
    }

    /// Issues and delivers a code confirming a change of the user's phone to `newPhone`.
    ///
    /// A number that already belongs to another account goes through the same steps and
    /// answers the same (cooldown included), but no SMS is sent to it and it does not use up
    /// that number's hourly quota: a stranger must not be able to spam an account's owner or
    /// lock their sign-in out. The change could never be confirmed anyway (`phone_exists`).
    func requestPhoneChangeCode(userID: UUID, newPhone: String, clientAddress: String, on connection: PostgresConnection) async throws {
        try await checkAddressLimit(clientAddress, connection)
        let owner = try await UserRecord.find(phone: newPhone, on: connection, database: database)
        let taken = owner.map { $0.id != userID } ?? false
        try await issue(.phoneChange, phone: newPhone, userID: userID, pendingMetadata: nil, clientAddress: clientAddress, connection, deliver: !taken)
    }

    /// A code as presented to `POST /verify`, prepared for `auth.consume_code` (migration
    /// 0009), which applies the rules: the keyed hash to compare with the stored one, whether
    /// it is a test number's fixed code, and how many wrong guesses a code allows.
    struct PresentedCode: Sendable {
        var phone: String
        var purpose: Purpose
        var hash: String
        var fixedCodeMatched: Bool
        var maxAttempts: Int
    }

    /// Prepares a presented code. A test number's fixed code is recognised here, compared in
    /// constant time (test numbers accept it whenever the user exists, as in GoTrue).
    func presented(phone: String, code: String, purpose: Purpose) -> PresentedCode {
        let fixed = purpose == .signIn && settings.testOTPs[phone].map { constantTimeEqual($0, code) } == true
        return PresentedCode(
            phone: phone, purpose: purpose, hash: hash(code, phone: phone, purpose: purpose), fixedCodeMatched: fixed,
            maxAttempts: settings.otpMaxAttempts)
    }

    /// Checks a code (one statement, `auth.consume_code`). On success the code is consumed
    /// and the user id returned; a wrong code counts as an attempt (committed even though the
    /// request fails). A sign-in code that confirms the number for the first time also sets
    /// `user_metadata` to the `data` sent with that code (or `{}`), replacing anything an
    /// earlier request left there.
    ///
    /// A void code (expired, or out of attempts) is not deleted: its row keeps `sent_at`, so
    /// the resend cooldown still runs, and it is replaced by the next code issued.
    func verify(phone: String, code: String, purpose: Purpose) async throws -> UUID {
        let presented = presented(phone: phone, code: code, purpose: purpose)
        let userID: UUID? = try await database.withStatement { connection in
            let rows = try await connection.query("""
                SELECT auth.consume_code(\(presented.phone), \(presented.purpose.rawValue), \(presented.hash),
                    \(presented.fixedCodeMatched), \(presented.maxAttempts)::integer)
                """, logger: database.logger)
            var userID: UUID?
            for try await id in rows.decode(UUID?.self) { userID = id }
            return userID
        }
        guard let userID else { throw AuthErrors.otpExpired }
        return userID
    }

    private func issue(
        _ purpose: Purpose, phone: String, userID: UUID, pendingMetadata: JSONValue?, clientAddress: String, _ connection: PostgresConnection,
        deliver: Bool = true
    ) async throws {
        let rows = try await connection.query(
            "SELECT extract(epoch FROM now() - sent_at)::float8 FROM auth.one_time_codes WHERE phone = \(phone) AND purpose = \(purpose.rawValue)",
            logger: database.logger)
        for try await age in rows.decode(Double.self) where age < Double(settings.smsMaxFrequencySeconds) {
            throw AuthErrors.sendRate(after: Int((Double(settings.smsMaxFrequencySeconds) - age).rounded(.up)))
        }
        // Test numbers (configured for automated tests, never sent an SMS) keep the resend
        // cooldown, as in GoTrue, but not the hourly caps that protect the SMS budget.
        let isTestNumber = settings.testOTPs[phone] != nil
        let hourly = try await count(
            "SELECT count(*) FROM auth.otp_requests WHERE phone = $1 AND code_sent AND created_at > now() - interval '1 hour'", phone, connection)
        if !isTestNumber, hourly >= settings.otpMaxPerPhonePerHour {
            throw AuthErrors.sendRate(after: 3600)
        }
        let code = settings.testOTPs[phone] ?? Self.randomCode(length: settings.otpLength)
        let codeHash = hash(code, phone: phone, purpose: purpose)
        let expiry = settings.otpExpirySeconds
        let metadataText = pendingMetadata.map(\.jsonText)
        try await connection.query("""
            INSERT INTO auth.one_time_codes (phone, purpose, user_id, code_hash, attempts, sent_at, expires_at, pending_user_metadata)
            VALUES (\(phone), \(purpose.rawValue), \(userID), \(codeHash), 0, now(), now() + make_interval(secs => \(expiry)), \(metadataText)::jsonb)
            ON CONFLICT (phone, purpose) DO UPDATE SET user_id = EXCLUDED.user_id, code_hash = EXCLUDED.code_hash,
                attempts = 0, sent_at = EXCLUDED.sent_at, expires_at = EXCLUDED.expires_at,
                pending_user_metadata = EXCLUDED.pending_user_metadata
            """, logger: database.logger)
        if !isTestNumber {
            try await connection.query(
                "INSERT INTO auth.otp_requests (phone, client_address, code_sent) VALUES (\(phone), \(clientAddress), \(deliver))",
                logger: database.logger)
        }
        let column = purpose == .signIn ? "confirmation_sent_at" : "phone_change_sent_at"
        try await connection.query(
            PostgresQuery(unsafeSQL: "UPDATE auth.users SET \(column) = now() WHERE id = $1", binds: { var b = PostgresBindings(); b.append(userID); return b }()),
            logger: database.logger)
        guard !isTestNumber, deliver else { return }
        do {
            try await sender.send(code: code, to: phone, userID: userID)
        } catch {
            // Rolls the transaction back: no cooldown starts for a code that never arrived.
            throw AuthErrors.smsSendFailed(String(describing: error))
        }
    }

    private func checkAddressLimit(_ clientAddress: String, _ connection: PostgresConnection) async throws {
        let recent = try await count(
            "SELECT count(*) FROM auth.otp_requests WHERE client_address = $1 AND created_at > now() - interval '1 hour'",
            clientAddress, connection)
        if recent >= settings.otpMaxPerAddressPerHour {
            throw AuthErrors.requestRate(after: 3600)
        }
    }

    private func count(_ sql: String, _ value: String, _ connection: PostgresConnection) async throws -> Int {
        var binds = PostgresBindings()
        binds.append(value)
        let rows = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: database.logger)
        for try await value in rows.decode(Int.self) { return value }
        return 0
    }

    /// HMAC-SHA256 of phone, purpose and code under the instance key, hex encoded.
    func hash(_ code: String, phone: String, purpose: Purpose) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(phone):\(purpose.rawValue):\(code)".utf8), using: hashKey)
        return Hex.lowercase(mac)
    }

    /// A uniformly random code of decimal digits.
    static func randomCode(length: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
    }
}

/// Compares two strings in time independent of where they differ.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for index in x.indices { difference |= x[index] ^ y[index] }
    return difference == 0
}
