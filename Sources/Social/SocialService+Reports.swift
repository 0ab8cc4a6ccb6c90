import Core
import Database
import Foundation
import PostgresNIO

/// Reports of profiles: users file them (`report_profile`), moderators work through the open
/// ones from the admin console (through the composition root's seam) and decide.
extension SocialService {
    /// Reports a profile the caller can see (`public.social_report_profile`, migration 0029);
    /// reporting it again replaces the report. Returns `{"reported": true}`.
    func report(_ caller: Caller, profile: UUID, _ report: ContentReport) async throws -> Data {
        _ = try caller.requireUser()
        return try await database.withCaller(caller) { connection in
            guard
                let json = try await connection.jsonText(
                    "SELECT public.social_report_profile($1, $2, $3)::text", [profile, report.reason.rawValue, report.details])
            else { throw APIError.notFound("user_id: no such user") }
            return json
        }
    }

    /// Up to `limit` profiles with open reports, the most recently reported first, reported
    /// before `before`: a JSON array of `{user_id, username, display_name, bio, avatar_url,
    /// created_at, reports, report_reasons, report_details, last_report_at}`. Reporters are
    /// not named.
    public func reportedProfiles(limit: Int, before: Date?) async throws -> Data {
        try await database.withOwner { connection in
            try await connection.jsonText(
                """
                SELECT coalesce(json_agg(json_build_object(
                    'user_id', p.id, 'username', p.username, 'display_name', p.display_name, 'bio', p.bio,
                    'avatar_url', p.avatar_url, 'created_at', p.created_at,
                    'reports', q.reports, 'report_reasons', q.reasons, 'report_details', q.details, 'last_report_at', q.last_report)
                    ORDER BY q.last_report DESC, p.id), '[]'::json)::text
                FROM (\(OpenReports.page(table: "public.profile_reports", key: "profile_id"))) q
                JOIN public.profiles p ON p.id = q.profile_id
                """, [before, limit]) ?? Data("[]".utf8)
        }
    }

    /// How many profiles have open reports.
    public func reportedProfileCount() async throws -> Int {
        try await database.withOwner { connection in
            for try await count in try await connection.rows(
                OpenReports.count(table: "public.profile_reports", key: "profile_id"), []
            ).decode(Int.self) {
                return count
            }
            return 0
        }
    }

    /// A moderator's decision on a profile, on `connection` (the admin's transaction): its open
    /// reports are resolved and, with `remove`, what it shows (username, name, bio, avatar) is
    /// cleared; the account itself stays. Nil when there is no such profile.
    public func moderate(profile: UUID, remove: Bool, on connection: PostgresConnection) async throws -> ModeratedContent? {
        let sql =
            remove
            ? """
            UPDATE public.profiles SET username = NULL, display_name = '', bio = '', avatar_url = NULL, updated_at = now()
            WHERE id = $1 RETURNING id
            """
            : "SELECT id FROM public.profiles WHERE id = $1"
        var found = false
        for try await _ in try await connection.rows(sql, [profile]).decode(UUID.self) {
            found = true
        }
        guard found else { return nil }
        try await connection.execute(OpenReports.resolve(table: "public.profile_reports", key: "profile_id"), [profile])
        return ModeratedContent(author: profile)
    }
}
