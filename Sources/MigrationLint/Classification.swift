/// A possibly schema-qualified object name, folded as PostgreSQL folds it.
struct ObjectName: Hashable, Sendable, CustomStringConvertible {
    var schema: String?
    var name: String

    /// `schema.name`, with unqualified names resolved to `defaultSchema`.
    func key(defaultSchema: String = "public") -> String {
        "\(schema ?? defaultSchema).\(name)"
    }

    var description: String {
        schema.map { "\($0).\(name)" } ?? name
    }
}

extension TokenView {
    /// Parses `name`, `schema.name` or `db.schema.name` at `i`; returns the name and the
    /// index after it.
    func objectName(at i: Int) -> (ObjectName, Int)? {
        guard i < count, self[i].isIdentifier else { return nil }
        var parts = [self[i].text]
        var k = i + 1
        while k + 1 < count, self[k].kind == .dot, self[k + 1].isIdentifier {
            parts.append(self[k + 1].text)
            k += 2
        }
        let name = parts[parts.count - 1]
        let schema = parts.count >= 2 ? parts[parts.count - 2] : nil
        return (ObjectName(schema: schema, name: name), k)
    }

    /// Skips `IF EXISTS` / `IF NOT EXISTS` at `i`; returns the next index and whether it was there.
    func skipIfExists(_ i: Int) -> (Int, Bool) {
        if matches(i, "if", "exists") { return (i + 2, true) }
        if matches(i, "if", "not", "exists") { return (i + 3, true) }
        return (i, false)
    }
}

/// A `CREATE TABLE`.
struct CreateTableInfo: Sendable {
    var name: ObjectName
    var temporary: Bool
}

/// A `CREATE FUNCTION` or `CREATE PROCEDURE`: options and where its body is.
struct RoutineInfo: Sendable {
    /// `LANGUAGE …` in lower case, nil when not given.
    var language: String?
    var securityDefiner: Bool
    var setsSearchPath: Bool
    /// Index (in the statement's view) of the `AS` string body, if any.
    var bodyTokenIndex: Int?
    /// View-index range of an SQL-standard `BEGIN ATOMIC … END` body's inner tokens.
    var atomicBody: Range<Int>?
}

/// A `GRANT … ON … TO …` or the `GRANT` of `ALTER DEFAULT PRIVILEGES`.
struct GrantInfo: Sendable {
    /// The privileges apply to tables (or views), including `ALL TABLES IN SCHEMA` and
    /// default privileges `ON TABLES`.
    var onTables: Bool
    /// Grantees: `public` for the PUBLIC pseudo-role, otherwise the role name.
    var grantees: [String]
}

/// What a statement is, read from its leading keywords.
enum StatementKind: Sendable {
    case createTable(CreateTableInfo)
    case createIndex(table: ObjectName?, concurrently: Bool)
    case createRoutine(RoutineInfo)
    case createPolicy(name: String, table: ObjectName?, ifNotExists: Bool)
    case dropPolicy(name: String, table: ObjectName?, ifExists: Bool)
    /// `ALTER TABLE name action, action …`; each action is a comma-separated part.
    case alterTable(table: ObjectName?, actions: [TokenView])
    /// `DROP <objectType> …` for every other object type; `objectType` is its first keyword.
    case drop(objectType: String)
    case truncate
    case grant(GrantInfo)
    case doBlock(bodyTokenIndex: Int?, language: String)
    case other
}

enum StatementClassifier {
    static func classify(_ statement: SQLStatement) -> StatementKind {
        let t = statement.tokens
        guard let first = t.word(0) else { return .other }
        switch first {
        case "create": return classifyCreate(t, statement.source)
        case "alter": return classifyAlter(t)
        case "drop": return classifyDrop(t)
        case "truncate": return .truncate
        case "grant": return classifyGrant(t, from: 0)
        case "do": return classifyDo(t, statement.source)
        default: return .other
        }
    }

    /// A `LANGUAGE` argument: an identifier or a string constant, lowercased.
    private static func languageName(_ token: Token, _ source: TokenizedSource) -> String? {
        if token.isIdentifier { return token.text.lowercased() }
        if token.kind == .string || token.kind == .escapeString { return source.stringValue(of: token).lowercased() }
        return nil
    }

    private static let createModifiers: Set<String> = [
        "global", "local", "temp", "temporary", "unlogged", "unique", "trusted", "procedural",
        "constraint", "recursive", "materialized", "default", "or", "replace",
    ]

    private static func classifyCreate(_ t: TokenView, _ source: TokenizedSource) -> StatementKind {
        var i = 1
        var temporary = false
        while let w = t.word(i), createModifiers.contains(w) {
            if w == "temp" || w == "temporary" { temporary = true }
            i += 1
        }
        guard let object = t.word(i) else { return .other }
        switch object {
        case "table":
            let (k, _) = t.skipIfExists(i + 1)
            guard let (name, _) = t.objectName(at: k) else { return .other }
            return .createTable(CreateTableInfo(name: name, temporary: temporary))
        case "index":
            var k = i + 1
            var concurrently = false
            if t.isWord(k, "concurrently") {
                concurrently = true
                k += 1
            }
            guard let on = t.firstTopLevel("on", from: k) else {
                return .createIndex(table: nil, concurrently: concurrently)
            }
            var n = on + 1
            if t.isWord(n, "only") { n += 1 }
            return .createIndex(table: t.objectName(at: n)?.0, concurrently: concurrently)
        case "function", "procedure":
            return .createRoutine(routineInfo(t, source, from: i + 1))
        case "policy":
            var k = i + 1
            let (afterIf, ifNotExists) = t.skipIfExists(k)
            k = afterIf
            guard k < t.count, t[k].isIdentifier else { return .other }
            let name = t[k].text
            var table: ObjectName?
            if t.isWord(k + 1, "on") { table = t.objectName(at: k + 2)?.0 }
            return .createPolicy(name: name, table: table, ifNotExists: ifNotExists)
        default:
            return .other
        }
    }

