import Core
import Database
import Foundation
import PostgresNIO

/// How an interaction reaches the database: a transaction as the owner with the caller's
/// claims set (so `auth.uid()` and `reels.can_view` answer for the caller), and the one
/// visibility check every write makes first.
extension ReelsInteractions {
    /// The answer for a reel the caller may not see and for one that does not exist alike.
    static let reelNotFound = APIError.notFound("reel not found")

    /// Runs `body` in a transaction as the owner with the caller's claims set; database errors
    /// the caller's input caused come back as their ``APIError``.
    func asViewer<Result: Sendable>(
        _ caller: Caller, _ body: @Sendable (PostgresConnection, UUID) async throws -> Result
    ) async throws -> Result {
        let me = try caller.requireUser()
        do {
            return try await database.withOwner { connection in
                try await connection.execute("SELECT set_config('request.jwt.claims', $1, true)", [caller.claimsJSON])
                return try await body(connection, me)
            }
        } catch {
            throw PostgresErrorText.clientError(error) ?? error
        }
    }

    /// The author of `reel` if the caller may see it; 404 otherwise (never telling a private
    /// reel from a missing one). A write locks the row against deletion (`FOR KEY SHARE`) until
    /// its transaction ends, so its insert cannot meet a reel deleted meanwhile.
    func requireVisible(_ connection: PostgresConnection, _ reel: UUID, forWrite: Bool = true) async throws -> UUID {
        let rows = try await connection.rows("""
            SELECT r.author_id FROM reels.reels r
            WHERE r.id = $1 AND reels.can_view(r.author_id, r.visibility, r.state, r.moderation)
            \(forWrite ? "FOR KEY SHARE OF r" : "")
            """, [reel])
        for try await author in rows.decode(UUID.self) { return author }
        throw Self.reelNotFound
    }

    /// One counter of `reel` as it is now in this transaction.
    func counter(_ connection: PostgresConnection, _ column: String, _ reel: UUID) async throws -> Int64 {
        let rows = try await connection.rows("SELECT \(column) FROM reels.reels WHERE id = $1", [reel])
        for try await value in rows.decode(Int64.self) { return value }
        throw Self.reelNotFound
    }

    /// A keyset page `{"<key>": [...], "next": cursor|null}` from rows of (item JSON, sort
    /// timestamp text, id) fetched with `LIMIT limit + 1` (the extra row only proves there is
    /// a next page); the cursor is signed.
    func page(_ rows: PostgresRowSequence, key: String, limit: Int) async throws -> Data {
        var items: [String] = []
        var next: String?
        var last: KeysetCursor?
        for try await (item, timestamp, id) in rows.decode((String, String, UUID).self) {
            if items.count == limit, let last {
                next = try await cursors.encode(last)
                break
            }
            items.append(item)
            last = KeysetCursor(timestamp: timestamp, id: id)
        }
        let cursor = next.map { "\"\($0)\"" } ?? "null"
        return Data("{\"\(key)\":[\(items.joined(separator: ","))],\"next\":\(cursor)}".utf8)
    }

    /// A JSON object answer.
    static func object(_ fields: [String: JSONValue]) throws -> Data {
        try JSONBody.encoder.encode(fields)
    }
}
