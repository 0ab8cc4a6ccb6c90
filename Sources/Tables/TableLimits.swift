/// What one `/rest/v1/<table>` request may ask for (docs/tables.md, "Limits"). Each limit has
/// a test that reaches it.
public struct TableLimits: Sendable {
    /// Rows one read returns at most, whatever `limit` or `Range` asks (Supabase's default).
    public var maximumRows = 1000
    /// Filter leaves in one request, embedded resources' included.
    public var maximumFilters = 64
    /// Items of one `in.(…)` list.
    public var maximumListItems = 1000
    /// Entries of `select=`, at every level together.
    public var maximumSelectItems = 200
    /// How deep `and(…)`/`or(…)` trees and embeddings may nest.
    public var maximumNesting = 8
    /// Values bound into one statement (filter operands, list items, JSON keys).
    public var maximumBoundValues = 10_000
    /// Bytes of the query string.
    public var maximumQueryBytes = 16 * 1024
    /// Rows one insert may carry.
    public var maximumInsertRows = 1000
    /// How long one request's SQL may run before PostgreSQL cancels it: a setting of the
    /// table API's connections (``connectionSettings``).
    public var statementTimeoutMilliseconds = 8000

    public init() {}

    /// The settings every connection of the table API's pool starts with: a statement's own
    /// settings take effect after PostgreSQL has armed its timeout.
    public var connectionSettings: [(String, String)] {
        [("statement_timeout", String(statementTimeoutMilliseconds))]
    }
}
