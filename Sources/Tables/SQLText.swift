import Database
import PostgresNIO

/// SQL text being written with its bound parameters: every value a client sends is a
/// parameter; names are quoted, and only names the ``SchemaCache`` knows are written.
struct SQLText {
    /// How the statement names its bound values.
    enum Placeholders {
        /// `$1`, `$2`, …: the statement's own parameters.
        case positional
        /// `$1[1]`, `$1[2]`, …: elements of a ``CallerStatement``'s one text array.
        case callerStatement
    }

    var text = ""
    /// The bound values, in order.
    private(set) var values: [String] = []
    let placeholders: Placeholders
    private var aliases = 0

    init(placeholders: Placeholders = .positional) {
        self.placeholders = placeholders
    }

    /// Binds `value` as text and returns its placeholder (`$3`, or `$1[3]`).
    mutating func bind(_ value: String) -> String {
        values.append(value)
        switch placeholders {
        case .positional: return "$\(values.count)"
        case .callerStatement: return CallerStatement.placeholder(values.count)
        }
    }

    /// A fresh table alias (`_t1`, `_t2`, …) for a nested query.
    mutating func nextAlias() -> String {
        aliases += 1
        return "_t\(aliases)"
    }

    /// The statement (written with ``Placeholders/positional``), once its bound values are
    /// within `limits` (PostgreSQL takes at most 65 535 parameters, and PostgresNIO counts
    /// them in 16 bits).
    func query(within limits: TableLimits) throws -> PostgresQuery {
        try check(limits)
        var bindings = PostgresBindings(capacity: values.count)
        for value in values { bindings.append(value) }
        return PostgresQuery(unsafeSQL: text, binds: bindings)
    }

    /// The statement (written with ``Placeholders/callerStatement``) to run as a caller, once
    /// its bound values are within `limits`; `columns` as ``CallerStatement/columns``.
    func callerStatement(within limits: TableLimits, columns: String?) throws -> CallerStatement {
        try check(limits)
        return CallerStatement(sql: text, values: values, columns: columns)
    }

    private func check(_ limits: TableLimits) throws {
        guard values.count <= limits.maximumBoundValues else {
            throw TableError.limit("query", "at most \(limits.maximumBoundValues) values (filters, list items, JSON keys) in one request")
        }
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
