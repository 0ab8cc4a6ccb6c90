import Core
import Database
import Foundation
import Insurance
import PostgresNIO

/// The OSAGO engine for HTTP callers: quotes, the territory list, and a signed-in user's
/// saved calculations (stored under row-level security, recomputed by the server).
public struct OsagoService: Sendable {
    /// Most calculations one user may keep.
    public static let maximumSavedCalculations = 200

    let calculator: OsagoCalculator
    let database: Database
    let today: @Sendable () -> CalendarDate
    /// Signs and verifies the saved-calculation list cursors.
    let cursors: CursorCodec

    public init(catalog: TariffCatalog, database: Database, today: @escaping @Sendable () -> CalendarDate = { .today() }) {
        self.calculator = OsagoCalculator(catalog: catalog)
        self.database = database
        self.today = today
        self.cursors = CursorCodec(database: database)
    }

    /// Quotes a request given as the documented JSON; field errors become 400s naming the field.
    public func quote(json: Data) throws -> OsagoQuote {
        do {
            let request = try QuoteRequest.decode(json: json)
            return try calculator.quote(request, today: today())
        } catch {
            throw APIError.invalidField(error.field, error.rule)
        }
    }

    /// The tariff version in force on `date` (`YYYY-MM-DD`; today when nil).
    func version(on date: String?) throws -> TariffVersion {
        var day = today()
        if let date {
            guard date.utf8.count == 10, let parsed = CalendarDate(date) else {
                throw APIError.invalidField("date", "must be a date written YYYY-MM-DD")
            }
            day = parsed
        }
        guard let version = calculator.catalog.version(on: day) else {
            throw APIError.invalidField("date", "is before the earliest tariff version (\(calculator.catalog.versions[0].name))")
        }
        return version
    }

    /// The form's tariff tables of the version in force on `date` (today when nil).
    public func tariffTables(date: String?) throws -> OsagoTariffTables {
        try OsagoTariffTables(version: try version(on: date))
    }

    /// Territories of the version in force on `date` (today when nil) matching `query`.
    public func territories(query: String?, date: String?) throws -> Data {
        let version = try version(on: date)
        if let query, query.count > 100 { throw APIError.invalidField("q", "must be at most 100 characters") }
        let rows = version.searchTerritories(query ?? "").map { row -> [String: Any] in
            [
                "code": row.code, "name": row.name, "nameEn": row.nameEn,
                "kt": NSDecimalNumber(decimal: row.kt).stringValue,
                "baseKt": NSDecimalNumber(decimal: row.baseKt.value).stringValue,
                "correction": NSDecimalNumber(decimal: row.correction?.value ?? 1).stringValue,
                "confidence": row.confidence.rawValue,
            ]
        }
        return try JSONSerialization.data(
            withJSONObject: ["tariffVersion": version.name, "territories": rows] as [String: Any],
            options: [.sortedKeys, .withoutEscapingSlashes])
    }

    // MARK: Saved calculations

    /// Recomputes `request` and stores it with its result for the caller.
    func save(_ caller: Caller, request: Data, title: String?) async throws -> Data {
        let owner = try caller.requireUser()
        if let title, title.isEmpty || title.count > 100 {
            throw APIError.invalidField("title", "must be 1 to 100 characters")
        }
        let quote: OsagoQuote
        do {
            quote = try calculator.quote(try QuoteRequest.decode(json: request), today: today())
        } catch {
            throw APIError.invalidField("request.\(error.field)", error.rule)
        }
        let result = String(decoding: try quote.jsonData(), as: UTF8.self)
        let requestText = String(decoding: request, as: UTF8.self)
        return try await database.withCaller(caller) { connection in
            // One saver at a time per user, so the cap cannot be passed by parallel saves.
            try await connection.execute("SELECT pg_advisory_xact_lock(hashtext('osago_calculations'), hashtext($1::text))", [owner.uuidString])
            let count = try await connection.scalarText("SELECT count(*)::text FROM insurance.osago_calculations WHERE user_id = $1", [owner])
            if let count, Int(count) ?? 0 >= Self.maximumSavedCalculations {
                throw APIError.conflict("limit_reached", "at most \(Self.maximumSavedCalculations) saved calculations; delete some first")
            }
            guard let row = try await connection.jsonText("""
                INSERT INTO insurance.osago_calculations (user_id, title, request, result, tariff_version)
                VALUES ($1, $2, $3::jsonb, $4::jsonb, $5)
                RETURNING \(Self.itemJSON)
                """, [owner, title, requestText, result, quote.tariffVersion])
            else { throw APIError.notFound("calculation not saved") }
            return row
        }
    }

    /// The caller's calculations, newest first.
    func list(_ caller: Caller, cursor: KeysetCursor?, limit: Int) async throws -> Data {
        let owner = try caller.requireUser()
        return try await database.withCaller(caller) { connection in
            var values: [(any PostgresEncodable & Sendable)?] = [owner, limit + 1]
            let keyset = Page.after(cursor, time: "created_at", id: "id", values: &values)
            let rows = try await connection.query(PostgresQuery(unsafeSQL: """
                SELECT (\(Self.itemJSON))::text, created_at::text, id
                FROM insurance.osago_calculations
                WHERE user_id = $1 \(keyset)
                ORDER BY created_at DESC, id DESC
                LIMIT $2
                """, binds: try PostgresBindings(values)), logger: database.logger)
            return try await Page.collect(rows, limit: limit, cursors: cursors)
        }
    }

    /// Deletes one of the caller's calculations; another user's id is simply not found.
    func delete(_ caller: Caller, id: UUID) async throws -> Data {
        let owner = try caller.requireUser()
        return try await database.withCaller(caller) { connection in
            guard try await connection.exists(
                "DELETE FROM insurance.osago_calculations WHERE id = $1 AND user_id = $2 RETURNING 1", [id, owner])
            else { throw APIError.notFound("calculation not found") }
            return Data(#"{"deleted":true}"#.utf8)
        }
    }

    /// The JSON of one saved calculation as clients see it.
    static let itemJSON = "jsonb_build_object('id', id, 'title', title, 'created_at', created_at, 'tariff_version', tariff_version, 'request', request, 'result', result)"
}
