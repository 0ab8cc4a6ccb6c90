import Core
import Database
import Foundation
import Hummingbird
import PostgresNIO

/// PostgREST's modifiers on an RPC's rows (`rpc("f").select("a").eq("b", 1).order("c")
/// .limit(5).single()`, `count=exact`): the JSON array a function returned is filtered,
/// ordered, cut and projected by PostgreSQL (`jsonb`, so numbers keep every digit), then
/// answered as an array or one object (docs/tables.md, "Modifiers on RPC results").
/// Operands compare as JSON: `eq.42` matches the number 42, `eq.abc` the string "abc".
public struct RPCResultShaper: Sendable {
    let database: Database
    let limits: TableLimits
    let parser: TableQueryParser

    public init(database: Database, limits: TableLimits = TableLimits()) {
        self.database = database
        self.limits = limits
        self.parser = TableQueryParser(limits: limits)
    }

    /// Whether a request asks for anything this shaper does: query parameters, one object, or a count.
    public static func isNeeded(rawQuery: String?, accept: String?, prefer: [String]) -> Bool {
        !(rawQuery ?? "").isEmpty || (accept.map { $0.contains("vnd.pgrst.object") || $0.contains("text/csv") } ?? false)
            || prefer.contains { $0.contains("count=") }
    }

    /// The response for `result` (the function's JSON) under the request's modifiers.
    public func response(for result: Data, rawQuery: String?, accept: String?, prefer preferValues: [String]) async throws -> Response {
        let media = try TableMedia.negotiate(accept)
        let query = try parser.parse(rawQuery: rawQuery ?? "")
        let prefer = try Prefer(headerValues: preferValues)
        guard query.embedded.isEmpty, query.columns == nil, query.onConflict == nil else {
            throw TableError.parse("query", "an RPC result takes select, filters, order, limit and offset only")
        }
        let text = String(decoding: result, as: UTF8.self)
        guard text.first(where: { !$0.isWhitespace }) == "[" else {
            // A scalar or one object is answered as the function returned it.
            guard media != .csv else { throw TableError.unacceptable(accept ?? "text/csv") }
            return Self.respond(text, media: media == .object ? .object : .json, contentRange: nil, status: .ok, applied: prefer.applied)
        }
        let window = try RowWindow.resolve(
            limitParameter: query.limit, offsetParameter: query.offset, rangeHeader: nil, maximumRows: Int.max / 2)
        var sql = SQLText()
        let source = sql.bind(text)
        let conditions = try query.filters.map { tree in try tree.sql { try condition($0, into: &sql) } }
        let whereText = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let order = query.order.isEmpty
            ? " ORDER BY _n"
            : " ORDER BY " + (try query.order.map { term in
                try path(term.path, into: &sql) + (term.descending ? " DESC" : " ASC")
                    + (term.nulls.map { $0 == .first ? " NULLS FIRST" : " NULLS LAST" } ?? "")
            }).joined(separator: ", ")
        let projection = try project(query.select, into: &sql)
        let limit = window.limit == Int.max / 2 ? "" : " LIMIT \(window.limit)"
        sql.text = """
            WITH _src AS (SELECT _j, _n FROM jsonb_array_elements(\(source)::jsonb) WITH ORDINALITY _e(_j, _n))
            SELECT (SELECT count(*) FROM _src\(whereText))::int8, count(*)::int8,
                   coalesce(jsonb_agg(\(projection) ORDER BY _k), '[]')::text
            FROM (SELECT _j, row_number() OVER (\(order)) AS _k FROM _src\(whereText)\(order)\(limit) OFFSET \(window.offset)) _r
            """
        let statement = try sql.query(within: limits)
        let (total, rows, body): (Int, Int, String)
        do {
            (total, rows, body) = try await database.withStatement(translatingErrors: false) { connection -> (Int, Int, String) in
                for try await row in try await connection.query(statement, logger: database.logger).decode((Int, Int, String).self) {
                    return row
                }
                return (0, 0, "[]")
            }
        } catch {
            // A filter PostgreSQL refuses (`match.(`: an invalid regular expression) is the
            // client's error, answered as PostgREST does; the rows are JSON, so no privilege
            // is involved and the caller's role does not matter.
            throw PostgRESTErrors.translate(error, caller: .anonymous) ?? error
        }
        let counted = prefer.count == nil ? nil : total
        let range = RowWindow.contentRange(offset: window.offset, rows: rows, total: counted)
        switch media {
        case .object:
            guard rows == 1 else { throw TableError.notSingular(rows) }
            return Self.respond(String(body.dropFirst().dropLast()), media: .object, contentRange: range, status: .ok, applied: prefer.applied)
        case .csv:
            throw TableError.unacceptable(accept ?? "text/csv")
        case .json:
            let status: HTTPResponse.Status = if let counted, rows < counted { .partialContent } else { .ok }
            return Self.respond(body, media: .json, contentRange: range, status: status, applied: prefer.applied)
        }
    }

