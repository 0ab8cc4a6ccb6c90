import Core
import Database
import Foundation
import Hummingbird
import PostgresNIO

/// `/rest/v1/<table>`: PostgREST's table API over the tables `anon` and `authenticated` are
/// granted, each request one transaction as the caller's role under row-level security
/// (docs/tables.md), most of them one statement (``CallerStatement``). `database` is a pool
/// whose connections carry ``TableLimits/connectionSettings``.
public struct TablesController: Sendable {
    let database: Database
    let schema: SchemaCache
    let limits: TableLimits
    let parser: TableQueryParser
    let observer: (any TableWriteObserver)?
    let rpcs: [(name: String, parameters: [String])]
    let version: String

    /// - Parameters:
    ///   - rpcs: the RPC functions `GET /rest/v1/` lists beside the tables.
    ///   - version: the API version `GET /rest/v1/` names.
    public init(
        database: Database, schema: SchemaCache, limits: TableLimits = TableLimits(), observer: (any TableWriteObserver)? = nil,
        rpcs: [(name: String, parameters: [String])] = [], version: String = "1"
    ) {
        self.database = database
        self.schema = schema
        self.limits = limits
        self.parser = TableQueryParser(limits: limits)
        self.observer = observer
        self.rpcs = rpcs
        self.version = version
    }

