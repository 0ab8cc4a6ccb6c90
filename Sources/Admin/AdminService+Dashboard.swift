import Core
import Database
import Foundation

/// The dashboard: what waits for admins at a glance (scope `dashboard.read`).
extension AdminService {
    /// `{"requests_pending", "kill_switches_engaged", "reports": {"messages", "profiles"} | null,
    /// "reels": {…} | null}`; `reports` and `reels` are null where they are not served.
    public func dashboard(_ session: AdminSession) async throws -> Data {
        try await require(.dashboardRead, session, action: "admin.dashboard.read")
        let reels = try await reelReview?.summary()
        let reports = try await reportCounts()
        let own = try await database.withStatement { connection in
            try await connection.jsonText(
                """
                SELECT json_build_object(
                    'requests_pending', (SELECT count(*) FROM admin.requests WHERE status = 'pending' AND expires_at > now()),
                    'kill_switches_engaged', coalesce((SELECT json_agg(name ORDER BY name) FROM admin.kill_switches WHERE engaged), '[]'::json),
                    'reports', $2::json, 'reels', $1::json)::text
                """, [reels.map { String(decoding: $0, as: UTF8.self) }, reports])
        }
        return own ?? Data("{}".utf8)
    }

    /// `{"messages": n, "profiles": n}`: the items with open reports; nil where they are not served.
    private func reportCounts() async throws -> String? {
        guard let reportedContent else { return nil }
        return "{\"messages\":\(try await reportedContent.count(.messages)),\"profiles\":\(try await reportedContent.count(.profiles))}"
    }
}
