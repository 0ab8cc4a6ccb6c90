import PostgresNIO

/// SQL text being written with its bound parameters: every value a client sends is a
/// parameter; names are quoted, and only names the ``SchemaCache`` knows are written.
struct SQLText {
    var text = ""
    var bindings = PostgresBindings()
    private var parameters = 0
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

    var query: PostgresQuery { PostgresQuery(unsafeSQL: text, binds: bindings) }

    /// `"name"` with embedded quotes doubled.
    static func identifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `"public"."table"`.
    static func table(_ name: String) -> String {
        "\"public\"." + identifier(name)
    }
}
