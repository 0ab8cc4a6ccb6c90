@testable import App
import Auth
import Core
import Foundation
import Hummingbird
import Logging
import Realtime
import Storage
import Testing
import TestSupport

/// The OpenAPI document (`Public/openapi.json`, served at `/openapi.json`) describes the
/// routes the server registers: every route is documented, and every documented operation
/// is served. (What each operation answers is checked against the running server by
/// schemathesis, `Tests/e2e/test_openapi.py`.)
@Suite struct OpenAPIDocumentTests {
    static let documentURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Public/openapi.json")

    /// A method and a path split into segments, parameters written `{}`.
    struct Operation: Hashable, CustomStringConvertible {
        var method: String
        var segments: [String]
        var description: String { "\(method) /\(segments.joined(separator: "/"))" }

        init(method: String, path: String) {
            self.method = method.uppercased()
            segments = path.split(separator: "/").map { segment in
                segment.hasPrefix("{") && segment.hasSuffix("}") ? "{}" : String(segment)
            }
        }

        /// Whether this route (its `{}` a capture, `**` the rest of the path) serves `documented`.
        func serves(_ documented: Operation) -> Bool {
            guard method == documented.method else { return false }
            for (index, segment) in segments.enumerated() {
                if segment == "**" { return documented.segments.count > index }
                guard index < documented.segments.count else { return false }
                let other = documented.segments[index]
                if segment == "{}" || segment == "*" { continue }
                guard segment == other else { return false }
            }
            return segments.count == documented.segments.count
        }
    }

    static func documentedOperations() throws -> [Operation] {
        let data = try Data(contentsOf: documentURL)
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch"]
        return paths.flatMap { path, item in
            item.keys.filter(methods.contains).map { Operation(method: $0, path: path) }
        }
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationIsServed() async throws {
        let documented = try Self.documentedOperations()
        try await TestDatabase.withDatabase { database in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            var config = AppConfig()
            config.port = 0
            var logger = Logger(label: "openapi-test")
            logger.logLevel = .warning
            let auth = try await AuthService.load(database: database, settings: config.auth, sender: LogOTPSender(logger: logger))
            let surface = try buildSurface(
                config: config, database: database, auth: auth, storageBackend: try await LocalDiskBackend(root: directory.path), logger: logger)
            let routes = surface.router.routes.map { Operation(method: $0.method.rawValue, path: $0.path.description) }
            // Realtime's upgrade is taken before the WebSocket router (RealtimeUpgradeTap).
            let upgrades = surface.webSockets.routes.map { Operation(method: $0.method.rawValue, path: $0.path.description) }
                + (surface.realtimeSockets.map { _ in [Operation(method: "GET", path: RealtimeController.path)] } ?? [])

            // Storage, admin, reels and the rest are all registered: a surface this small means a
            // module went missing from the build, and the comparison would prove nothing.
            #expect(routes.count > 90, "only \(routes.count) routes registered")
            #expect(documented.count > 90, "only \(documented.count) operations documented")
            let undocumented = routes.filter { route in !documented.contains { route.serves($0) } }
            #expect(undocumented.isEmpty, "routes missing from Public/openapi.json: \(undocumented)")
            let unserved = documented.filter { operation in !(routes + upgrades).contains { $0.serves(operation) } }
            #expect(unserved.isEmpty, "documented operations the server does not register: \(unserved)")
        }
    }
}