    private static func routineInfo(_ t: TokenView, _ source: TokenizedSource, from: Int) -> RoutineInfo {
        var info = RoutineInfo(language: nil, securityDefiner: false, setsSearchPath: false,
                               bodyTokenIndex: nil, atomicBody: nil)
        var depth = 0
        var i = from
        while i < t.count {
            let token = t[i]
            switch token.kind {
            case .leftParen: depth += 1
            case .rightParen: depth = max(0, depth - 1)
            case .word where depth == 0:
                switch token.text {
                case "language":
                    if i + 1 < t.count { info.language = languageName(t[i + 1], source) }
                case "security":
                    if t.isWord(i + 1, "definer") { info.securityDefiner = true }
                case "set":
                    if t.isWord(i + 1, "search_path") { info.setsSearchPath = true }
                case "as":
                    if info.bodyTokenIndex == nil, i + 1 < t.count, t[i + 1].isStringLiteral {
                        info.bodyTokenIndex = i + 1
                    }
                case "begin":
                    if t.isWord(i + 1, "atomic") {
                        // The body runs to the statement's last `END`.
                        var end = t.count
                        if t.isWord(t.count - 1, "end") { end = t.count - 1 }
                        info.atomicBody = (i + 2)..<max(i + 2, end)
                        return info
                    }
                default:
                    break
                }
            default:
                break
            }
            i += 1
        }
        return info
    }

    private static func classifyAlter(_ t: TokenView) -> StatementKind {
        if t.isWord(1, "table") {
            var i = 2
            if t.matches(i, "if", "exists") { i += 2 }
            if t.isWord(i, "only") { i += 1 }
            guard let (name, next) = t.objectName(at: i) else { return .other }
            var k = next
            if k < t.count, t[k].kind == .op, t[k].text == "*" { k += 1 }
            return .alterTable(table: name, actions: t.splitTopLevelCommas(from: k))
        }
        if t.matches(1, "default", "privileges") {
            guard let grant = t.firstTopLevel("grant", from: 3) else { return .other }
            return classifyGrant(t, from: grant)
        }
        return .other
    }

    private static func classifyDrop(_ t: TokenView) -> StatementKind {
        guard let object = t.word(1) else { return .other }
        if object == "policy" {
            let (k, ifExists) = t.skipIfExists(2)
            guard k < t.count, t[k].isIdentifier else { return .other }
            var table: ObjectName?
            if t.isWord(k + 1, "on") { table = t.objectName(at: k + 2)?.0 }
            return .dropPolicy(name: t[k].text, table: table, ifExists: ifExists)
        }
        return .drop(objectType: object)
    }

    /// Object types of `GRANT … ON <type>` that are not tables.
    private static let nonTableObjects: Set<String> = [
        "sequence", "sequences", "database", "domain", "foreign", "function", "functions", "procedure",
        "procedures", "routine", "routines", "language", "large", "schema", "schemas", "tablespace", "type",
        "types", "parameter",
    ]

    /// `GRANT privileges ON objects TO grantees …` starting at `from` (the `GRANT` keyword).
    private static func classifyGrant(_ t: TokenView, from: Int) -> StatementKind {
        guard let on = t.firstTopLevel("on", from: from + 1) else {
            // GRANT role TO role: membership, not object privileges.
            return .grant(GrantInfo(onTables: false, grantees: []))
        }
        var onTables: Bool
        if t.isWord(on + 1, "table") || t.isWord(on + 1, "tables") {
            onTables = true
        } else if t.isWord(on + 1, "all") {
            onTables = t.isWord(on + 2, "tables")
        } else if let w = t.word(on + 1), nonTableObjects.contains(w) {
            onTables = false
        } else {
            onTables = on + 1 < t.count && t[on + 1].isIdentifier
        }
        guard let to = t.firstTopLevel("to", from: on + 1) else {
            return .grant(GrantInfo(onTables: onTables, grantees: []))
        }
        var end = t.count
        if let with = t.firstTopLevel("with", from: to + 1) { end = min(end, with) }
        if let granted = t.firstTopLevel("granted", from: to + 1) { end = min(end, granted) }
        var grantees: [String] = []
        for part in t.splitTopLevelCommas(from: to + 1, to: end) {
            var k = 0
            if part.isWord(k, "group") { k += 1 }
            guard k < part.count, part[k].isIdentifier else { continue }
            grantees.append(part[k].text)
        }
        return .grant(GrantInfo(onTables: onTables, grantees: grantees))
    }

    private static func classifyDo(_ t: TokenView, _ source: TokenizedSource) -> StatementKind {
        var language = "plpgsql"
        var body: Int?
        var i = 1
        while i < t.count {
            if t.isWord(i, "language"), i + 1 < t.count, let name = languageName(t[i + 1], source) {
                language = name
                i += 2
                continue
            }
            if body == nil, t[i].isStringLiteral { body = i }
            i += 1
        }
        return .doBlock(bodyTokenIndex: body, language: language)
    }
}
