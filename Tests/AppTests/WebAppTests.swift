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

    /// Issue 14: the service worker is served at the scope root as JavaScript that is always
    /// revalidated (even with a `?v=`), the manifest with its media type, and the policy
    /// allows both from the own origin.
    @Test func servesTheServiceWorkerAndManifestForInstalling() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("webapp-sw-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data("<!doctype html><link rel=\"manifest\" href=\"manifest.webmanifest\">".utf8).write(to: folder.appendingPathComponent("index.html"))
        try Data("const SHELL = ['./index.html'];".utf8).write(to: folder.appendingPathComponent("sw.js"))
        try Data("{\"name\":\"x\"}".utf8).write(to: folder.appendingPathComponent("manifest.webmanifest"))
        defer { try? FileManager.default.removeItem(at: folder) }
        let assets = StaticAssets.load(directory: folder.path, gzip: nil, brotli: nil)
        let version = try #require(assets["/sw.js"]?.version)
        let configure: @Sendable (inout AppConfig) -> Void = { $0.publicDirectory = folder.path }
        try await AppHarness.withApp(.router, configure) { client, _ in
            for uri in ["/sw.js", "/sw.js?v=\(version)"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.contains("javascript") == true)
                    #expect(response.headers[.cacheControl] == "no-cache")
                    // The shell list inside names index.html by version.
                    #expect(String(buffer: response.body).contains("./index.html?v="))
                    let policy = response.headers[.contentSecurityPolicy] ?? ""
                    #expect(policy.contains("worker-src 'self'"))
                    #expect(policy.contains("manifest-src 'self'"))
                }
            }
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.headers[.contentSecurityPolicy]?.contains("worker-src 'self'; manifest-src 'self'") == true)
            }
            try await client.execute(uri: "/manifest.webmanifest", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/manifest+json")
            }
        }
    }
}
