import Core

/// Writes the SQL of a table request from a parsed ``TableQuery``, checking every name
/// against the ``SchemaCache``'s tables (docs/tables.md, "Reads" and "Writes").
struct TableSQL {
    /// The caller's role: `*` stands for the columns it may read.
    let role: Caller.Role
    let tables: [String: TableSchema]
    let foreignKeys: [ForeignKey]
    let limits: TableLimits

    // MARK: reads

    /// `SELECT count, json` of the rows `query` selects from `table`, at most `limit` of them;
    /// with `csvColumns`, the second column is CSV lines of those output names instead.
    func read(_ table: TableSchema, _ query: TableQuery, limit: Int, offset: Int, csvColumns: [String]? = nil, into sql: inout SQLText) throws {
        let alias = "_t0"
        let items = try selectList(query.select, of: table, alias: alias, embedded: query.embedded, path: "", into: &sql)
        let conditions = try whereClause(query.filters, of: table, alias: alias, into: &sql)
            + (try innerEmbeddings(query.select, of: table, alias: alias, embedded: query.embedded, path: "", into: &sql))
        let rows = csvColumns.map { "coalesce(string_agg(\(CSVText.lineSQL($0)), E'\\n'), '')" } ?? "coalesce(json_agg(_r), '[]')::text"
        sql.text = "SELECT count(*)::int8, \(rows) FROM (SELECT \(items) FROM \(SQLText.table(table.name)) \(alias)"
            + where_(conditions) + (try orderClause(query.order, of: table, alias: alias, select: query.select, into: &sql))
            + " LIMIT \(limit) OFFSET \(offset)) _r"
    }

    /// `SELECT count(*)` of the rows the filters select.
    func count(_ table: TableSchema, _ query: TableQuery, into sql: inout SQLText) throws {
        sql.text = "SELECT count(*)::int8 FROM " + (try filtered(table, query, into: &sql))
    }

    /// `EXPLAIN (FORMAT JSON)` of selecting the filtered rows: the planner's row estimate.
    func plannedCount(_ table: TableSchema, _ query: TableQuery, into sql: inout SQLText) throws {
        sql.text = "EXPLAIN (FORMAT JSON) SELECT 1 FROM " + (try filtered(table, query, into: &sql))
    }

    /// `"public"."table" _t0 WHERE …`: the rows the filters and `!inner` embeddings keep.
    private func filtered(_ table: TableSchema, _ query: TableQuery, into sql: inout SQLText) throws -> String {
        let conditions = try whereClause(query.filters, of: table, alias: "_t0", into: &sql)
            + (try innerEmbeddings(query.select, of: table, alias: "_t0", embedded: query.embedded, path: "", into: &sql))
        return "\(SQLText.table(table.name)) _t0" + where_(conditions)
    }

    // MARK: writes

    /// What a write gives back.
    enum Returning {
        /// Nothing: the statement alone (`Prefer: return=minimal`).
        case nothing
        /// `SELECT count, json` of the written rows through `select`.
        case rows
    }

