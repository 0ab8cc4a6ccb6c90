import Core
import Database
import Foundation
import PostgresNIO

/// The one-off signals: shares, views, impressions, "not interested", hide and reports.
extension ReelsInteractions {
    /// A per-user mark that takes a reel out of the user's feed.
    enum Mark: Sendable {
        case notInterested, hidden

        var table: String { self == .notInterested ? "reels.not_interested" : "reels.hidden" }
        var key: String { self == .notInterested ? "not_interested" : "hidden" }
    }

    /// Counts a share of `reel`: `{"shared": true, "count": n}`.
    func recordShare(_ caller: Caller, _ share: InteractionArguments.Share) async throws -> Data {
        try await asViewer(caller) { connection, me in
            _ = try await requireVisible(connection, share.reel)
            try await connection.execute(
                "INSERT INTO reels.shares (reel_id, user_id, target) VALUES ($1, $2, $3)", [share.reel, me, share.target.rawValue])
            let count = try await counter(connection, "share_count", share.reel)
            return try Self.object(["shared": .bool(true), "count": .number(Double(count))])
        }
    }

    /// Records a view with the time watched: `{"recorded": true, "count": n}`.
    func recordView(_ caller: Caller, _ view: InteractionArguments.View) async throws -> Data {
        try await asViewer(caller) { connection, me in
            _ = try await requireVisible(connection, view.reel)
            try await connection.execute(
                "INSERT INTO reels.views (reel_id, user_id, watched_ms) VALUES ($1, $2, $3)", [view.reel, me, view.watchedMilliseconds])
            let count = try await counter(connection, "view_count", view.reel)
            return try Self.object(["recorded": .bool(true), "count": .number(Double(count))])
        }
    }

    /// Records that `reels` were shown: `{"recorded": n}`, the number of them the caller may
    /// see (the others are skipped without saying which, so nothing about them leaks).
    func recordImpressions(_ caller: Caller, _ reels: [UUID]) async throws -> Data {
        try await asViewer(caller) { connection, me in
            let rows = try await connection.rows("""
                WITH shown AS (
                    INSERT INTO reels.impressions (reel_id, user_id)
                    SELECT r.id, $2 FROM reels.reels r
                    WHERE r.id = ANY($1) AND reels.can_view(r.author_id, r.visibility, r.state, r.moderation)
                    RETURNING 1)
                SELECT count(*) FROM shown
                """, [reels, me])
            var recorded: Int64 = 0
            for try await count in rows.decode(Int64.self) { recorded = count }
            return try Self.object(["recorded": .number(Double(recorded))])
        }
    }

    /// Marks `reel` "not interested" or hidden for the caller (idempotent):
    /// `{"not_interested"|"hidden": true}`.
    func mark(_ caller: Caller, _ kind: Mark, reel: UUID) async throws -> Data {
        try await asViewer(caller) { connection, me in
            _ = try await requireVisible(connection, reel)
            try await connection.execute("INSERT INTO \(kind.table) (reel_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [reel, me])
            return try Self.object([kind.key: .bool(true)])
        }
    }

    /// Reports `reel` (a second report by the same user replaces the first): `{"reported": true}`.
    /// Authors cannot report their own reels.
    func fileReport(_ caller: Caller, _ report: InteractionArguments.Report) async throws -> Data {
        try await asViewer(caller) { connection, me in
            let author = try await requireVisible(connection, report.reel)
            guard author != me else { throw APIError.invalidField("reel_id", "must not be your own reel") }
            try await connection.execute("""
                INSERT INTO reels.reports (reel_id, user_id, reason, details) VALUES ($1, $2, $3, $4)
                ON CONFLICT (reel_id, user_id) DO UPDATE SET reason = EXCLUDED.reason, details = EXCLUDED.details, created_at = now()
                """, [report.reel, me, report.reason.rawValue, report.details])
            return try Self.object(["reported": .bool(true)])
        }
    }
}
