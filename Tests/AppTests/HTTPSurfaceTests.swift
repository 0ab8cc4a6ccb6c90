@testable import App
import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing
import Auth

@Suite struct HTTPSurfaceTests {
    @Test func healthReadyAndMetrics() async throws {
        try await AppHarness.withApp { client, _ in
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            // /ready gives the database 2 seconds; a CI machine starved by the parallel suites can miss that,
            // so the probe is repeated (as a load balancer would) while the only complaint is the timeout.
            var readiness: (status: HTTPResponse.Status, body: [String: Any]) = (.serviceUnavailable, [:])
            for _ in 0..<10 {
                readiness = try await client.execute(uri: "/ready", method: .get) { ($0.status, AppHarness.json($0.body)) }
                let timedOut = (readiness.body["reason"] as? String)?.contains("within 2 seconds") == true
                if readiness.status == .ok || !timedOut { break }
            }
            #expect(readiness.status == .ok)
            #expect(readiness.body["status"] as? String == "ready")
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("http_requests_total"))
                #expect(text.contains(#"route="/ready""#))
                #expect(text.contains("db_pool_max_connections"))
            }
        }
    }

    /// A method this API does not know counts as `other` in the request metrics, so clients
    /// cannot add label sets without bound.
    @Test func unknownMethodsShareOneMetricsLabel() async throws {
        try await AppHarness.withApp { client, _ in
            for name in ["BREW", "WHEN"] {
                let method = try #require(HTTPRequest.Method(name))
                try await client.execute(uri: "/health", method: method) { _ in }
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains(#"method="other""#))
                #expect(!text.contains("BREW") && !text.contains("WHEN"))
            }
        }
    }

    @Test func missingOrForeignAPIKeyIs401() async throws {
        try await AppHarness.withApp { client, _ in
            for headers: HTTPFields in [[:], [.apikey: "forged"]] {
                try await client.execute(uri: "/auth/v1/settings", method: .get, headers: headers) { response in
                    #expect(response.status == .unauthorized)
                    #expect(AppHarness.json(response.body)["message"] as? String == "Invalid API key")
                }
                try await client.execute(uri: "/rest/v1/rpc/whoami", method: .post, headers: headers, body: ByteBuffer(string: "{}")) { response in
                    #expect(response.status == .unauthorized)
                }
            }
        }
    }

    @Test func authErrorsCarryTheGoTrueShape() async throws {
        try await AppHarness.withApp { client, auth in
            try await client.execute(
                uri: "/auth/v1/otp", method: .post, headers: AppHarness.headers(auth), body: ByteBuffer(string: #"{"phone":"12ab"}"#)
            ) { response in
                #expect(response.status == .badRequest)
                #expect(response.headers[.supabaseAPIVersion] == "2024-01-01")
                let body = AppHarness.json(response.body)
                #expect(body["code"] as? String == "validation_failed")
                #expect(body["message"] as? String == "Invalid phone number format (E.164 required)")
            }
        }
    }

    @Test(arguments: [
        ("/auth/v1/otp", "{", "bad_json"),
        ("/auth/v1/otp", #"{"phone": 5}"#, "validation_failed"),
        ("/auth/v1/verify", #"{"phone":"+15555550199","token":["1"]}"#, "validation_failed"),
        ("/auth/v1/token?grant_type=password", "{}", "invalid_credentials"),
        ("/rest/v1/rpc/search_profiles", #"{"query":1}"#, "PGRST301"),
    ])
    func malformedInputIs4xxNeverA500(_ uri: String, _ body: String, _ code: String) async throws {
        try await AppHarness.withApp { client, auth in
            try await client.execute(uri: uri, method: .post, headers: AppHarness.headers(auth, bearer: "garbage"), body: ByteBuffer(string: body)) { response in
                #expect((400..<500).contains(response.status.code), "\(uri) answered \(response.status)")
                #expect(AppHarness.json(response.body)["code"] as? String == code)
            }
        }
    }

    @Test func oversizedBodyIs413() async throws {
        try await AppHarness.withApp { client, auth in
            let huge = #"{"phone":""# + String(repeating: "1", count: 1_100_000) + #""}"#
            try await client.execute(uri: "/auth/v1/otp", method: .post, headers: AppHarness.headers(auth), body: ByteBuffer(string: huge)) { response in
                #expect(response.status == .contentTooLarge)
                #expect(AppHarness.json(response.body)["code"] as? String == "request_too_large")
            }
        }
    }

    @Test func signInThenRPCAsTheUser() async throws {
        try await AppHarness.withApp { client, auth in
            let session = try await AppHarness.signIn(client, auth)
            let token = try #require(session["access_token"] as? String)
            #expect(session["token_type"] as? String == "bearer")
            #expect((session["user"] as? [String: Any])?["phone"] as? String == AppHarness.testPhone)
            try await client.execute(uri: "/rest/v1/rpc/whoami", method: .post, headers: AppHarness.headers(auth, bearer: token), body: ByteBuffer(string: "{}")) { response in
                let body = AppHarness.json(response.body)
                #expect(body["role"] as? String == "authenticated")
                #expect(body["sub"] as? String == (session["user"] as? [String: Any])?["id"] as? String)
            }
            try await client.execute(uri: "/auth/v1/user", method: .get, headers: AppHarness.headers(auth, bearer: token)) { response in
                #expect(response.status == .ok)
            }
            // Anonymous callers cannot read profiles.
            try await client.execute(uri: "/rest/v1/rpc/get_my_profile", method: .post, headers: AppHarness.headers(auth), body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .unauthorized)
                #expect(AppHarness.json(response.body)["code"] as? String == "42501")
            }
        }
    }

    @Test func expiredTokenIsPGRST303() async throws {
        // Tokens issued already expired (a lifetime the configuration would never allow).
        try await AppHarness.withApp(.router, { $0.auth.jwtExpirySeconds = -5 }) { client, auth in
            let session = try await AppHarness.signIn(client, auth)
            let expired = try #require(session["access_token"] as? String)
            try await client.execute(uri: "/rest/v1/rpc/whoami", method: .post, headers: AppHarness.headers(auth, bearer: expired), body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .unauthorized)
                #expect(AppHarness.json(response.body)["code"] as? String == "PGRST303")
            }
            try await client.execute(uri: "/auth/v1/user", method: .get, headers: AppHarness.headers(auth, bearer: expired)) { response in
                #expect(response.status == .forbidden)
                #expect(AppHarness.json(response.body)["code"] as? String == "bad_jwt")
            }
            // Refreshing needs only the refresh token: the stale bearer sent along is ignored.
            let refresh = try #require(session["refresh_token"] as? String)
            try await client.execute(
                uri: "/auth/v1/token?grant_type=refresh_token", method: .post,
                headers: AppHarness.headers(auth, bearer: expired), body: ByteBuffer(string: #"{"refresh_token":"\#(refresh)"}"#)
            ) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func jwksPublishesTheSigningKey() async throws {
        try await AppHarness.withApp { client, auth in
            try await client.execute(uri: "/auth/v1/.well-known/jwks.json", method: .get) { response in
                #expect(response.headers[.cacheControl] == "public, max-age=600")
                let keys = AppHarness.json(response.body)["keys"] as? [[String: Any]] ?? []
                #expect(keys.count == 1)
                #expect(keys.first?["kid"] as? String == auth.tokens.keyID)
                #expect(keys.first?["crv"] as? String == "P-256")
                #expect(keys.first?["d"] == nil)
            }
        }
    }

    @Test func logoutEndsTheSessionForUserEndpoints() async throws {
        try await AppHarness.withApp { client, auth in
            let session = try await AppHarness.signIn(client, auth)
            let token = try #require(session["access_token"] as? String)
            try await client.execute(uri: "/auth/v1/logout?scope=bogus", method: .post, headers: AppHarness.headers(auth, bearer: token)) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/auth/v1/logout", method: .post, headers: AppHarness.headers(auth, bearer: token)) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(uri: "/auth/v1/user", method: .get, headers: AppHarness.headers(auth, bearer: token)) { response in
                #expect(response.status == .forbidden)
                #expect(AppHarness.json(response.body)["code"] as? String == "session_not_found")
            }
        }
    }
}

@Suite struct ClientAddressTests {
    static func requestCode(_ client: any TestClientProtocol, _ auth: Auth.AuthService, forwardedFor: String) async throws -> HTTPResponse.Status {
        var headers = AppHarness.headers(auth)
        headers[HTTPField.Name("X-Forwarded-For")!] = forwardedFor
        let phone = "+" + TestPhone.unique()
        return try await client.execute(uri: "/auth/v1/otp", method: .post, headers: headers, body: ByteBuffer(string: #"{"phone":"\#(phone)"}"#)) { $0.status }
    }

    @Test func behindATrustedProxyLimitsApplyPerForwardedClient() async throws {
        let behindProxy: @Sendable (inout AppConfig) -> Void = { config in
            config.trustProxy = true
            config.auth.otpMaxPerAddressPerHour = 1
        }
        try await AppHarness.withApp(.router, behindProxy) { client, auth in
            let status1 = try await Self.requestCode(client, auth, forwardedFor: "198.51.100.7, 203.0.113.1")
            #expect(status1 == .ok)
            let status2 = try await Self.requestCode(client, auth, forwardedFor: "203.0.113.1")
            #expect(status2 == .tooManyRequests)
            let status3 = try await Self.requestCode(client, auth, forwardedFor: "203.0.113.2")
            #expect(status3 == .ok)
        }
    }

    @Test func withoutATrustedProxyTheHeaderIsIgnored() async throws {
        let direct: @Sendable (inout AppConfig) -> Void = { $0.auth.otpMaxPerAddressPerHour = 1 }
        try await AppHarness.withApp(.router, direct) { client, auth in
            let status4 = try await Self.requestCode(client, auth, forwardedFor: "203.0.113.1")
            #expect(status4 == .ok)
            let status5 = try await Self.requestCode(client, auth, forwardedFor: "203.0.113.2")
            #expect(status5 == .tooManyRequests)
        }
    }
}
