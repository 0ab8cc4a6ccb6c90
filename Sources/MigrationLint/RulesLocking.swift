// Locking: statements that block reads or writes of a table that already holds data.
// They apply only to existing tables: a table created earlier in the same migration file
// is new and empty, so nothing waits on it.

extension RuleDescriptor {
    /// `CREATE INDEX` on an existing table without `CONCURRENTLY`.
    public static let indexWithoutConcurrently = RuleDescriptor(
        id: "index-without-concurrently", category: .locking,
        message: "CREATE INDEX without CONCURRENTLY blocks writes to an existing table until the index is built.",
        hint: "Use `CREATE INDEX CONCURRENTLY` in a migration that does not run inside a transaction.")

    /// `ALTER TABLE … ALTER COLUMN … TYPE` on an existing table.
    public static let alterColumnType = RuleDescriptor(
        id: "alter-column-type", category: .locking,
        message: "ALTER COLUMN … TYPE rewrites an existing table and its indexes under an ACCESS EXCLUSIVE lock.",
        hint: "Add a new column, backfill it in batches, move readers and writers to it, then drop the old one; allow with a reason a change that needs no rewrite (e.g. varchar(n) → text).")

    /// `ALTER TABLE … ADD COLUMN … NOT NULL` without a default on an existing table.
    public static let notNullWithoutDefault = RuleDescriptor(
        id: "not-null-without-default", category: .locking,
        message: "Adding a NOT NULL column without a DEFAULT fails on an existing table that has rows.",
        hint: "Add the column with a constant DEFAULT, or add it nullable, backfill it, then set NOT NULL through a NOT VALID check.")

    /// `ALTER TABLE … ADD` a foreign key or check constraint without `NOT VALID` on an existing table.
    public static let constraintWithoutNotValid = RuleDescriptor(
        id: "constraint-without-not-valid", category: .locking,
        message: "Adding a foreign key or check constraint without NOT VALID scans an existing table while blocking its writes.",
        hint: "Add the constraint with NOT VALID, then run `ALTER TABLE … VALIDATE CONSTRAINT …` in a later migration.")
}

struct IndexConcurrentlyRule: StatementRule {
    func check(_ s: AnalyzedStatement, in context: FileContext) -> [RuleHit] {
        guard case .createIndex(let table, let concurrently) = s.kind, !concurrently,
              context.isExisting(table) else { return [] }
        return [RuleHit(.indexWithoutConcurrently, detail: table.map { "on \($0)" })]
    }
}

struct AlterColumnTypeRule: StatementRule {
    func check(_ s: AnalyzedStatement, in context: FileContext) -> [RuleHit] {
        guard case .alterTable(let table, let actions) = s.kind, context.isExisting(table) else { return [] }
        var hits: [RuleHit] = []
        for action in actions where action.isWord(0, "alter") {
            var k = action.isWord(1, "column") ? 2 : 1
            guard k < action.count, action[k].isIdentifier else { continue }
            let column = action[k].text
            k += 1
            if action.isWord(k, "type") || action.matches(k, "set", "data", "type") {
                hits.append(RuleHit(.alterColumnType, detail: "column \(column)"))
            }
        }
        return hits
    }
}

/// Keywords that begin a table constraint rather than a column in `ADD`.
private let tableConstraintStarts: Set<String> = ["constraint", "check", "foreign", "primary", "unique", "exclude"]

/// Types whose columns get a default from a sequence.
private let serialTypes: Set<String> = ["serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"]

/// The column definition of an `ADD [COLUMN] [IF NOT EXISTS] name type …` action, from the
/// column name on; nil when the action adds a table constraint or is not an `ADD`.
private func addedColumn(_ action: TokenView) -> TokenView? {
    guard action.isWord(0, "add") else { return nil }
    var k = 1
    if action.isWord(k, "column") {
        k += 1
    } else if let w = action.word(k), tableConstraintStarts.contains(w) {
        return nil
    }
    (k, _) = action.skipIfExists(k)
    guard k < action.count, action[k].isIdentifier else { return nil }
    return action.slice(k, action.count)
}

struct NotNullWithoutDefaultRule: StatementRule {
    func check(_ s: AnalyzedStatement, in context: FileContext) -> [RuleHit] {
        guard case .alterTable(let table, let actions) = s.kind, context.isExisting(table) else { return [] }
        var hits: [RuleHit] = []
        for action in actions {
            guard let column = addedColumn(action) else { continue }
            let required = column.containsTopLevel(["not", "null"]) || column.containsTopLevel(["primary", "key"])
            guard required else { continue }
            let filled = column.containsTopLevel(["default"]) || column.containsTopLevel(["generated"])
                || (column.word(1).map(serialTypes.contains) ?? false)
            if !filled { hits.append(RuleHit(.notNullWithoutDefault, detail: "column \(column[0].text)")) }
        }
        return hits
    }
}

struct ConstraintNotValidRule: StatementRule {
    func check(_ s: AnalyzedStatement, in context: FileContext) -> [RuleHit] {
        guard case .alterTable(let table, let actions) = s.kind, context.isExisting(table) else { return [] }
        var hits: [RuleHit] = []
        for action in actions where action.isWord(0, "add") {
            if let column = addedColumn(action) {
                // A column's inline REFERENCES cannot be NOT VALID; squawk flags it too.
                if column.containsTopLevel(["references"]) {
                    hits.append(RuleHit(.constraintWithoutNotValid, detail: "foreign key on new column \(column[0].text)",
                                        hint: "Add the column without REFERENCES, then `ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY … NOT VALID` and validate it in a later migration."))
                }
                continue
            }
            var k = 1
            var name: String?
            if action.isWord(k, "constraint"), k + 1 < action.count {
                name = action[k + 1].text
                k += 2
            }
            let kind: String
            if action.matches(k, "foreign", "key") {
                kind = "foreign key"
            } else if action.isWord(k, "check") {
                kind = "check constraint"
            } else {
                continue
            }
            if !action.containsTopLevel(["not", "valid"]) {
                hits.append(RuleHit(.constraintWithoutNotValid, detail: name.map { "\(kind) \($0)" } ?? kind))
            }
        }
        return hits
    }
}
