/// The SQL both users' report tables share (`public.message_reports`, `public.profile_reports`,
/// migration 0029: one row per reporter and item, `reason`, `details`, `created_at`,
/// `resolved_at`), so the chat and social moderators' queues group, page and settle reports the
/// same way. `table` and `key` are the caller's constants, never input.
public enum OpenReports {
    /// A subquery of the items with open reports, most recently reported first, reported
    /// before `$1` (NULL: from the newest) and at most `$2` of them: `key`, `reports`, `reasons`
    /// (distinct, sorted), `details` (the three newest texts) and `last_report`. Reporters are
    /// left out.
    public static func page(table: String, key: String) -> String {
        """
        SELECT r.\(key), count(*) AS reports, array_agg(DISTINCT r.reason ORDER BY r.reason) AS reasons,
               (array_remove(array_agg(r.details ORDER BY r.created_at DESC), NULL))[1:3] AS details,
               max(r.created_at) AS last_report
        FROM \(table) r WHERE r.resolved_at IS NULL GROUP BY r.\(key)
        HAVING $1::timestamptz IS NULL OR max(r.created_at) < $1
        ORDER BY max(r.created_at) DESC, r.\(key) LIMIT $2
        """
    }

    /// How many items have open reports.
    public static func count(table: String, key: String) -> String {
        "SELECT count(DISTINCT \(key)) FROM \(table) WHERE resolved_at IS NULL"
    }

    /// Resolves the open reports of the item `$1` (a moderator decided on it).
    public static func resolve(table: String, key: String) -> String {
        "UPDATE \(table) SET resolved_at = now() WHERE \(key) = $1 AND resolved_at IS NULL"
    }
}