    private static func respond(_ text: String, media: TableMedia, contentRange: String?, status: HTTPResponse.Status, applied: [String]) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = media.contentType
        if let contentRange { headers[.contentRange] = contentRange }
        if !applied.isEmpty { headers[.preferenceApplied] = applied.joined(separator: ", ") }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// `_j->'column'->'key'` (`->>` steps give text, turned back into JSON for comparisons).
    private func path(_ path: ColumnPath, into sql: inout SQLText) throws -> String {
        var expression = "(_j->\(sql.bind(path.column))::text)"
        for step in path.json {
            expression = "(\(expression)->\(sql.bind(step.key))::text)"
        }
        return expression
    }

    private func project(_ items: [SelectItem]?, into sql: inout SQLText) throws -> String {
        guard let items, !items.isEmpty, !items.contains(.all) else { return "_j" }
        let pairs = try items.map { item -> String in
            guard case .field(let columnPath, let alias, let cast) = item, cast == nil else {
                throw TableError.parse("select", "an RPC result takes plain columns and aliases in select")
            }
            return "\(sql.bind(alias ?? columnPath.outputName))::text, \(try path(columnPath, into: &sql))"
        }
        return "jsonb_build_object(\(pairs.joined(separator: ", ")))"
    }

    private func condition(_ filter: Filter, into sql: inout SQLText) throws -> String {
        let value = try path(filter.path, into: &sql)
        let text: String
        switch (filter.operation, filter.value) {
        case (.eq, .single(let operand)): text = "\(value) = \(sql.bind(Self.jsonLiteral(operand)))::jsonb"
        case (.neq, .single(let operand)): text = "\(value) <> \(sql.bind(Self.jsonLiteral(operand)))::jsonb"
        case (.gt, .single(let operand)): text = "\(value) > \(sql.bind(Self.jsonLiteral(operand)))::jsonb"
        case (.gte, .single(let operand)): text = "\(value) >= \(sql.bind(Self.jsonLiteral(operand)))::jsonb"
        case (.lt, .single(let operand)): text = "\(value) < \(sql.bind(Self.jsonLiteral(operand)))::jsonb"
        case (.lte, .single(let operand)): text = "\(value) <= \(sql.bind(Self.jsonLiteral(operand)))::jsonb"
        case (.like, .single(let operand)): text = "(\(value) #>> '{}') LIKE \(sql.bind(operand.replacingOccurrences(of: "*", with: "%")))"
        case (.ilike, .single(let operand)): text = "(\(value) #>> '{}') ILIKE \(sql.bind(operand.replacingOccurrences(of: "*", with: "%")))"
        case (.match, .single(let operand)): text = "(\(value) #>> '{}') ~ \(sql.bind(operand))"
        case (.imatch, .single(let operand)): text = "(\(value) #>> '{}') ~* \(sql.bind(operand))"
        case (.in, .list(let items)):
            text = items.isEmpty ? "false" : "\(value) IN (" + items.map { "\(sql.bind(Self.jsonLiteral($0)))::jsonb" }.joined(separator: ", ") + ")"
        case (.is, .truth(let truth)):
            switch truth {
            case .null: text = "(\(value) IS NULL OR \(value) = 'null'::jsonb)"
            case .notNull: text = "(\(value) IS NOT NULL AND \(value) <> 'null'::jsonb)"
            case .true: text = "\(value) = 'true'::jsonb"
            case .false: text = "\(value) = 'false'::jsonb"
            case .unknown: text = "(\(value) IS NULL OR \(value) = 'null'::jsonb)"
            }
        case (.isdistinct, .single(let operand)): text = "\(value) IS DISTINCT FROM \(sql.bind(Self.jsonLiteral(operand)))::jsonb"
        case (.cs, .single(let operand)): text = "\(value) @> \(sql.bind(operand))::jsonb"
        case (.cd, .single(let operand)): text = "\(value) <@ \(sql.bind(operand))::jsonb"
        default:
            throw TableError.parse(filter.path.column, "\(filter.operation.rawValue) is not available on RPC results")
        }
        return filter.negated ? "NOT (\(text))" : text
    }

    /// An operand as JSON text: numbers, `true`, `false` and `null` as themselves, anything
    /// else as a string.
    static func jsonLiteral(_ operand: String) -> String {
        if operand == "true" || operand == "false" || operand == "null" { return operand }
        if case .number? = try? JSONValue.parse(operand) { return operand }
        return JSONValue.string(operand).jsonText
    }
}
