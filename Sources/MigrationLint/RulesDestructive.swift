// Destructive statements: they delete data or objects that other code may still use.

extension RuleDescriptor {
    /// `DROP TABLE`.
    public static let dropTable = RuleDescriptor(
        id: "drop-table", category: .destructive,
        message: "DROP TABLE deletes the table and all of its rows, and breaks code that still uses it.",
        hint: "Stop using the table in a released version first, then drop it in a later migration with `-- lint:allow drop-table reason: …`.")

    /// `ALTER TABLE … DROP [COLUMN]`.
    public static let dropColumn = RuleDescriptor(
        id: "drop-column", category: .destructive,
        message: "Dropping a column deletes its data and breaks code that still reads or writes it.",
        hint: "Stop reading and writing the column in a released version first, then drop it in a later migration with `-- lint:allow drop-column reason: …`.")

    /// `TRUNCATE`.
    public static let truncate = RuleDescriptor(
        id: "truncate", category: .destructive,
        message: "TRUNCATE deletes every row of the table under an ACCESS EXCLUSIVE lock.",
        hint: "Delete only the rows you mean with `DELETE … WHERE …`, or allow it with a reason if emptying the table is intended.")

    /// `DELETE` without `WHERE`.
    public static let deleteWithoutWhere = RuleDescriptor(
        id: "delete-without-where", category: .destructive,
        message: "DELETE without WHERE deletes every row of the table.",
        hint: "Add a WHERE clause that selects the rows to delete, or allow it with a reason if emptying the table is intended.")

    /// `UPDATE` without `WHERE`.
    public static let updateWithoutWhere = RuleDescriptor(
        id: "update-without-where", category: .destructive,
        message: "UPDATE without WHERE rewrites every row of the table.",
        hint: "Add a WHERE clause that selects the rows to change (backfill big tables in batches), or allow it with a reason.")

    /// `DROP SCHEMA`.
    public static let dropSchema = RuleDescriptor(
        id: "drop-schema", category: .destructive,
        message: "DROP SCHEMA deletes the schema, and with CASCADE every table and function in it.",
        hint: "Drop the schema's objects one by one once nothing uses them, or allow it with a reason.")

    /// `DROP DATABASE`.
    public static let dropDatabase = RuleDescriptor(
        id: "drop-database", category: .destructive,
        message: "DROP DATABASE deletes a whole database; a migration must never do that.",
        hint: "Remove the statement; drop databases by hand, outside migrations.")
}

struct DropTableRule: StatementRule {
    func check(_ s: AnalyzedStatement, in context: FileContext) -> [RuleHit] {
        if case .drop("table") = s.kind { return [RuleHit(.dropTable)] }
        return []
    }
}

struct DropSchemaRule: StatementRule {
    func check(_ s: AnalyzedStatement, in context: FileContext) -> [RuleHit] {
        if case .drop("schema") = s.kind { return [RuleHit(.dropSchema)] }
        return []
    }
}

struct DropDatabaseRule: StatementRule {
    func check(_ s: AnalyzedStatement, in context: FileContext) -> [RuleHit] {
        if case .drop("database") = s.kind { return [RuleHit(.dropDatabase)] }
        return []
    }
}

struct TruncateRule: StatementRule {
    func check(_ s: AnalyzedStatement, in context: FileContext) -> [RuleHit] {
        if case .truncate = s.kind { return [RuleHit(.truncate)] }
        return []
    }
}

struct DropColumnRule: StatementRule {
    func check(_ s: AnalyzedStatement, in context: FileContext) -> [RuleHit] {
        guard case .alterTable(_, let actions) = s.kind else { return [] }
        var hits: [RuleHit] = []
        for action in actions where action.isWord(0, "drop") {
            // DROP CONSTRAINT is the only other top-level DROP action.
            if action.isWord(1, "constraint") { continue }
            var k = action.isWord(1, "column") ? 2 : 1
            (k, _) = action.skipIfExists(k)
            let column = k < action.count && action[k].isIdentifier ? action[k].text : nil
            hits.append(RuleHit(.dropColumn, detail: column.map { "column \($0)" }))
        }
        return hits
    }
}

/// `DELETE` and `UPDATE` without `WHERE`, wherever they appear in a statement: at its top,
/// after `WITH`, inside data-modifying CTEs, `EXPLAIN ANALYZE`, `COPY (…)` and rule actions.
struct WithoutWhereRule: StatementRule {
    /// Words that cannot be the target table of an `UPDATE`, so `UPDATE` before them is a
    /// privilege, trigger event, lock strength or `ON UPDATE` action rather than DML.
    private static let notATarget: Set<String> = [
        "set", "of", "on", "or", "to", "from", "using", "where", "nowait", "skip", "returning", "cascade",
        "restrict", "no",
    ]

    func check(_ s: AnalyzedStatement, in context: FileContext) -> [RuleHit] {
        // A routine's SQL-standard body is linted statement by statement on its own.
        if case .createRoutine = s.kind { return [] }
        let t = s.tokens
        var hits: [RuleHit] = []
        var i = 0
        while i < t.count {
            if t[i].kind == .word {
                if t[i].text == "delete", t.isWord(i + 1, "from") {
                    if !Self.hasWhere(t, from: i + 2) { hits.append(RuleHit(.deleteWithoutWhere)) }
                } else if t[i].text == "update", let set = Self.updateSetIndex(t, after: i) {
                    if !Self.hasWhere(t, from: set + 1) { hits.append(RuleHit(.updateWithoutWhere)) }
                }
            }
            i += 1
        }
        return hits
    }

    /// For `UPDATE [ONLY] name [*] [[AS] alias] SET`, the index of `SET`.
    static func updateSetIndex(_ t: TokenView, after update: Int) -> Int? {
        var k = update + 1
        if t.isWord(k, "only") { k += 1 }
        guard k < t.count, t[k].isIdentifier else { return nil }
        if t[k].kind == .word, notATarget.contains(t[k].text) { return nil }
        guard let (_, next) = t.objectName(at: k) else { return nil }
        k = next
        if k < t.count, t[k].kind == .op, t[k].text == "*" { k += 1 }
        if t.isWord(k, "set") { return k }
        if t.isWord(k, "as") { k += 1 }
        if k < t.count, t[k].isIdentifier, !t.isWord(k, "set") { k += 1 }
        return t.isWord(k, "set") ? k : nil
    }

    /// Whether a `WHERE` follows at the same parenthesis depth before the DML ends (the
    /// statement's end, or the `)` closing a CTE or subquery that holds it).
    static func hasWhere(_ t: TokenView, from: Int) -> Bool {
        var depth = 0
        var i = from
        while i < t.count {
            switch t[i].kind {
            case .leftParen, .leftBracket: depth += 1
            case .rightParen, .rightBracket:
                if depth == 0 { return false }
                depth -= 1
            case .word where depth == 0 && t[i].text == "where":
                return true
            default:
                break
            }
            i += 1
        }
        return false
    }
}