    /// `INSERT` of `body` (a JSON array of objects, as text) into `payloadColumns`.
    func insert(
        _ table: TableSchema, _ query: TableQuery, body: String, payloadColumns: [String], missingAsDefault: Bool,
        resolution: Prefer.Resolution?, returning: Returning, observed: [String] = [], into sql: inout SQLText
    ) throws {
        let target = SQLText.table(table.name)
        let body = sql.bind(body)
        let columnList = payloadColumns.map(SQLText.identifier).joined(separator: ", ")
        var statement: String
        if payloadColumns.isEmpty {
            // Every column takes its default, once per object.
            statement = "INSERT INTO \(target) AS _t0 SELECT FROM json_array_elements(\(body)::json)"
        } else if missingAsDefault {
            let values = try payloadColumns.map { name -> String in
                guard let column = table.column(name) else { throw TableError.unknownPayloadColumn(name, of: table.name) }
                let given = "(jsonb_populate_record(NULL::\(target), _e)).\(SQLText.identifier(name))"
                let fallback = column.isGenerated
                    ? "(SELECT nextval(pg_get_serial_sequence('\(target.replacingOccurrences(of: "'", with: "''"))', '\(name.replacingOccurrences(of: "'", with: "''"))')))"
                    : (column.defaultExpression ?? "NULL")
                return "CASE WHEN _e ? \(sql.bind(name)) THEN \(given) ELSE \(fallback) END"
            }
            statement = "INSERT INTO \(target) AS _t0 (\(columnList)) SELECT \(values.joined(separator: ", ")) FROM jsonb_array_elements(\(body)::jsonb) _e"
        } else {
            statement = "INSERT INTO \(target) AS _t0 (\(columnList)) SELECT \(columnList) FROM json_populate_recordset(NULL::\(target), \(body)::json)"
        }
        if let resolution {
            let conflict = query.onConflict ?? table.primaryKey
            guard !conflict.isEmpty else {
                throw APIError(status: .badRequest, code: "PGRST100", message: "an upsert needs on_conflict: \(table.name) has no primary key")
            }
            for name in conflict where table.column(name) == nil { throw TableError.unknownColumn(name, of: table.name) }
            statement += " ON CONFLICT (\(conflict.map(SQLText.identifier).joined(separator: ", ")))"
            switch resolution {
            case .ignoreDuplicates:
                statement += " DO NOTHING"
            case .mergeDuplicates:
                // The conflict columns are equal by definition: leaving them out needs no UPDATE grant on a key.
                let updated = payloadColumns.filter { !conflict.contains($0) }
                statement += updated.isEmpty
                    ? " DO NOTHING"
                    : " DO UPDATE SET " + updated.map { "\(SQLText.identifier($0)) = EXCLUDED.\(SQLText.identifier($0))" }.joined(separator: ", ")
            }
        }
        let conflict = resolution == .mergeDuplicates ? (query.onConflict ?? table.primaryKey) : []
        try finish(statement, table, query, returning: returning, observed: observed, updatedWhenExisting: conflict, into: &sql)
    }

    /// `UPDATE` of the filtered rows with the keys of `body` (one JSON object, as text).
    func update(
        _ table: TableSchema, _ query: TableQuery, body: String, payloadColumns: [String], returning: Returning, observed: [String] = [],
        into sql: inout SQLText
    ) throws {
        let target = SQLText.table(table.name)
        let body = sql.bind(body)
        let assignments = payloadColumns.map { "\(SQLText.identifier($0)) = _p.\(SQLText.identifier($0))" }.joined(separator: ", ")
        let conditions = try limitedWhereClause(query, of: table, into: &sql)
        let statement = "UPDATE \(target) AS _t0 SET \(assignments) FROM json_populate_record(NULL::\(target), \(body)::json) _p" + where_(conditions)
        try finish(statement, table, query, returning: returning, observed: observed, into: &sql)
    }

    /// `DELETE` of the filtered rows.
    func delete(_ table: TableSchema, _ query: TableQuery, returning: Returning, observed: [String] = [], into sql: inout SQLText) throws {
        let conditions = try limitedWhereClause(query, of: table, into: &sql)
        try finish(
            "DELETE FROM \(SQLText.table(table.name)) AS _t0" + where_(conditions), table, query, returning: returning, observed: observed,
            into: &sql)
    }

    /// The conditions of an update or delete. With `limit`/`offset`, the rows are those the
    /// same filters and `order` read within the window: their primary key (or, without one,
    /// their `ctid`) is picked by a subquery, as PostgREST's limited updates and deletes do.
    private func limitedWhereClause(_ query: TableQuery, of table: TableSchema, into sql: inout SQLText) throws -> [String] {
        guard query.limit != nil || query.offset != nil else {
            return try whereClause(query.filters, of: table, alias: "_t0", into: &sql)
        }
        let key = table.primaryKey.isEmpty ? ["ctid"] : table.primaryKey.map(SQLText.identifier)
        let inner = try whereClause(query.filters, of: table, alias: "_l", into: &sql)
        let order = try orderClause(query.order, of: table, alias: "_l", into: &sql)
        var window = ""
        if let limit = query.limit { window += " LIMIT \(limit)" }
        if let offset = query.offset { window += " OFFSET \(offset)" }
        let columns = { (alias: String) in "(" + key.map { "\(alias).\($0)" }.joined(separator: ", ") + ")" }
        return ["\(columns("_t0")) IN (SELECT \(columns("_l")) FROM \(SQLText.table(table.name)) _l" + where_(inner) + order + window + ")"]
    }

