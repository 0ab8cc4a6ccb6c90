import Core
import Foundation
import PostgresNIO

/// What users report besides reels: chat messages and profiles.
public enum ReportedKind: String, Sendable, CaseIterable {
    case messages, profiles

    /// The singular used in audit actions and warnings (`message`, `profile`).
    var subject: String {
        switch self {
        case .messages: "message"
        case .profiles: "profile"
        }
    }
}

/// The seam through which moderators work through reported messages and profiles: implemented
/// over the chat and social modules by the composition root, so the admin module never reads
/// their tables itself.
public protocol ReportedContent: Sendable {
    /// One page of items with open reports (most recently reported first, before `before`), as
    /// a JSON array.
    func queue(_ kind: ReportedKind, limit: Int, before: Date?) async throws -> Data
    /// How many items of `kind` have open reports.
    func count(_ kind: ReportedKind) async throws -> Int
    /// Resolves the item's open reports and, with `remove`, removes it, on `connection` (the
    /// admin's transaction, so the audit row commits with it); nil when there is no such item.
    func decide(_ kind: ReportedKind, id: UUID, remove: Bool, on connection: PostgresConnection) async throws -> ModeratedContent?
}
