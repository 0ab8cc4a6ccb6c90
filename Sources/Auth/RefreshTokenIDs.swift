import Database
import NIOConcurrencyHelpers
import PostgresNIO

/// Row ids for new refresh tokens, reserved from the table's sequence a block at a time.
///
/// A refresh token is derived from its row id (``SessionService``), and its hash is stored
/// with the row, so the id must be known before the statement that inserts it: reserving
/// ids ahead keeps sign-in and refresh one statement each (one extra statement per
/// ``blockSize`` tokens). Ids are unique across instances (one sequence); ids an instance
/// reserved but never used (it stopped, a request failed) are simply skipped, and tokens
/// need not be inserted in id order.
final class RefreshTokenIDs: Sendable {
    /// Ids reserved per statement.
    static let blockSize = 64

    private let database: Database
    private let reserved = NIOLockedValueBox<[Int64]>([])

    init(database: Database) {
        self.database = database
    }

    /// An id no token has yet, reserving a new block when none is left.
    func next() async throws -> Int64 {
        if let id = reserved.withLockedValue({ $0.popLast() }) { return id }
        var block = try await database.withStatement { connection in
            let rows = try await connection.query(
                "SELECT nextval(pg_get_serial_sequence('auth.refresh_tokens', 'id')) FROM generate_series(1, \(Self.blockSize))",
                logger: database.logger)
            var ids: [Int64] = []
            for try await id in rows.decode(Int64.self) { ids.append(id) }
            return ids
        }
        guard let id = block.popLast() else { throw RefreshTokenIDsError() }
        // Concurrent requests that found the pool empty each reserve a block; all are kept.
        reserved.withLockedValue { $0.append(contentsOf: block) }
        return id
    }
}

/// The sequence returned no ids (it cannot, unless the statement was changed).
struct RefreshTokenIDsError: Error, CustomStringConvertible {
    var description: String { "no refresh token id was reserved" }
}
