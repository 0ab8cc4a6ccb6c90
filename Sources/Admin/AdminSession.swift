import Core
import Foundation

/// An open admin session, resolved from the `X-Admin-Session` token on each request: whose it
/// is, until when, and the roles and scopes live at this moment.
public struct AdminSession: Sendable {
    public struct Grant: Sendable, Encodable {
        /// The grant's id (for revoking it).
        public var id: UUID
        public var role: AdminRole
        public var kind: String
        public var expiresAt: Date?

        enum CodingKeys: String, CodingKey {
            case id, role, kind
            case expiresAt = "expires_at"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id.uuidString.lowercased(), forKey: .id)
            try container.encode(role, forKey: .role)
            try container.encode(kind, forKey: .kind)
            try container.encode(expiresAt, forKey: .expiresAt)  // null for standing grants
        }
    }

    public var id: UUID
    public var userID: UUID
    public var expiresAt: Date
    public var grants: [Grant]
    public var scopes: Set<AdminScope>
    /// The user caller the session was opened by; admin work runs under its claims.
    public var caller: Caller
    /// The request's id, recorded with everything it does.
    public var requestID: String

    public func holds(_ scope: AdminScope) -> Bool { scopes.contains(scope) }
}

/// What opening a session returns once: the token for `X-Admin-Session` and what it allows.
public struct OpenedAdminSession: Sendable, Encodable {
    public var token: String
    public var expiresAt: Date
    public var roles: [AdminSession.Grant]
    public var scopes: [String]

    enum CodingKeys: String, CodingKey {
        case token = "admin_session"
        case expiresAt = "expires_at"
        case roles, scopes
    }
}