    public func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("/") { _, context in try await describe(context) }
        group.get(":table") { request, context in try await read(request, context, head: false) }
        group.head(":table") { request, context in try await read(request, context, head: true) }
        group.post(":table") { request, context in try await write(.insert, request, context) }
        group.put(":table") { request, context in try await write(.put, request, context) }
        group.patch(":table") { request, context in try await write(.update, request, context) }
        group.delete(":table") { request, context in try await write(.delete, request, context) }
    }

    // MARK: the description

    private func describe(_ context: AppRequestContext) async throws -> Response {
        let caller = try Self.caller(context)
        let description = OpenAPIDescription(tables: try await schema.tables(), rpcs: rpcs, role: caller.role, version: version)
        var headers = HTTPFields()
        headers[.contentType] = "application/openapi+json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: description.document.jsonText)))
    }

    // MARK: reads

    private func read(_ request: Request, _ context: AppRequestContext, head: Bool) async throws -> Response {
        let caller = try Self.caller(context)
        try Self.checkProfile(request.headers[.acceptProfile])
        let media = try TableMedia.negotiate(request.headers[.accept])
        let (table, builder) = try await resolve(context, caller)
        let query = try parser.parse(rawQuery: request.uri.query ?? "")
        let prefer = try Prefer(headerValues: request.headers[values: .prefer])
        let window = try RowWindow.resolve(
            limitParameter: query.limit, offsetParameter: query.offset, rangeHeader: request.headers[.range], maximumRows: limits.maximumRows)

        var select = SQLText(placeholders: .callerStatement)
        try builder.read(
            table, query, limit: window.limit, offset: window.offset,
            csvColumns: media == .csv ? builder.outputNames(query.select, of: table) : nil, into: &select)
        var count: SQLText?
        switch prefer.count {
        case .exact, .estimated:
            var sql = SQLText(placeholders: .callerStatement)
            try builder.count(table, query, into: &sql)
            count = sql
        case .planned:
            var sql = SQLText(placeholders: .callerStatement)
            try builder.plannedCount(table, query, into: &sql)
            count = sql
        case nil:
            break
        }
        let planned = prefer.count == .planned
        let selectStatement = try select.callerStatement(within: limits, columns: "n int8, body text")
        let countStatement = try count?.callerStatement(within: limits, columns: planned ? "plan json" : "total int8")
        // The rows and their count share a transaction; the rows alone are one statement.
        let (rows, body, total) = try await run(caller, request, transaction: countStatement != nil) { connection in
            var rows = 0
            var body = ""
            for try await (count, text) in try await connection.query(selectStatement).decode((Int, String).self) {
                rows = count
                body = text
            }
            var total: Int?
            if let countStatement {
                if planned {
                    for try await plan in try await connection.query(countStatement).decode(String.self) {
                        total = Self.plannedRows(plan)
                    }
                } else {
                    for try await value in try await connection.query(countStatement).decode(Int.self) { total = value }
                }
            }
            return (rows, body, total)
        }
        if let total, rows == 0, window.offset > 0, window.offset >= total {
            throw TableError.unsatisfiableRange("An offset of \(window.offset) was requested, but there are only \(total) rows.")
        }
        var headers = HTTPFields()
        headers[.contentType] = media.contentType
        headers[.contentRange] = RowWindow.contentRange(offset: window.offset, rows: rows, total: total)
        if !prefer.applied.isEmpty { headers[.preferenceApplied] = prefer.applied.joined(separator: ", ") }
        let status: HTTPResponse.Status = if let total, rows < total { .partialContent } else { .ok }
        var text = body
        switch media {
        case .object:
            guard rows == 1 else { throw TableError.notSingular(rows) }
            text = String(body.dropFirst().dropLast())
        case .csv:
            let header = builder.outputNames(query.select, of: table).map(CSVText.field).joined(separator: ",")
            text = body.isEmpty ? header : header + "\n" + body
        case .json:
            break
        }
        return Response(status: status, headers: headers, body: head ? .init() : .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: writes

    enum WriteKind { case insert, put, update, delete }

    private func write(_ kind: WriteKind, _ request: Request, _ context: AppRequestContext) async throws -> Response {
        let caller = try Self.caller(context)
        try Self.checkProfile(request.headers[.contentProfile])
        let media = try TableMedia.negotiate(request.headers[.accept])
        guard media != .csv else { throw TableError.unacceptable(request.headers[.accept] ?? "text/csv") }
        let (table, builder) = try await resolve(context, caller)
        var query = try parser.parse(rawQuery: request.uri.query ?? "")
        let prefer = try Prefer(headerValues: request.headers[values: .prefer])
        let returning = prefer.returning ?? .minimal
        let wantsRows = returning != .minimal || media == .object || prefer.count != nil || prefer.maxAffected != nil
        let observed = observer?.watchedColumns(of: table.name) ?? []

        var sql = SQLText(placeholders: .callerStatement)
        switch kind {
        case .insert, .put:
            let payload = try await Payload.read(request, limits: limits)
            var resolution = prefer.resolution
            if kind == .put {
                guard query.limit == nil, query.offset == nil else { throw TableError.limitedPut() }
                try Self.checkPut(table, query, payload)
                query.onConflict = table.primaryKey
                resolution = .mergeDuplicates
            }
            let columns = try payload.columns(query.columns, of: table, missingAsDefault: prefer.missingAsDefault)
            try builder.insert(
                table, query, body: payload.arrayText, payloadColumns: columns, missingAsDefault: prefer.missingAsDefault,
                resolution: resolution, returning: wantsRows ? .rows : .nothing, observed: observed, into: &sql)
        case .update:
            guard !query.filters.isEmpty else { throw TableError.unfiltered("UPDATE") }
            let payload = try await Payload.read(request, limits: limits)
            guard let object = payload.objectText else { throw TableError.invalidBody("An update takes one JSON object") }
            let columns = try payload.columns(query.columns, of: table, missingAsDefault: false)
            guard !columns.isEmpty else {
                // Nothing to change: the rows are left as they are.
                return Self.writeResponse(kind, rows: 0, body: "[]", returning: returning, media: media, prefer: prefer)
            }
            try builder.update(
                table, query, body: object, payloadColumns: columns, returning: wantsRows ? .rows : .nothing, observed: observed, into: &sql)
        case .delete:
            guard !query.filters.isEmpty else { throw TableError.unfiltered("DELETE") }
            try builder.delete(table, query, returning: wantsRows ? .rows : .nothing, observed: observed, into: &sql)
        }
        let readsBack = wantsRows || !observed.isEmpty
        let statement = try sql.callerStatement(within: limits, columns: readsBack ? "n int8, body text, watched text" : nil)
        // A check after the write (one object, at most so many rows) undoes it by throwing,
        // which takes a transaction around it; otherwise the write is one statement.
        let checked = media == .object || prefer.maxAffected != nil
        let (rows, body, written) = try await run(caller, request, transaction: checked) { connection in
            var rows = 0
            var body = "[]"
            var written = "[]"
            if readsBack {
                for try await (count, text, watched) in try await connection.query(statement).decode((Int, String, String).self) {
                    rows = count
                    body = text
                    written = watched
                }
                // A singular request that wrote another number of rows writes nothing, nor
                // does one that wrote more rows than it allowed.
                if media == .object, rows != 1 { throw TableError.notSingular(rows) }
                if let most = prefer.maxAffected, rows > most { throw TableError.tooManyAffected(rows) }
            } else {
                for try await _ in try await connection.query(statement) {}
            }
            return (rows, body, written)
        }
        if let observer, !observed.isEmpty, case .array(let items)? = try? JSONValue.parse(written), !items.isEmpty {
            for write in Self.writes(of: table.name, kind, rows: items.compactMap(\.objectValue)) {
                await observer.committed(write)
            }
        }
        var response = Self.writeResponse(kind, rows: rows, body: body, returning: returning, media: media, prefer: prefer)
        if returning == .headersOnly, kind == .insert, rows == 1, let location = Self.location(table, body) {
            response.headers[.location] = location
        }
        return response
    }

    private static func writeResponse(
        _ kind: WriteKind, rows: Int, body: String, returning: Prefer.Return, media: TableMedia, prefer: Prefer
    ) -> Response {
        var headers = HTTPFields()
        headers[.contentRange] = prefer.count == nil ? "*/*" : (rows > 0 ? "0-\(rows - 1)/\(rows)" : "*/0")
        if !prefer.applied.isEmpty { headers[.preferenceApplied] = prefer.applied.joined(separator: ", ") }
        let created = kind == .insert
        guard returning == .representation else {
            return Response(status: created ? .created : .noContent, headers: headers)
        }
        headers[.contentType] = media.contentType
        let text = media == .object ? String(body.dropFirst().dropLast()) : body
        return Response(status: created ? .created : .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// What the observer is told of a committed write: one ``TableWrite`` per kind of change,
    /// an upsert's rows split into those it inserted and those it updated.
    static func writes(of table: String, _ kind: WriteKind, rows: [[String: JSONValue]]) -> [TableWrite] {
        switch kind {
        case .update: return [TableWrite(table: table, kind: .update, rows: rows)]
        case .delete: return [TableWrite(table: table, kind: .delete, rows: rows)]
        case .insert, .put:
            var inserted: [[String: JSONValue]] = []
            var updated: [[String: JSONValue]] = []
            for var row in rows {
                let marker = row.removeValue(forKey: TableSQL.updatedMarker)
                if marker == .bool(true) { updated.append(row) } else { inserted.append(row) }
            }
            return [TableWrite(table: table, kind: .insert, rows: inserted), TableWrite(table: table, kind: .update, rows: updated)]
                .filter { !$0.rows.isEmpty }
        }
    }

    /// `/table?pk=eq.value` of the one row written, from its representation.
    private static func location(_ table: TableSchema, _ body: String) -> String? {
        guard !table.primaryKey.isEmpty, case .array(let rows)? = try? JSONValue.parse(body), case .object(let row)? = rows.first else { return nil }
        var parts: [String] = []
        for key in table.primaryKey {
            guard let value = row[key] else { return nil }
            let text: String
            switch value {
            case .string(let string): text = string
            default: text = value.jsonText
            }
            let allowed = CharacterSet.urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+"))
            parts.append("\(key)=eq.\(text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text)")
        }
        return "/\(table.name)?" + parts.joined(separator: "&")
    }

    /// A PUT's filters must be `eq` on every primary-key column and nothing else, and its one
    /// object must carry the same key values.
    private static func checkPut(_ table: TableSchema, _ query: TableQuery, _ payload: Payload) throws {
        guard !table.primaryKey.isEmpty else { throw TableError.invalidPut("PUT needs a table with a primary key") }
        var values: [String: String] = [:]
        for tree in query.filters {
            guard case .leaf(let filter) = tree, !filter.negated, filter.operation == .eq, filter.path.json.isEmpty,
                  case .single(let value) = filter.value else {
                throw TableError.invalidPut("Filters must include all and only primary key columns with 'eq' operators")
            }
            values[filter.path.column] = value
        }
        guard Set(values.keys) == Set(table.primaryKey), values.count == query.filters.count else {
            throw TableError.invalidPut("Filters must include all and only primary key columns with 'eq' operators")
        }
        guard payload.objects.count == 1, let members = payload.objects.first else { throw TableError.invalidPut("PUT takes one JSON object") }
        for (column, filterValue) in values {
            let matches: Bool
            switch members[column] {
            case .string(let text)?: matches = text == filterValue
            case .number(let number)?: matches = Double(filterValue) == number
            case .bool(let flag)?: matches = filterValue == String(flag)
            default: matches = false
            }
            guard matches else { throw TableError.invalidPut("Payload values do not match URL in primary key column(s)") }
        }
    }

    // MARK: shared

    private func resolve(_ context: AppRequestContext, _ caller: Caller) async throws -> (TableSchema, TableSQL) {
        let name = try context.parameters.require("table")
        guard let found = try await schema.lookup(name) else { throw TableError.unknownTable(name) }
        return (found.table, TableSQL(role: caller.role, tables: found.tables, foreignKeys: found.foreignKeys, limits: limits))
    }

    /// Runs `body`'s statements as the caller with PostgREST's `request.method` and
    /// `request.path` settings (triggers tell table-API writes by them), in one transaction
    /// when `transaction` says so, answering database errors as PostgREST does. The statement
    /// timeout is the pool's (``TableLimits/connectionSettings``): a setting made by the
    /// statement itself would come too late to bound it.
    private func run<Result: Sendable>(
        _ caller: Caller, _ request: Request, transaction: Bool, _ body: @Sendable @escaping (CallerConnection) async throws -> Result
    ) async throws -> Result {
        let settings = [
            (name: "request.method", value: request.method.rawValue),
            (name: "request.path", value: request.uri.path),
        ]
        do {
            return try await database.withCallerStatements(caller, settings: settings, transaction: transaction, translatingErrors: false, body)
        } catch {
            throw PostgRESTErrors.translate(error, caller: caller) ?? error
        }
    }

    private static func caller(_ context: AppRequestContext) throws -> Caller {
        guard let caller = context.caller else { throw APIError(status: .unauthorized, code: "PGRST301", message: "no caller") }
        return caller
    }

    private static func checkProfile(_ profile: String?) throws {
        if let profile, profile != "public" { throw TableError.unknownSchema() }
    }

    /// The planner's row estimate from `EXPLAIN (FORMAT JSON)` text.
    static func plannedRows(_ plan: String) -> Int? {
        guard case .array(let items)? = try? JSONValue.parse(plan), case .object(let first)? = items.first,
              case .object(let node)? = first["Plan"], case .number(let rows)? = node["Plan Rows"],
              rows.isFinite, rows >= 0, rows < 9.0e15 else { return nil }
        return Int(rows)
    }
}

extension HTTPField.Name {
    /// `Accept-Profile`: the PostgREST schema of a read.
    static let acceptProfile = HTTPField.Name("Accept-Profile")!
    /// `Prefer` (RFC 7240).
    static let prefer = HTTPField.Name("Prefer")!
    /// `Preference-Applied` (RFC 7240).
    static let preferenceApplied = HTTPField.Name("Preference-Applied")!
}