    /// The key an upsert's watched rows carry, true on the rows it updated rather than inserted.
    static let updatedMarker = "_ecomansoni_updated"

    /// The write alone, or `SELECT count, representation, watched columns` of the rows it wrote.
    /// With `updatedWhenExisting` (a merging upsert's conflict columns), each watched row also
    /// says whether it was updated (``updatedMarker``): whether a row with its key existed
    /// before, as the outer query's snapshot does not see the rows the statement wrote. (`xmax`
    /// would tell too, but reading a system column needs a table-wide SELECT grant.)
    private func finish(
        _ statement: String, _ table: TableSchema, _ query: TableQuery, returning: Returning, observed: [String],
        updatedWhenExisting conflict: [String] = [], into sql: inout SQLText
    ) throws {
        if case .nothing = returning, observed.isEmpty {
            sql.text = statement
            return
        }
        for name in observed where table.column(name) == nil { throw TableError.unknownColumn(name, of: table.name) }
        var returned: [String] = []
        var representation = "'[]'"
        if case .rows = returning {
            returned = table.readableColumns(by: role).map(\.name)
            let items = try selectList(query.select, of: table, alias: "_t0", embedded: query.embedded, path: "", into: &sql)
            let order = try orderClause(query.order, of: table, alias: "_t0", select: query.select, into: &sql)
            representation = "(SELECT coalesce(json_agg(_r), '[]')::text FROM (SELECT \(items) FROM _w _t0\(order)) _r)"
        }
        let marksUpdates = !observed.isEmpty && !conflict.isEmpty
        for name in observed + (marksUpdates ? conflict : []) where !returned.contains(name) { returned.append(name) }
        let returning = returned.isEmpty ? "_t0.*" : returned.map { "_t0.\(SQLText.identifier($0))" }.joined(separator: ", ")
        var watched = "'[]'"
        if !observed.isEmpty {
            var pairs = observed.map { "\(sql.bind($0))::text, _o.\(SQLText.identifier($0))" }.joined(separator: ", ")
            if marksUpdates {
                let sameKey = conflict.map { "_b.\(SQLText.identifier($0)) = _o.\(SQLText.identifier($0))" }.joined(separator: " AND ")
                pairs += ", '\(Self.updatedMarker)', EXISTS (SELECT FROM \(SQLText.table(table.name)) _b WHERE \(sameKey))"
            }
            watched = "(SELECT coalesce(json_agg(json_build_object(\(pairs))), '[]')::text FROM _w _o)"
        }
        sql.text = "WITH _w AS (\(statement) RETURNING \(returning)) SELECT (SELECT count(*) FROM _w)::int8, \(representation), \(watched)"
    }

    // MARK: select lists and embeddings

    /// `*`: the columns the caller may read, so a column withheld from its role does not
    /// make every `select=*` fail (with none, `alias.*`, and PostgreSQL refuses).
    private func star(_ table: TableSchema, alias: String) -> String {
        let columns = table.readableColumns(by: role)
        guard !columns.isEmpty else { return "\(alias).*" }
        return columns.map { "\(alias).\(SQLText.identifier($0.name))" }.joined(separator: ", ")
    }

    /// The keys of each output row, in order (a CSV header).
    func outputNames(_ items: [SelectItem]?, of table: TableSchema) -> [String] {
        let all = table.readableColumns(by: role).map(\.name)
        guard let items, !items.isEmpty else { return all }
        return items.flatMap { item -> [String] in
            switch item {
            case .all: all
            case .field(let path, let alias, _): [alias ?? path.outputName]
            case .embed(let embedding) where embedding.spread:
                tables[embedding.relation].map { outputNames(embedding.items, of: $0) } ?? []
            case .embed(let embedding): [embedding.name]
            }
        }
    }

