/// The concern a lint rule guards.
public enum RuleCategory: String, Sendable, Codable, CaseIterable {
    case destructive, security, idempotence, locking, governance, markers, syntax
}

/// A lint rule's contract: its id, one-line message and fix hint.
public struct RuleDescriptor: Sendable, Hashable, Codable {
    /// The id used in findings and in `-- lint:allow <rule-id> reason: …` markers.
    public let id: String
    public let category: RuleCategory
    /// One line saying what is wrong.
    public let message: String
    /// One line saying how to fix it.
    public let hint: String
    /// Whether an allow marker above a statement can silence it (statement rules only).
    public let allowable: Bool

    init(id: String, category: RuleCategory, message: String, hint: String, allowable: Bool = true) {
        self.id = id
        self.category = category
        self.message = message
        self.hint = hint
        self.allowable = allowable
    }
}

/// Every rule the linter knows, in report order.
public enum Rules {
    /// All rules, grouped by category.
    public static let all: [RuleDescriptor] = [
        .dropTable, .dropColumn, .truncate, .deleteWithoutWhere, .updateWithoutWhere, .dropSchema, .dropDatabase,
        .tableWithoutRLS, .securityDefinerWithoutSearchPath, .grantToPublic, .disableRLS,
        .policyWithoutDrop, .policyIfNotExists,
        .indexWithoutConcurrently, .alterColumnType, .notNullWithoutDefault, .constraintWithoutNotValid,
        .duplicateVersion, .checksumChanged,
        .allowMissingReason, .allowUnknownRule,
        .parseError,
    ]

    /// The ids of all rules, in the order of `all`.
    public static let ids: [String] = all.map(\.id)

    private static let byID: [String: RuleDescriptor] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })

    /// The rule with this id, if any.
    public static func descriptor(for id: String) -> RuleDescriptor? {
        byID[id]
    }
}

/// Project-specific knobs of the rules; the defaults fit a Supabase-style database.
public struct LintConfiguration: Sendable, Equatable {
    /// Schemas served to clients by the API; tables created there need row-level security.
    public var exposedSchemas: Set<String>
    /// Roles that stand for unauthenticated callers; table grants to them are findings.
    public var anonymousRoles: Set<String>

    public init(exposedSchemas: Set<String> = ["public"], anonymousRoles: Set<String> = ["anon"]) {
        self.exposedSchemas = exposedSchemas
        self.anonymousRoles = anonymousRoles
    }
}

/// One rule violation found in a statement, before allow markers are applied.
struct RuleHit: Sendable {
    var rule: RuleDescriptor
    /// Specifics appended to the rule's message (a name, a version …).
    var detail: String?
    /// A hint specific to this statement, replacing the rule's general one.
    var hint: String?

    init(_ rule: RuleDescriptor, detail: String? = nil, hint: String? = nil) {
        self.rule = rule
        self.detail = detail
        self.hint = hint
    }
}

/// A statement together with what it was classified as.
struct AnalyzedStatement: Sendable {
    let statement: SQLStatement
    let kind: StatementKind
    var tokens: TokenView { statement.tokens }
}

/// What the linter knows about the migration file it is in, up to the current statement.
struct FileContext: Sendable {
    let configuration: LintConfiguration
    /// Keys (`schema.name`) of tables created earlier in this file.
    var createdTables: Set<String> = []
    /// Keys (`policy@schema.table`) of `DROP POLICY IF EXISTS` seen earlier in this file.
    var droppedPolicies: Set<String> = []
    /// Keys of tables whose row-level security this file enables.
    var rlsEnabledTables: Set<String> = []

    init(configuration: LintConfiguration) {
        self.configuration = configuration
    }

    /// Whether `table` existed before this migration: it was not created earlier in this
    /// file. Unknown (unparsed) names count as existing.
    func isExisting(_ table: ObjectName?) -> Bool {
        guard let table else { return true }
        return !createdTables.contains(table.key())
    }

    static func policyKey(_ name: String, _ table: ObjectName?) -> String {
        "\(name)@\(table?.key() ?? "?")"
    }
}

/// A rule that looks at one statement at a time.
protocol StatementRule: Sendable {
    func check(_ statement: AnalyzedStatement, in context: FileContext) -> [RuleHit]
}

/// The statement rules, in the order their findings are reported for one statement.
enum StatementRules {
    static let all: [any StatementRule] = [
        DropTableRule(), DropColumnRule(), TruncateRule(), WithoutWhereRule(), DropSchemaRule(), DropDatabaseRule(),
        SecurityDefinerSearchPathRule(), GrantToPublicRule(), DisableRLSRule(),
        PolicyIdempotenceRule(),
        IndexConcurrentlyRule(), AlterColumnTypeRule(), NotNullWithoutDefaultRule(), ConstraintNotValidRule(),
    ]
}
