import PostgresNIO

/// SQL text being written with its bound parameters: every value a client sends is a
/// parameter; names are quoted, and only names the ``SchemaCache`` knows are written.
struct SQLText {
    var text = ""
    var bindings = PostgresBindings()
    /// How many values are bound so far.
    private(set) var parameters = 0
    private var aliases = 0

    /// Binds `value` as text and returns its placeholder (`$3`).
    mutating func bind(_ value: String) -> String {
        bindings.append(value)
        parameters += 1
        return "$\(parameters)"
    }

    /// A fresh table alias (`_t1`, `_t2`, …) for a nested query.
    mutating func nextAlias() -> String {
        aliases += 1
        return "_t\(aliases)"
    }

    /// The statement, once its bound values are within `limits` (PostgreSQL takes at most
    /// 65 535 parameters, and PostgresNIO counts them in 16 bits).
    func query(within limits: TableLimits) throws -> PostgresQuery {
        guard parameters <= limits.maximumBoundValues else {
            throw TableError.limit("query", "at most \(limits.maximumBoundValues) values (filters, list items, JSON keys) in one request")
        }
        return PostgresQuery(unsafeSQL: text, binds: bindings)
    }

    /// `"name"` with embedded quotes doubled.
    static func identifier(_ name: String) -> String {
        // Without a quote inside (almost always) no Foundation search is needed: it showed in
        // the table read's profile, once per column.
        guard name.utf8.contains(UInt8(ascii: "\"")) else { return "\"" + name + "\"" }
        return "\"" + name.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    /// `"public"."table"`.
    static func table(_ name: String) -> String {
        "\"public\"." + identifier(name)
    }
}
