// Security: row-level security, SECURITY DEFINER functions and grants to everyone.

extension RuleDescriptor {
    /// `CREATE TABLE` in an exposed schema without `ENABLE ROW LEVEL SECURITY` in the same migration.
    public static let tableWithoutRLS = RuleDescriptor(
        id: "table-without-rls", category: .security,
        message: "Table in an exposed schema is created without ENABLE ROW LEVEL SECURITY in the same migration.",
        hint: "Add `ALTER TABLE <table> ENABLE ROW LEVEL SECURITY;` to the same migration, with policies for the roles that need access.")

    /// `SECURITY DEFINER` routine without `SET search_path`.
    public static let securityDefinerWithoutSearchPath = RuleDescriptor(
        id: "security-definer-without-search-path", category: .security,
        message: "SECURITY DEFINER function without SET search_path runs with its owner's rights on objects a caller can put on the search path.",
        hint: "Add `SET search_path = ''` to the function's options and schema-qualify every name in its body.")

    /// `GRANT … ON <table> TO PUBLIC` or to the anonymous role.
    public static let grantToPublic = RuleDescriptor(
        id: "grant-to-public", category: .security,
        message: "Table privileges granted to PUBLIC or the anonymous role reach every caller, signed in or not.",
        hint: "Grant to the roles that need access (such as authenticated) and guard rows with row-level security policies.")

    /// `ALTER TABLE … DISABLE ROW LEVEL SECURITY`.
    public static let disableRLS = RuleDescriptor(
        id: "disable-rls", category: .security,
        message: "DISABLE ROW LEVEL SECURITY exposes every row to any role that has privileges on the table.",
        hint: "Keep row-level security enabled and change the table's policies instead.")
}

struct SecurityDefinerSearchPathRule: StatementRule {
    func check(_ s: AnalyzedStatement, in context: FileContext) -> [RuleHit] {
        guard case .createRoutine(let info) = s.kind, info.securityDefiner, !info.setsSearchPath else { return [] }
        return [RuleHit(.securityDefinerWithoutSearchPath)]
    }
}

struct GrantToPublicRule: StatementRule {
    func check(_ s: AnalyzedStatement, in context: FileContext) -> [RuleHit] {
        guard case .grant(let info) = s.kind, info.onTables else { return [] }
        let exposed = info.grantees.filter { $0 == "public" || context.configuration.anonymousRoles.contains($0) }
        guard !exposed.isEmpty else { return [] }
        let names = exposed.map { $0 == "public" ? "PUBLIC" : $0 }
        return [RuleHit(.grantToPublic, detail: "to \(names.joined(separator: ", "))")]
    }
}

struct DisableRLSRule: StatementRule {
    func check(_ s: AnalyzedStatement, in context: FileContext) -> [RuleHit] {
        guard case .alterTable(_, let actions) = s.kind else { return [] }
        return actions.contains { $0.matches(0, "disable", "row", "level", "security") } ? [RuleHit(.disableRLS)] : []
    }
}

/// Tracks the tables of exposed schemas a migration creates and whether it enables their
/// row-level security; reported at the end of the file, on the `CREATE TABLE`.
struct RowLevelSecurityTracker: Sendable {
    struct Created: Sendable {
        var key: String
        var name: ObjectName
        var site: StatementSite
    }

    private(set) var created: [Created] = []

    mutating func record(_ s: AnalyzedStatement, context: inout FileContext, site: () -> StatementSite) {
        switch s.kind {
        case .createTable(let info):
            guard !info.temporary else { return }
            let schema = info.name.schema ?? "public"
            guard context.configuration.exposedSchemas.contains(schema) else { return }
            created.append(Created(key: info.name.key(), name: info.name, site: site()))
        case .alterTable(let table, let actions):
            guard let table else { return }
            if actions.contains(where: { $0.matches(0, "enable", "row", "level", "security") }) {
                context.rlsEnabledTables.insert(table.key())
            }
        default:
            break
        }
    }

    /// The tables still without row-level security at the end of the file.
    func missing(in context: FileContext) -> [Created] {
        created.filter { !context.rlsEnabledTables.contains($0.key) }
    }
}
