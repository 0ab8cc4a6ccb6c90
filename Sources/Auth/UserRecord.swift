import Core
import Database
import Foundation
import PostgresNIO

/// A row of `auth.users` and its GoTrue JSON form.
struct UserRecord: Sendable {
    var id: UUID
    var phone: String?
    var identityID: UUID
    var phoneConfirmedAt: Date?
    var confirmationSentAt: Date?
    var lastSignInAt: Date?
    var newPhone: String?
    var phoneChangeSentAt: Date?
    var userMetadata: JSONValue
    var appMetadata: JSONValue
    var bannedUntil: Date?
    var createdAt: Date
    var updatedAt: Date

    /// The columns of `auth.users` every user query selects, in ``init(_:from:)`` order
    /// (the two metadata columns are read as JSON text).
    private static let columnNames = [
        "id", "phone", "identity_id", "phone_confirmed_at", "confirmation_sent_at", "last_sign_in_at", "new_phone",
        "phone_change_sent_at", "user_metadata", "app_metadata", "banned_until", "created_at", "updated_at",
    ]

    /// The column list every user query selects, in ``init(row:)`` order.
    static let columns = columns(of: nil)

    /// The same columns read from a composite `auth.users` value, e.g. `(r.account)` for a
    /// function's `account` output, or from the table itself when `record` is nil.
    static func columns(of record: String?) -> String {
        columnNames.map { name in
            let reference = record.map { "\($0).\(name)" } ?? name
            return name.hasSuffix("_metadata") ? reference + "::text" : reference
        }.joined(separator: ", ")
    }

    init(row: PostgresRow) throws {
        try self.init(row.makeRandomAccess(), from: 0)
    }

    /// Reads the ``columns`` starting at column `offset` of a row.
    init(_ row: PostgresRandomAccessRow, from offset: Int) throws {
        func cell<Value: PostgresDecodable>(_ index: Int, as type: Value.Type) throws -> Value {
            try row[offset + index].decode(Value.self)
        }
        self.id = try cell(0, as: UUID.self)
        self.phone = try cell(1, as: String?.self)
        self.identityID = try cell(2, as: UUID.self)
        self.phoneConfirmedAt = try cell(3, as: Date?.self)
        self.confirmationSentAt = try cell(4, as: Date?.self)
        self.lastSignInAt = try cell(5, as: Date?.self)
        self.newPhone = try cell(6, as: String?.self)
        self.phoneChangeSentAt = try cell(7, as: Date?.self)
        self.userMetadata = Self.metadata(try cell(8, as: String.self))
        self.appMetadata = Self.metadata(try cell(9, as: String.self))
        self.bannedUntil = try cell(10, as: Date?.self)
        self.createdAt = try cell(11, as: Date.self)
        self.updatedAt = try cell(12, as: Date.self)
    }

    /// A metadata column's JSON text as a value (`{}` when it cannot be read). The two texts
    /// nearly every row has — the empty object and the `app_metadata` default, as PostgreSQL
    /// prints them — are known without a JSON decoder.
    private static func metadata(_ text: String) -> JSONValue {
        if let known = knownMetadata[text] { return known }
        return (try? JSONValue.parse(text)) ?? .object([:])
    }

    private static let knownMetadata: [String: JSONValue] = [
        "{}": .object([:]),
        #"{"provider": "phone", "providers": ["phone"]}"#: .object(["provider": .string("phone"), "providers": .array([.string("phone")])]),
    ]

    /// The GoTrue `User` object (the shape supabase clients parse).
    var json: UserJSON {
        let idText = id.uuidString.lowercased()
        let identity = UserJSON.Identity(
            identity_id: identityID.uuidString.lowercased(), id: idText, user_id: idText,
            identity_data: .object([
                "sub": .string(idText), "phone": .string(phone ?? ""),
                "email_verified": .bool(false), "phone_verified": .bool(phoneConfirmedAt != nil),
            ]),
            provider: "phone", last_sign_in_at: lastSignInAt, created_at: createdAt, updated_at: updatedAt)
        return UserJSON(
            id: idText, aud: "authenticated", role: "authenticated", email: "", phone: phone ?? "",
            phone_confirmed_at: phoneConfirmedAt, confirmation_sent_at: confirmationSentAt, confirmed_at: phoneConfirmedAt,
            last_sign_in_at: lastSignInAt, new_phone: newPhone, phone_change_sent_at: phoneChangeSentAt,
            app_metadata: appMetadata, user_metadata: userMetadata,
            identities: phoneConfirmedAt == nil ? [] : [identity],
            created_at: createdAt, updated_at: updatedAt, banned_until: bannedUntil, is_anonymous: false)
    }

    /// Loads a user by id.
    static func find(id: UUID, on connection: PostgresConnection, database: Database) async throws -> UserRecord? {
        let rows = try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT \(columns) FROM auth.users WHERE id = $1", binds: try binds(id)), logger: database.logger)
        for try await row in rows { return try UserRecord(row: row) }
        return nil
    }

    /// Loads a user by normalised phone, locking the row for the rest of the transaction.
    static func find(phone: String, on connection: PostgresConnection, database: Database) async throws -> UserRecord? {
        let rows = try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT \(columns) FROM auth.users WHERE phone = $1 FOR UPDATE", binds: try binds(phone)),
            logger: database.logger)
        for try await row in rows { return try UserRecord(row: row) }
        return nil
    }

    /// Runs an UPDATE/INSERT … RETURNING the user columns and returns the row.
    static func returning(_ sqlBeforeReturning: String, _ values: [any PostgresEncodable & Sendable], on connection: PostgresConnection, database: Database) async throws -> UserRecord {
        var bindings = PostgresBindings()
        for value in values { try bindings.append(value) }
        let rows = try await connection.query(
            PostgresQuery(unsafeSQL: sqlBeforeReturning + " RETURNING " + columns, binds: bindings), logger: database.logger)
        for try await row in rows { return try UserRecord(row: row) }
        throw APIError(status: .forbidden, code: "user_not_found", message: "User not found")
    }

    private static func binds(_ value: some PostgresEncodable) throws -> PostgresBindings {
        var bindings = PostgresBindings()
        try bindings.append(value)
        return bindings
    }
}

/// GoTrue's `User` JSON.
struct UserJSON: Encodable, Sendable {
    struct Identity: Encodable, Sendable {
        var identity_id: String
        var id: String
        var user_id: String
        var identity_data: JSONValue
        var provider: String
        var last_sign_in_at: Date?
        var created_at: Date
        var updated_at: Date
    }

    var id: String
    var aud: String
    var role: String
    var email: String
    var phone: String
    var phone_confirmed_at: Date?
    var confirmation_sent_at: Date?
    var confirmed_at: Date?
    var last_sign_in_at: Date?
    var new_phone: String?
    var phone_change_sent_at: Date?
    var app_metadata: JSONValue
    var user_metadata: JSONValue
    var identities: [Identity]
    var created_at: Date
    var updated_at: Date
    var banned_until: Date?
    var is_anonymous: Bool
}