    private func selectList(
        _ items: [SelectItem]?, of table: TableSchema, alias: String, embedded: [String: EmbeddedModifiers], path: String,
        into sql: inout SQLText
    ) throws -> String {
        guard let items, !items.isEmpty else { return star(table, alias: alias) }
        return try items.map { item -> String in
            switch item {
            case .all:
                return star(table, alias: alias)
            case .field(let columnPath, let name, let cast):
                let (expression, _) = try self.expression(columnPath, of: table, alias: alias, into: &sql)
                let typed = cast.map { "(\(expression))::\($0)" } ?? expression
                return "\(typed) AS \(SQLText.identifier(name ?? columnPath.outputName))"
            case .embed(let embedding) where embedding.spread:
                return try spread(embedding, parent: table, parentAlias: alias, embedded: embedded, path: path, into: &sql)
            case .embed(let embedding):
                return try embed(embedding, parent: table, parentAlias: alias, embedded: embedded, path: path, into: &sql)
            }
        }.joined(separator: ", ")
    }

    /// `...rel(items)`: each of the related row's output columns as a column of the parent's
    /// row (NULL without a related row). Many-to-one only, as in PostgREST 12 (`PGRST119`).
    private func spread(
        _ embedding: Embedding, parent: TableSchema, parentAlias: String, embedded: [String: EmbeddedModifiers], path: String,
        into sql: inout SQLText
    ) throws -> String {
        let (join, child) = try self.join(embedding, parent: parent)
        guard join.parentHoldsKey else { throw TableError.spreadNotToOne(parent: parent.name, relation: embedding.relation) }
        let childPath = path.isEmpty ? embedding.name : path + "." + embedding.name
        let alias = sql.nextAlias()
        let items = try selectList(embedding.items, of: child, alias: alias, embedded: embedded, path: childPath, into: &sql)
        let conditions = [joinCondition(join, parentAlias: parentAlias, childAlias: alias)]
            + (try whereClause(embedded[childPath]?.filters ?? [], of: child, alias: alias, into: &sql))
            + (try innerEmbeddings(embedding.items, of: child, alias: alias, embedded: embedded, path: childPath, into: &sql))
        let source = "SELECT \(items) FROM \(SQLText.table(child.name)) \(alias)" + where_(conditions) + " LIMIT 1"
        return outputNames(embedding.items, of: child).map { name in
            "(SELECT _s.\(SQLText.identifier(name)) FROM (\(source)) _s) AS \(SQLText.identifier(name))"
        }.joined(separator: ", ")
    }

    /// How a parent reaches an embedded table: through a foreign key between the two, or
    /// (many-to-many) through a junction table holding a key to each.
    private struct Join {
        var key: ForeignKey
        /// The parent holds the key (many-to-one: an object); else the child does (an array).
        var parentHoldsKey: Bool
        /// Many-to-many: `key` is the junction's key to the parent, this its key to the child.
        var junctionToChild: ForeignKey?

        var name: String { junctionToChild.map { "\($0.table) using \(key.name) and \($0.name)" } ?? key.name }
    }

    private func join(_ embedding: Embedding, parent: TableSchema) throws -> (Join, TableSchema) {
        guard let child = tables[embedding.relation] else { throw TableError.noRelationship(parent.name, embedding.relation) }
        var candidates: [Join] = []
        for key in foreignKeys {
            if key.table == parent.name && key.referencedTable == child.name { candidates.append(Join(key: key, parentHoldsKey: true)) }
            if key.table == child.name && key.referencedTable == parent.name { candidates.append(Join(key: key, parentHoldsKey: false)) }
        }
        if let hint = embedding.hint {
            candidates = candidates.filter { $0.key.name == hint || $0.key.columns.contains(hint) || $0.key.referencedColumns.contains(hint) }
        }
        if candidates.isEmpty {
            candidates = junctions(between: parent, and: child, hint: embedding.hint)
        }
        guard let first = candidates.first else { throw TableError.noRelationship(parent.name, embedding.relation) }
        guard candidates.count == 1 else {
            throw TableError.ambiguousRelationship(parent.name, embedding.relation, candidates.map(\.name))
        }
        return (first, child)
    }

