import Core
import Database
import Foundation

/// The warnings moderators gave a user, as that user sees them: `list_my_warnings` and
/// `acknowledge_warning` (docs/admin.md). Reads and writes run as the user under row-level
/// security; who issued a warning is not shown.
public struct UserWarnings: Sendable {
    let database: Database
    let acknowledgements = ActionLimit("admin.acknowledge_warning", burst: 60, perSeconds: 3600, allowance: "acknowledge 60 warnings an hour")

    public init(database: Database) {
        self.database = database
    }

    public var rpcFunctions: [RPCFunction] {
        [
            RPCFunction("list_my_warnings", parameters: ["limit", "unseen_only"]) { call in
                struct Args: Decodable { var limit: Int?; var unseen_only: Bool? }
                let args = try call.decode(Args.self)
                let limit = try PageSize.resolve(args.limit, default: 20, maximum: 100)
                return .json(try await list(call.caller, limit: limit, unseenOnly: args.unseen_only ?? false))
            },
            RPCFunction("acknowledge_warning", parameters: ["warning_id"]) { call in
                struct Args: Decodable { var warning_id: UUID }
                let warning = try call.decode(Args.self).warning_id
                try await acknowledgements.take(database, call.caller)
                return .json(try await acknowledge(call.caller, warning: warning))
            },
        ]
    }

    /// The caller's newest warnings: `[{id, subject_kind, subject_id, reason, created_at, seen_at}]`.
    func list(_ caller: Caller, limit: Int, unseenOnly: Bool) async throws -> Data {
        let user = try caller.requireUser()
        return try await database.withCaller(caller) { connection in
            try await connection.jsonText(
                """
                SELECT coalesce(json_agg(json_build_object('id', w.id, 'subject_kind', w.subject_kind, 'subject_id', w.subject_id,
                    'reason', w.reason, 'created_at', w.created_at, 'seen_at', w.seen_at) ORDER BY w.created_at DESC), '[]'::json)::text
                FROM (SELECT id, subject_kind, subject_id, reason, created_at, seen_at FROM admin.warnings WHERE user_id = $1 AND (NOT $2 OR seen_at IS NULL)
                      ORDER BY created_at DESC LIMIT $3) w
                """, [user, unseenOnly, limit]) ?? Data("[]".utf8)
        }
    }

    /// Marks one of the caller's warnings seen (idempotent): `{id, seen_at}`.
    func acknowledge(_ caller: Caller, warning: UUID) async throws -> Data {
        _ = try caller.requireUser()
        return try await database.withCaller(caller) { connection in
            guard
                let json = try await connection.jsonText(
                    """
                    UPDATE admin.warnings SET seen_at = coalesce(seen_at, now()) WHERE id = $1
                    RETURNING json_build_object('id', id, 'seen_at', seen_at)::text
                    """, [warning])
            else { throw AdminErrors.warningNotFound }
            return json
        }
    }
}
