// Idempotence: policies that make a migration fail when it runs a second time.

extension RuleDescriptor {
    /// `CREATE POLICY` without a matching `DROP POLICY IF EXISTS` earlier in the same file.
    public static let policyWithoutDrop = RuleDescriptor(
        id: "policy-without-drop", category: .idempotence,
        message: "CREATE POLICY without a matching DROP POLICY IF EXISTS before it in the same file fails when the migration runs again.",
        hint: "Put `DROP POLICY IF EXISTS <policy> ON <table>;` directly before the CREATE POLICY.")

    /// `CREATE POLICY IF NOT EXISTS`, which PostgreSQL does not accept.
    public static let policyIfNotExists = RuleDescriptor(
        id: "policy-if-not-exists", category: .idempotence,
        message: "CREATE POLICY IF NOT EXISTS is not valid PostgreSQL.",
        hint: "Write `DROP POLICY IF EXISTS <policy> ON <table>;` followed by a plain CREATE POLICY.")
}

struct PolicyIdempotenceRule: StatementRule {
    func check(_ s: AnalyzedStatement, in context: FileContext) -> [RuleHit] {
        guard case .createPolicy(let name, let table, let ifNotExists) = s.kind else { return [] }
        var hits: [RuleHit] = []
        let drop = "DROP POLICY IF EXISTS \(quoteIfNeeded(name)) ON \(table.map(\.description) ?? "<table>");"
        if ifNotExists {
            hits.append(RuleHit(.policyIfNotExists, hint: "Write `\(drop)` followed by a plain CREATE POLICY."))
        }
        // Under an IF inside a DO block or function the creation is already guarded.
        if !s.statement.isConditional, !context.droppedPolicies.contains(FileContext.policyKey(name, table)) {
            hits.append(RuleHit(.policyWithoutDrop, detail: "policy \(name)",
                                hint: "Put `\(drop)` directly before the CREATE POLICY."))
        }
        return hits
    }

    private func quoteIfNeeded(_ name: String) -> String {
        let plain = name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
        return plain && !(name.first?.isNumber ?? true) ? name : "\"\(name.replacingOccurrences(of: "\"", with: "\"\""))\""
    }
}