    /// Many-to-many joins: a table with a key to the parent and another to the child, both of
    /// whose columns are part of its primary key (as PostgREST asks of a junction). A hint
    /// names the junction table or one of its keys.
    private func junctions(between parent: TableSchema, and child: TableSchema, hint: String?) -> [Join] {
        var found: [Join] = []
        for toParent in foreignKeys where toParent.referencedTable == parent.name {
            guard let junction = tables[toParent.table], junction.name != parent.name, junction.name != child.name else { continue }
            let key = Set(junction.primaryKey)
            guard Set(toParent.columns).isSubset(of: key) else { continue }
            for toChild in foreignKeys where toChild.table == junction.name && toChild.referencedTable == child.name && toChild.name != toParent.name {
                guard Set(toChild.columns).isSubset(of: key) else { continue }
                if let hint, hint != junction.name, hint != toParent.name, hint != toChild.name { continue }
                found.append(Join(key: toParent, parentHoldsKey: false, junctionToChild: toChild))
            }
        }
        return found
    }

    /// The join condition between the parent alias and the child alias.
    private func joinCondition(_ join: Join, parentAlias: String, childAlias: String) -> String {
        if let toChild = join.junctionToChild {
            let junction = childAlias + "_j"
            let pairs = zip(toChild.columns, toChild.referencedColumns).map { own, referenced in
                "\(junction).\(SQLText.identifier(own)) = \(childAlias).\(SQLText.identifier(referenced))"
            } + zip(join.key.columns, join.key.referencedColumns).map { own, referenced in
                "\(junction).\(SQLText.identifier(own)) = \(parentAlias).\(SQLText.identifier(referenced))"
            }
            return "EXISTS (SELECT 1 FROM \(SQLText.table(toChild.table)) \(junction) WHERE \(pairs.joined(separator: " AND ")))"
        }
        let pairs = zip(join.key.columns, join.key.referencedColumns).map { own, referenced in
            join.parentHoldsKey
                ? "\(childAlias).\(SQLText.identifier(referenced)) = \(parentAlias).\(SQLText.identifier(own))"
                : "\(childAlias).\(SQLText.identifier(own)) = \(parentAlias).\(SQLText.identifier(referenced))"
        }
        return pairs.joined(separator: " AND ")
    }

    private func embed(
        _ embedding: Embedding, parent: TableSchema, parentAlias: String, embedded: [String: EmbeddedModifiers], path: String,
        into sql: inout SQLText
    ) throws -> String {
        let (join, child) = try self.join(embedding, parent: parent)
        let childPath = path.isEmpty ? embedding.name : path + "." + embedding.name
        let modifiers = embedded[childPath] ?? EmbeddedModifiers()
        let alias = sql.nextAlias()
        let items = try selectList(embedding.items, of: child, alias: alias, embedded: embedded, path: childPath, into: &sql)
        let conditions = [joinCondition(join, parentAlias: parentAlias, childAlias: alias)]
            + (try whereClause(modifiers.filters, of: child, alias: alias, into: &sql))
            + (try innerEmbeddings(embedding.items, of: child, alias: alias, embedded: embedded, path: childPath, into: &sql))
        let source = "SELECT \(items) FROM \(SQLText.table(child.name)) \(alias)" + where_(conditions)
        if join.parentHoldsKey {
            return "(SELECT row_to_json(_e) FROM (\(source) LIMIT 1) _e) AS \(SQLText.identifier(embedding.name))"
        }
        let order = try orderClause(modifiers.order, of: child, alias: alias, into: &sql)
        let window = (modifiers.limit.map { " LIMIT \(min($0, limits.maximumRows))" } ?? " LIMIT \(limits.maximumRows)")
            + (modifiers.offset.map { " OFFSET \($0)" } ?? "")
        return "(SELECT coalesce(json_agg(_e), '[]') FROM (\(source)\(order)\(window)) _e) AS \(SQLText.identifier(embedding.name))"
    }

