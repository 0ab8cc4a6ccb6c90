import Core
import Database
import Foundation
import PostgresNIO

/// What the audit browser asks for: filters and a keyset page (newest first).
public struct AuditQuery: Sendable, Equatable {
    public var action: String?
    public var actor: UUID?
    public var target: String?
    public var outcome: AuditEvent.Outcome?
    /// Rows older than this seq (the previous page's last).
    public var before: Int64?
    public var limit: Int

    public init(action: String? = nil, actor: UUID? = nil, target: String? = nil, outcome: AuditEvent.Outcome? = nil, before: Int64? = nil, limit: Int = 50) {
        self.action = action
        self.actor = actor
        self.target = target
        self.outcome = outcome
        self.before = before
        self.limit = limit
    }

    public static let maximumLimit = 200

    /// Reads the query string; each bad parameter is a 400 naming it.
    public static func parse(_ parameters: [String: String]) throws -> AuditQuery {
        var query = AuditQuery()
        for (name, value) in parameters {
            switch name {
            case "action":
                guard (1...100).contains(value.count) else { throw APIError.invalidField("action", "must be 1–100 characters") }
                query.action = value
            case "actor":
                guard let id = UUID(uuidString: value) else { throw APIError.invalidField("actor", "must be a user id (UUID)") }
                query.actor = id
            case "target":
                guard (1...200).contains(value.count) else { throw APIError.invalidField("target", "must be 1–200 characters") }
                query.target = value
            case "outcome":
                guard let outcome = AuditEvent.Outcome(rawValue: value) else {
                    throw APIError.invalidField("outcome", "must be allowed or denied")
                }
                query.outcome = outcome
            case "before":
                guard let seq = Int64(value), seq > 0 else { throw APIError.invalidField("before", "must be a positive row number (seq)") }
                query.before = seq
            case "limit":
                guard let limit = Int(value), (1...maximumLimit).contains(limit) else {
                    throw APIError.invalidField("limit", "must be an integer from 1 to \(maximumLimit)")
                }
                query.limit = limit
            default:
                throw APIError.invalidField(name, "is not a filter of the audit log (action, actor, target, outcome, before, limit)")
            }
        }
        return query
    }
}

/// The audit browser and the chain check (scope `audit.read`).
extension AdminService {
    /// One page of audit rows, newest first, read under row-level security:
    /// `{"entries": [...], "next_before": seq|null}`.
    public func auditEntries(_ session: AdminSession, _ query: AuditQuery) async throws -> Data {
        try await require(.auditRead, session, action: "admin.audit.read")
        return try await withAdmin(session) { connection in
            try await connection.jsonText(
                """
                WITH page AS (
                    SELECT * FROM admin.audit_log
                    WHERE ($1::text IS NULL OR action = $1) AND ($2::uuid IS NULL OR actor = $2)
                      AND ($3::text IS NULL OR target = $3) AND ($4::text IS NULL OR outcome = $4)
                      AND ($5::bigint IS NULL OR seq < $5)
                    ORDER BY seq DESC LIMIT $6)
                SELECT json_build_object(
                    'entries', coalesce(json_agg(json_build_object(
                        'seq', seq, 'at', at, 'actor', actor, 'action', action, 'scope', scope, 'target', target,
                        'outcome', outcome, 'reason', reason, 'request_id', request_id, 'detail', detail,
                        'hash', encode(hash, 'hex')) ORDER BY seq DESC), '[]'::json),
                    'next_before', CASE WHEN count(*) = $6 THEN min(seq) END)::text
                FROM page
                """, [query.action, query.actor, query.target, query.outcome?.rawValue, query.before, query.limit]) ?? Data("{}".utf8)
        }
    }

    /// Recomputes the whole chain (``AuditChain``); the check itself is audited.
    public func verifyAudit(_ session: AdminSession) async throws -> AuditVerification {
        try await require(.auditRead, session, action: "admin.audit.verify")
        let result = try await AuditChain.verify(database: database)
        try await AuditLog.record(
            AuditEvent(actor: session.userID, action: "admin.audit.verify", scope: .auditRead, outcome: .allowed,
                       requestID: session.requestID,
                       detail: ["intact": .bool(result.intact), "rows": .number(Double(result.rows))]), database: database)
        return result
    }
}
