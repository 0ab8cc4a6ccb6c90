@testable import App
import Auth
import Core
import Database
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import TestSupport

/// Builds the real application on a fresh database and runs `body` against its router.
enum AppHarness {
    static let testPhone = "15555550199"
    static let testCode = "246810"

    static func withApp(
        _ setup: TestingSetup = .router,
        _ change: @Sendable (inout AppConfig) -> Void = { _ in },
        _ body: @Sendable (any TestClientProtocol, AuthService) async throws -> Void
    ) async throws {
        try await TestDatabase.withDatabase { database in
            var config = AppConfig()
            config.port = 0
            config.auth.testOTPs = [testPhone: testCode]
            change(&config)
            var logger = Logger(label: "app-test")
            logger.logLevel = .warning
            let auth = try await AuthService.load(database: database, settings: config.auth, sender: LogOTPSender(logger: logger))
            let app = try buildApplication(config: config, database: database, auth: auth, logger: logger)
            try await app.test(setup) { client in
                try await body(client, auth)
            }
        }
    }

    /// Headers with the anon key (and a bearer token when given).
    static func headers(_ auth: AuthService, bearer: String? = nil) -> HTTPFields {
        var fields: HTTPFields = [.apikey: auth.tokens.anonKey, .contentType: "application/json"]
        fields[.authorization] = "Bearer \(bearer ?? auth.tokens.anonKey)"
        return fields
    }

    static func json(_ buffer: ByteBuffer) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any] ?? [:]
    }

    /// Signs the test number in over HTTP and returns the session JSON.
    static func signIn(_ client: any TestClientProtocol, _ auth: AuthService) async throws -> [String: Any] {
        _ = try await client.execute(uri: "/auth/v1/otp", method: .post, headers: headers(auth), body: ByteBuffer(string: #"{"phone":"+\#(testPhone)"}"#))
        return try await client.execute(
            uri: "/auth/v1/verify", method: .post, headers: headers(auth),
            body: ByteBuffer(string: #"{"phone":"+\#(testPhone)","token":"\#(testCode)","type":"sms"}"#)
        ) { response in json(response.body) }
    }
}