    /// `EXISTS` conditions for the `!inner` embeddings among `items`.
    private func innerEmbeddings(
        _ items: [SelectItem]?, of parent: TableSchema, alias parentAlias: String, embedded: [String: EmbeddedModifiers], path: String,
        into sql: inout SQLText
    ) throws -> [String] {
        var conditions: [String] = []
        for case .embed(let embedding) in items ?? [] where embedding.inner {
            let (join, child) = try self.join(embedding, parent: parent)
            let childPath = path.isEmpty ? embedding.name : path + "." + embedding.name
            let alias = sql.nextAlias()
            let inner = [joinCondition(join, parentAlias: parentAlias, childAlias: alias)]
                + (try whereClause(embedded[childPath]?.filters ?? [], of: child, alias: alias, into: &sql))
                + (try innerEmbeddings(embedding.items, of: child, alias: alias, embedded: embedded, path: childPath, into: &sql))
            conditions.append("EXISTS (SELECT 1 FROM \(SQLText.table(child.name)) \(alias)\(where_(inner)))")
        }
        return conditions
    }

    // MARK: expressions, filters, order

    /// The SQL of a column path and the type its operands are cast to.
    func expression(_ path: ColumnPath, of table: TableSchema, alias: String, into sql: inout SQLText) throws -> (String, String) {
        guard let column = table.column(path.column) else { throw TableError.unknownColumn(path.column, of: table.name) }
        var expression = "\(alias).\(SQLText.identifier(column.name))"
        guard !path.json.isEmpty else { return (expression, column.type) }
        guard column.isJSON else {
            throw TableError.parse(path.column, "\(table.name).\(column.name) is \(column.type), not json: it has no -> path")
        }
        for step in path.json {
            let key: String
            if let index = Int(step.key), step.key.utf8.count <= 9 {
                key = String(index)
            } else {
                key = "\(sql.bind(step.key))::text"
            }
            expression = "(\(expression)\(step.asText ? "->>" : "->")\(key))"
        }
        return (expression, path.json.last?.asText == true ? "text" : column.type)
    }

    private func whereClause(_ trees: [FilterTree], of table: TableSchema, alias: String, into sql: inout SQLText) throws -> [String] {
        try trees.map { tree in try tree.sql { try condition($0, of: table, alias: alias, into: &sql) } }
    }

    private func condition(_ filter: Filter, of table: TableSchema, alias: String, into sql: inout SQLText) throws -> String {
        let (expression, type) = try self.expression(filter.path, of: table, alias: alias, into: &sql)
        let text: String
        switch (filter.operation, filter.value) {
        case (.in, .list(let items)):
            text = items.isEmpty ? "false" : "\(expression) IN (" + items.map { "\(sql.bind($0))::\(type)" }.joined(separator: ", ") + ")"
        case (.is, .truth(let truth)):
            switch truth {
            case .null: text = "\(expression) IS NULL"
            case .notNull: text = "\(expression) IS NOT NULL"
            case .true: text = "\(expression) IS TRUE"
            case .false: text = "\(expression) IS FALSE"
            case .unknown: text = "\(expression) IS UNKNOWN"
            }
        case (let operation, .fullText(let language, let query)):
            let function = switch operation {
            case .plfts: "plainto_tsquery"
            case .phfts: "phraseto_tsquery"
            case .wfts: "websearch_to_tsquery"
            default: "to_tsquery"
            }
            let configuration = language.map { "\(sql.bind($0))::regconfig, " } ?? ""
            let document = type == "tsvector" ? expression : "to_tsvector(\(configuration)(\(expression))::text)"
            text = "\(document) @@ \(function)(\(configuration)\(sql.bind(query)))"
        case (let operation, .quantified(let quantifier, let array)):
            let (symbol, operandType) = Self.comparison(operation, type: type)
            let left = operandType == "text" && type != "text" ? "(\(expression))::text" : expression
            let value = operation == .like || operation == .ilike ? array.replacingOccurrences(of: "*", with: "%") : array
            text = "\(left) \(symbol) \(quantifier.rawValue.uppercased())(\(sql.bind(value))::\(operandType)[])"
        case (let operation, .single(let value)):
            switch operation {
            case .isdistinct:
                text = "\(expression) IS DISTINCT FROM \(sql.bind(value))::\(type)"
            default:
                let (symbol, operandType) = Self.comparison(operation, type: type)
                let left = operandType == "text" && type != "text" ? "(\(expression))::text" : expression
                let operand = operation == .like || operation == .ilike ? value.replacingOccurrences(of: "*", with: "%") : value
                text = "\(left) \(symbol) \(sql.bind(operand))::\(operandType)"
            }
        default:
            throw TableError.parse(filter.path.column, "\(filter.operation.rawValue) does not take that operand")
        }
        return filter.negated ? "NOT (\(text))" : text
    }

