@testable import App
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite struct WebAppTests {
    @Test func servesTheAppAndItsConfigWithSafeHeaders() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("webapp-\(UUID())")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("app"), withIntermediateDirectories: true)
        try Data("<!doctype html><title>test shell</title>".utf8).write(to: folder.appendingPathComponent("index.html"))
        try Data("export const x = 1;".utf8).write(to: folder.appendingPathComponent("app/main.js"))
        defer { try? FileManager.default.removeItem(at: folder) }
        let configure: @Sendable (inout AppConfig) -> Void = { $0.publicDirectory = folder.path }
        try await AppHarness.withApp(.router, configure) { client, auth in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("test shell"))
                #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
                #expect(response.headers[.cacheControl] == "no-cache")
            }
            try await client.execute(uri: "/app/main.js", method: .get) { response in
                #expect(response.headers[.contentType]?.contains("javascript") == true)
            }
            try await client.execute(uri: "/app-config.json", method: .get) { response in
                let config = AppHarness.json(response.body)
                #expect(config["anonKey"] as? String == auth.tokens.anonKey)
                #expect((config["otpLength"] as? NSNumber)?.intValue == 6)
            }
            // API answers keep their own headers.
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.headers[.contentSecurityPolicy] == nil)
            }
        }
    }
}
