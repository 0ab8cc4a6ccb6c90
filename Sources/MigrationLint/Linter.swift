/// Lints SQL migrations statement by statement: the entry point of this module.
public struct MigrationLinter: Sendable {
    /// The schemas and roles the security rules consider exposed.
    public var configuration: LintConfiguration

    public init(configuration: LintConfiguration = LintConfiguration()) {
        self.configuration = configuration
    }

    /// Lints `files`, given in the order they are applied; a table created in one file counts
    /// as existing in the files after it. Includes duplicate-version findings. Findings come
    /// in file order, then by line and column.
    public func lint(_ files: [MigrationFile]) -> [Finding] {
        lint(files, applied: [])
    }

    /// `lint(files)` plus `checkApplied(files, applied:)`, each file's findings together.
    public func lint(_ files: [MigrationFile], applied: [AppliedMigration]) -> [Finding] {
        let fileLevel = GovernanceRules.duplicateVersions(files) + checkApplied(files, applied: applied)
        var findings: [Finding] = []
        for file in files {
            findings.append(contentsOf: fileLevel.filter { $0.path == file.path })
            findings.append(contentsOf: lint(file))
        }
        return findings
    }

    /// Checksum findings: files whose text differs from what the database recorded under
    /// their file name. Files the database has not applied are not compared.
    public func checkApplied(_ files: [MigrationFile], applied: [AppliedMigration]) -> [Finding] {
        GovernanceRules.changedChecksums(files, applied: applied)
    }

    /// Lints one file on its own (no duplicate-version check).
    public func lint(_ file: MigrationFile) -> [Finding] {
        var linter = FileLinter(path: file.path, configuration: configuration)
        linter.run(file.text)
        return linter.sortedFindings()
    }
}

/// Where a statement is and which rules its allow markers silence.
struct StatementSite: Sendable {
    var line: Int
    var column: Int
    /// The statement, whose first line is quoted in findings (computed only when needed).
    var statement: SQLStatement?
    /// The text quoted when there is no statement (a marker comment).
    var text: String?
    var allowed: Set<String>

    var excerpt: String? { statement?.excerpt ?? text }
}

/// Lints the statements of one file, carrying what earlier statements created.
struct FileLinter {
    static let maximumBodyDepth = 8

    let path: String
    var context: FileContext
    var rowLevelSecurity = RowLevelSecurityTracker()
    var findings: [Finding] = []

    init(path: String, configuration: LintConfiguration) {
        self.path = path
        self.context = FileContext(configuration: configuration)
    }

    mutating func run(_ text: String) {
        let source = Tokenizer(text).tokenize()
        let markers = AllowMarkerIndex(source: source)
        report(markers)
        report(source.problems)
        var statements: [SQLStatement] = []
        for piece in StatementSplitter.split(source) {
            let statement = SQLStatement(source: source, range: piece.range)
            statements.append(statement)
            if piece.unbalanced { reportUnbalanced(statement) }
        }
        lint(statements, markers: markers)
        for table in rowLevelSecurity.missing(in: context) {
            emit(RuleHit(.tableWithoutRLS, detail: "table \(table.name)",
                         hint: "Add `ALTER TABLE \(table.name) ENABLE ROW LEVEL SECURITY;` to the same migration, with policies for the roles that need access."),
                 at: table.site)
        }
    }

    mutating func lint(_ statements: [SQLStatement], markers: AllowMarkerIndex) {
        for statement in statements {
            let analyzed = AnalyzedStatement(statement: statement, kind: StatementClassifier.classify(statement))
            let site = StatementSite(line: statement.line, column: statement.column, statement: statement,
                                     allowed: markers.allowedRules(forTokenAt: statement.range.lowerBound))
            for rule in StatementRules.all {
                for hit in rule.check(analyzed, in: context) { emit(hit, at: site) }
            }
            rowLevelSecurity.record(analyzed, context: &context, site: { site })
            switch analyzed.kind {
            case .createTable(let info):
                context.createdTables.insert(info.name.key())
            case .dropPolicy(let name, let table, true):
                context.droppedPolicies.insert(FileContext.policyKey(name, table))
            default:
                break
            }
            if statement.depth < Self.maximumBodyDepth, let body = FunctionBody.extract(from: analyzed) {
                var bodyMarkers = markers
                if body.isOwnSource {
                    bodyMarkers = AllowMarkerIndex(source: body.source)
                    report(bodyMarkers)
                    report(body.source.problems)
                }
                for statement in body.unbalanced { reportUnbalanced(statement) }
                lint(body.statements, markers: bodyMarkers)
            }
        }
    }

    mutating func emit(_ hit: RuleHit, at site: StatementSite) {
        if hit.rule.allowable && site.allowed.contains(hit.rule.id) { return }
        findings.append(Finding(rule: hit.rule, detail: hit.detail, hint: hit.hint, path: path,
                                line: site.line, column: site.column, statement: site.excerpt))
    }

    mutating func report(_ markers: AllowMarkerIndex) {
        for marker in markers.all {
            let site = StatementSite(line: marker.line, column: marker.column, text: marker.text, allowed: [])
            if marker.ruleIDs.isEmpty {
                emit(RuleHit(.allowUnknownRule, detail: "it names no rule"), at: site)
            }
            for id in marker.invalidIDs {
                let why = Rules.descriptor(for: id) == nil ? "unknown rule \(id)" : "\(id) cannot be allowed by a marker"
                emit(RuleHit(.allowUnknownRule, detail: why), at: site)
            }
            if marker.reason == nil {
                emit(RuleHit(.allowMissingReason), at: site)
            }
        }
    }

    mutating func report(_ problems: [TokenizeProblem]) {
        for problem in problems {
            emit(RuleHit(.parseError, detail: problem.what),
                 at: StatementSite(line: problem.line, column: problem.column, allowed: []))
        }
    }

    mutating func reportUnbalanced(_ statement: SQLStatement) {
        emit(RuleHit(.parseError, detail: "the statement never ends: a parenthesis or BEGIN ATOMIC block is left open"),
             at: StatementSite(line: statement.line, column: statement.column, statement: statement, allowed: []))
    }

    /// Findings by position, then in rule order; exact repeats removed.
    func sortedFindings() -> [Finding] {
        let order = Dictionary(uniqueKeysWithValues: Rules.all.enumerated().map { ($1.id, $0) })
        var seen = Set<Finding>()
        var unique: [Finding] = []
        for finding in findings where seen.insert(finding).inserted {
            unique.append(finding)
        }
        return unique.enumerated().sorted { a, b in
            let (x, y) = (a.element, b.element)
            if x.line != y.line { return x.line < y.line }
            if x.column != y.column { return x.column < y.column }
            let (rx, ry) = (order[x.ruleID] ?? 0, order[y.ruleID] ?? 0)
            if rx != ry { return rx < ry }
            return a.offset < b.offset
        }.map(\.element)
    }
}