    /// The SQL operator of a comparison and the type its operand is cast to.
    private static func comparison(_ operation: FilterOperator, type: String) -> (String, String) {
        switch operation {
        case .eq: ("=", type)
        case .neq: ("<>", type)
        case .gt: (">", type)
        case .gte: (">=", type)
        case .lt: ("<", type)
        case .lte: ("<=", type)
        case .like: ("LIKE", "text")
        case .ilike: ("ILIKE", "text")
        case .match: ("~", "text")
        case .imatch: ("~*", "text")
        case .cs: ("@>", type)
        case .cd: ("<@", type)
        case .ov: ("&&", type)
        case .sl: ("<<", type)
        case .sr: (">>", type)
        case .nxl: ("&<", type)
        case .nxr: ("&>", type)
        case .adj: ("-|-", type)
        case .in, .is, .isdistinct, .fts, .plfts, .phfts, .wfts: ("=", type)
        }
    }

    /// `ORDER BY` of `terms`; a term on an embedded resource (`rel(col)`) needs `select`'s
    /// items, where that resource must be embedded, many-to-one.
    private func orderClause(
        _ terms: [OrderTerm], of table: TableSchema, alias: String, select: [SelectItem]? = nil, into sql: inout SQLText
    ) throws -> String {
        guard !terms.isEmpty else { return "" }
        let parts = try terms.map { term -> String in
            let expression: String
            if let relation = term.relation {
                expression = try relatedOrderExpression(term.path, relation: relation, of: table, alias: alias, select: select, into: &sql)
            } else {
                expression = try self.expression(term.path, of: table, alias: alias, into: &sql).0
            }
            let nulls = term.nulls.map { $0 == .first ? " NULLS FIRST" : " NULLS LAST" } ?? ""
            return expression + (term.descending ? " DESC" : " ASC") + nulls
        }
        return " ORDER BY " + parts.joined(separator: ", ")
    }

    /// The value of `relation(path)` for the parent row: the one related row's column.
    private func relatedOrderExpression(
        _ path: ColumnPath, relation: String, of table: TableSchema, alias: String, select: [SelectItem]?, into sql: inout SQLText
    ) throws -> String {
        let embedding = (select ?? []).lazy.compactMap { item -> Embedding? in
            if case .embed(let embedding) = item, embedding.name == relation { return embedding }
            return nil
        }.first
        guard let embedding else { throw TableError.orderNotEmbedded(relation) }
        let (join, child) = try self.join(embedding, parent: table)
        guard join.parentHoldsKey else { throw TableError.relatedOrderNotToOne(parent: table.name, relation: relation) }
        let childAlias = sql.nextAlias()
        let (value, _) = try expression(path, of: child, alias: childAlias, into: &sql)
        return "(SELECT \(value) FROM \(SQLText.table(child.name)) \(childAlias) WHERE \(joinCondition(join, parentAlias: alias, childAlias: childAlias)) LIMIT 1)"
    }

    private func where_(_ conditions: [String]) -> String {
        conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
    }
}
