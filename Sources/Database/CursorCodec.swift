import Core
import Crypto
import Foundation
import NIOConcurrencyHelpers
import PostgresNIO

/// Signs the keyset cursors handed to clients and verifies the ones they send back, so a
/// client can only resume a list where a previous page ended (it cannot craft a position,
/// e.g. an impossible time-zone offset).
///
/// The cursor text is `base64url(payload) "." base64url(HMAC-SHA256(key, payload))`. The key
/// is shared by every instance on one database: the first instance to need it stores a random
/// one in `public.cursor_signing_key` (migration 0007) and everyone reads back what won.
public final class CursorCodec: Sendable {
    private enum Source: Sendable {
        case database(Database)
        case fixed(Data)
    }

    private let source: Source
    /// The key's load from the database: one at a time (single flight), started when the
    /// codec is made so that it is done before requests arrive. A request must not load it
    /// inside its own transaction: that needs a second pooled connection while holding one,
    /// and a burst of first requests after a restart could hold the whole pool waiting.
    private let loading = NIOLockedValueBox<Task<Data, any Error>?>(nil)

    /// A codec whose key lives in `database` (loading starts at once).
    public init(database: Database) {
        self.source = .database(database)
        _ = startLoading(database)
    }

    /// A codec with a given key (tests).
    public init(key: Data) {
        self.source = .fixed(key)
    }

    /// The opaque text for `cursor`.
    public func encode(_ cursor: KeysetCursor) async throws -> String {
        let payload = Data(cursor.payload.utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: payload, using: try await key())
        return KeysetCursor.signedText(payload: payload, mac: Data(mac))
    }

    /// The cursor a client sent back (nil when absent); 400 naming `field` unless the server
    /// issued it.
    public func decode(_ text: String?, field: String) async throws -> KeysetCursor? {
        guard let text else { return nil }
        guard let (payload, mac) = KeysetCursor.signedParts(text) else { throw KeysetCursor.invalid(field) }
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: payload, using: try await key()),
            let payloadText = String(data: payload, encoding: .utf8),
            let cursor = KeysetCursor(payload: payloadText)
        else { throw KeysetCursor.invalid(field) }
        return cursor
    }

    private func key() async throws -> SymmetricKey {
        switch source {
        case .fixed(let bytes):
            return SymmetricKey(data: bytes)
        case .database(let database):
            let task = startLoading(database)
            do {
                return SymmetricKey(data: try await task.value)
            } catch {
                // A failed load (database unavailable) is tried again by the next caller.
                loading.withLockedValue { current in
                    if current == task { current = nil }
                }
                throw error
            }
        }
    }

    /// The load under way or done, or a new one.
    private func startLoading(_ database: Database) -> Task<Data, any Error> {
        loading.withLockedValue { current in
            if let current { return current }
            let task = Task { try await Self.loadOrCreate(database) }
            current = task
            return task
        }
    }

    /// Stores a random key unless one exists, then returns the stored one.
    static func loadOrCreate(_ database: Database) async throws -> Data {
        let candidate = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return try await database.withOwner { connection in
            try await connection.query(
                "INSERT INTO public.cursor_signing_key (id, key) VALUES (1, \(candidate.base64EncodedString())) ON CONFLICT (id) DO NOTHING",
                logger: database.logger)
            let rows = try await connection.query("SELECT key FROM public.cursor_signing_key WHERE id = 1", logger: database.logger)
            for try await stored in rows.decode(String.self) {
                if let bytes = Data(base64Encoded: stored), !bytes.isEmpty { return bytes }
            }
            throw CursorKeyMissing()
        }
    }
}

/// The cursor key row could not be read back (the migration did not run).
struct CursorKeyMissing: Error, CustomStringConvertible {
    var description: String { "public.cursor_signing_key holds no key" }
}
