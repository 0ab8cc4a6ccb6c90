import Core
import Database
import Foundation
import PostgresNIO

/// A moderator's decision on reported content.
public enum ContentDecision: String, Sendable, CaseIterable {
    /// Nothing wrong: the open reports are resolved, the content stays.
    case approve
    /// The content is removed (a message becomes a tombstone, a profile's name, username, bio
    /// and avatar are cleared).
    case remove
    /// The content stays and its author gets a warning with the reason.
    case warn
}

/// Reported messages and profiles (scope `moderation.content`): the queues and decisions,
/// audited with the moderator, the item, its author and the reason; warnings to authors.
extension AdminService {
    /// A page of the reported `kind`; 1–100 per page. Users' content is shown: the read is audited.
    public func reportQueue(_ session: AdminSession, _ kind: ReportedKind, limit: Int, before: Date?) async throws -> Data {
        let action = "admin.\(kind.subject).queue"
        try await require(.moderationContent, session, action: action)
        guard let reportedContent else { throw AdminErrors.reportsNotServed }
        let page = try await reportedContent.queue(kind, limit: limit, before: before)
        try await recordRead(session, action: action, scope: .moderationContent)
        return page
    }

    /// Decides on a reported message or profile, with a reason (the warning's text for `warn`).
    public func decideReport(_ session: AdminSession, _ kind: ReportedKind, id: UUID, decision: ContentDecision, reason: String) async throws {
        let action = "admin.\(kind.subject).\(decision.rawValue)"
        let target = id.uuidString.lowercased()
        try await require(.moderationContent, session, action: action, target: target)
        let reason = try Self.reason(reason)
        try await refuseIfSwitchedOff([.adminWrites], session, action: action, target: target)
        guard let reportedContent else { throw AdminErrors.reportsNotServed }
        let moderated = try await withAdminWrite(session, .moderationContent) { connection -> ModeratedContent in
            guard let moderated = try await reportedContent.decide(kind, id: id, remove: decision == .remove, on: connection) else {
                throw AdminErrors.reportedNotFound(kind)
            }
            if decision == .warn {
                try await Self.warn(moderated.author, about: kind.subject, id, reason: reason, by: session.userID, on: connection)
            }
            try await AuditLog.append(
                AuditEvent(actor: session.userID, action: action, scope: .moderationContent, target: target, outcome: .allowed, reason: reason,
                           requestID: session.requestID, detail: ["author": .string(moderated.author.uuidString.lowercased())]),
                on: connection)
            return moderated
        }
        await moderated.announce()
    }

    /// Records a warning to `user` about their `subject` (`message`, `profile`, `reel`).
    static func warn(_ user: UUID, about subject: String, _ id: UUID, reason: String, by moderator: UUID, on connection: PostgresConnection) async throws {
        try await connection.execute(
            "INSERT INTO admin.warnings (user_id, subject_kind, subject_id, reason, issued_by) VALUES ($1, $2, $3, $4, $5)",
            [user, subject, id, reason, moderator])
    }
}
