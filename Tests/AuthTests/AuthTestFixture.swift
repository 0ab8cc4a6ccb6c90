@testable import Auth
import Core
import Database
import Foundation
import NIOConcurrencyHelpers
import TestSupport

/// Captures delivered codes instead of sending them (the test double of an SMS gateway).
final class CapturingSender: OTPSender {
    let sent = NIOLockedValueBox<[(phone: String, code: String)]>([])
    let failing: Bool

    init(failing: Bool = false) {
        self.failing = failing
    }

    func send(code: String, to phone: String, userID: UUID) async throws {
        if failing { throw OTPDeliveryError("gateway down") }
        sent.withLockedValue { $0.append((phone, code)) }
    }

    func lastCode(for phone: String) -> String? {
        sent.withLockedValue { $0.last(where: { $0.phone == phone })?.code }
    }
}

enum AuthFixture {
    static func settings(_ change: (inout AuthSettings) -> Void = { _ in }) -> AuthSettings {
        var settings = AuthSettings()
        settings.smsMaxFrequencySeconds = 60
        settings.refreshTokenReuseIntervalSeconds = 10
        change(&settings)
        return settings
    }

    /// A phone number no other test uses.
    static func phone() -> String {
        TestPhone.unique()
    }

    /// Signs a new user in and returns the session.
    static func signIn(_ auth: AuthService, _ sender: CapturingSender, phone: String = phone()) async throws -> SessionJSON {
        try await auth.otp.requestSignInCode(phone: phone, createUser: true, metadata: nil, clientAddress: "127.0.0.1")
        let code = try require(sender.lastCode(for: phone))
        let userID = try await auth.otp.verify(phone: phone, code: code, purpose: .signIn)
        return try await auth.sessions.signIn(userID: userID, userAgent: "tests", clientAddress: "127.0.0.1")
    }
}

private func require<T>(_ value: T?) throws -> T {
    guard let value else { throw APIError(status: .internalServerError, code: "test", message: "missing value") }
    return value
}
