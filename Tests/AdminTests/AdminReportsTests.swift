import Core
import Database
import Foundation
import PostgresNIO
import Testing
import TestSupport

@testable import Admin

/// Decisions on reported messages and profiles: audited with the author, a warning reaches the
/// author (and only them), and the seam's announcement runs after the commit. The content
/// seam is a recording double here; its chat and social implementations have their own tests
/// and the e2e suite drives the whole path.
@Suite struct AdminReportsTests {
    final class Recorder: ReportedContent, @unchecked Sendable {
        let author: UUID
        private let lock = NSLock()
        private var calls: [(ReportedKind, UUID, Bool)] = []
        private var announced = 0

        init(author: UUID) { self.author = author }

        var decisions: [(ReportedKind, UUID, Bool)] { lock.withLock { calls } }
        var announcements: Int { lock.withLock { announced } }

        func queue(_ kind: ReportedKind, limit: Int, before: Date?) async throws -> Data { Data("[]".utf8) }
        func count(_ kind: ReportedKind) async throws -> Int { kind == .messages ? 3 : 1 }
        func decide(_ kind: ReportedKind, id: UUID, remove: Bool, on connection: PostgresConnection) async throws -> ModeratedContent? {
            guard id != author else { return nil }  // the double's "no such item"
            lock.withLock { calls.append((kind, id, remove)) }
            return ModeratedContent(author: author) { [self] in lock.withLock { announced += 1 } }
        }
    }

    @Test func decisionsAreAuditedAndAWarningReachesOnlyTheAuthor() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let moderator = try await fixture.admin([.moderator])
            let author = try await fixture.user(), stranger = try await fixture.user()
            let recorder = Recorder(author: author.userID!)
            let admin = AdminService(database: database, settings: AdminSettings(), reportedContent: recorder, now: { fixture.clock.now })
            let session = try await admin.session(
                moderator, token: try await admin.openSession(moderator, code: fixture.code(), requestID: "r-1").token, requestID: "r-2")
            let message = UUID(), profile = UUID()

            try await admin.decideReport(session, .messages, id: message, decision: .remove, reason: "spam links")
            try await admin.decideReport(session, .profiles, id: profile, decision: .warn, reason: "  do not impersonate the bank  ")
            try await admin.decideReport(session, .messages, id: message, decision: .approve, reason: "fine after all")
            #expect(recorder.decisions.map(\.2) == [true, false, false])
            #expect(recorder.announcements == 3)
            await #expect(throws: AdminErrors.reportedNotFound(.profiles)) {
                try await admin.decideReport(session, .profiles, id: author.userID!, decision: .remove, reason: "x")
            }
            await #expect(throws: APIError.self) { try await admin.decideReport(session, .messages, id: message, decision: .remove, reason: " ") }

            let actions = try await fixture.audit().filter { $0.actor == moderator.userID }.map(\.action)
            #expect(actions.suffix(3) == ["admin.message.remove", "admin.profile.warn", "admin.message.approve"])
            let dashboard = try JSONSerialization.jsonObject(with: try await admin.dashboard(session)) as? [String: Any]
            #expect(dashboard?["reports"] as? [String: Int] == ["messages": 3, "profiles": 1])

            // The author reads the warning (not who gave it) and marks it seen; nobody else sees it.
            let warnings = UserWarnings(database: database)
            let listed = try JSONSerialization.jsonObject(with: try await warnings.list(author, limit: 10, unseenOnly: true)) as? [[String: Any]]
            #expect(listed?.count == 1)
            let warning = try #require(listed?.first)
            #expect(warning["reason"] as? String == "do not impersonate the bank" && warning["subject_kind"] as? String == "profile")
            #expect(warning["subject_id"] as? String == profile.uuidString.lowercased() && warning["issued_by"] == nil)
            let id = try #require(UUID(uuidString: warning["id"] as? String ?? ""))
            #expect((try JSONSerialization.jsonObject(with: try await warnings.list(stranger, limit: 10, unseenOnly: false)) as? [Any])?.isEmpty == true)
            await #expect(throws: AdminErrors.warningNotFound) { _ = try await warnings.acknowledge(stranger, warning: id) }
            _ = try await warnings.acknowledge(author, warning: id)
            _ = try await warnings.acknowledge(author, warning: id)  // idempotent
            #expect((try JSONSerialization.jsonObject(with: try await warnings.list(author, limit: 10, unseenOnly: true)) as? [Any])?.isEmpty == true)
            #expect((try JSONSerialization.jsonObject(with: try await warnings.list(author, limit: 10, unseenOnly: false)) as? [Any])?.count == 1)
        }
    }
}

/// The warnings RPCs' rules at their edges: `limit` 1–100, and 60 acknowledgements an hour.
@Suite struct UserWarningsLimitTests {
    @Test func limitsAreHit() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = AdminFixture(database)
            let user = try await fixture.user()
            var registry = RPCRegistry()
            registry.register(UserWarnings(database: database).rpcFunctions)
            func call(_ name: String, _ arguments: [String: Any]) async -> APIError? {
                do {
                    _ = try await registry.call(RPCCall(name: name, arguments: try JSONSerialization.data(withJSONObject: arguments), caller: user))
                    return nil
                } catch let error as APIError {
                    return error
                } catch {
                    return APIError(status: .internalServerError, code: "?", message: "\(error)")
                }
            }
            #expect(await call("list_my_warnings", ["limit": 1]) == nil)
            #expect(await call("list_my_warnings", ["limit": 100]) == nil)
            for limit in [0, 101] {
                let error = await call("list_my_warnings", ["limit": limit])
                #expect(error?.status == .badRequest && error?.message.hasPrefix("limit") == true, "\(limit): \(String(describing: error))")
            }
            // 60 an hour: the bucket refills one every 60 s, so a slow run (a loaded machine once
            // took over four minutes here) earns a few more before the 429.
            let unknown = UUID().uuidString
            let started = ContinuousClock.now
            for _ in 0..<60 { #expect(await call("acknowledge_warning", ["warning_id": unknown])?.code == "warning_not_found") }
            var extra = 0
            while await call("acknowledge_warning", ["warning_id": unknown])?.status != .tooManyRequests, extra < 20 { extra += 1 }
            let refilled = Int((ContinuousClock.now - started).components.seconds / 60) + 1
            #expect(extra <= refilled, "\(extra) acknowledgements past the 60th were allowed; at most \(refilled) tokens refilled")
        }
    }
}
