import Core
import Crypto
import Database
import Foundation
import NIOConcurrencyHelpers

/// The position in a feed session: the snapshot (`reels.feed_sessions` row) and the page to
/// serve next. Clients see it signed, `base64url(payload) "." base64url(HMAC-SHA256)`, with
/// the key every instance shares (`public.cursor_signing_key`), so a client can only come
/// back to a page the server announced.
public struct FeedCursor: Sendable, Equatable {
    public var session: UUID
    public var page: Int

    /// The most pages one session can have (its snapshot ranks at most 1000 reels).
    public static let maximumPage = 1000

    public init(session: UUID, page: Int) {
        self.session = session
        self.page = page
    }

    /// The signed text: `feed|<session>|<page>`.
    public var payload: String { "feed|\(session.uuidString.lowercased())|\(page)" }

    /// Parses ``payload``; nil unless it is exactly what the server writes. Foundation's UUID
    /// parser on Linux also takes other spellings (a space in place of a digit), and `Int`
    /// takes leading zeros: a cursor has one spelling only.
    public init?(payload: String) {
        let parts = payload.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "feed", let session = UUID(uuidString: String(parts[1])),
            parts[2].utf8.count <= 4, parts[2].unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }),
            let page = Int(parts[2]), (1...Self.maximumPage).contains(page)
        else { return nil }
        self.init(session: session, page: page)
        guard self.payload == payload else { return nil }
    }
}

/// Signs feed cursors and verifies the ones clients send back.
public final class FeedCursorCodec: Sendable {
    private enum Source: Sendable {
        case database(Database)
        case fixed(SymmetricKey)
    }

    private let source: Source
    private let loading = NIOLockedValueBox<Task<SymmetricKey, any Error>?>(nil)

    /// A codec whose key is the database's cursor key.
    public init(database: Database) { source = .database(database) }

    /// A codec with a given key (tests, fuzzing).
    public init(key: SymmetricKey) { source = .fixed(key) }

    /// The opaque text handed to the client.
    public func encode(_ cursor: FeedCursor) async throws -> String {
        let payload = Data(cursor.payload.utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: payload, using: try await key())
        return KeysetCursor.signedText(payload: payload, mac: Data(mac))
    }

    /// The cursor a client sent (nil when absent); 400 naming `field` unless the server made it.
    public func decode(_ text: String?, field: String = "cursor") async throws -> FeedCursor? {
        guard let text else { return nil }
        return try Self.verify(text, key: try await key(), field: field)
    }

    /// The checks of ``decode(_:field:)`` with a known key.
    public static func verify(_ text: String, key: SymmetricKey, field: String = "cursor") throws -> FeedCursor {
        guard let (payload, mac) = KeysetCursor.signedParts(text),
            HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: payload, using: key),
            let payloadText = String(data: payload, encoding: .utf8),
            let cursor = FeedCursor(payload: payloadText)
        else { throw KeysetCursor.invalid(field) }
        return cursor
    }

    private func key() async throws -> SymmetricKey {
        switch source {
        case .fixed(let key): return key
        case .database(let database):
            let task = loading.withLockedValue { current in
                if let current { return current }
                let task = Task { try await Self.load(database) }
                current = task
                return task
            }
            do {
                return try await task.value
            } catch {
                loading.withLockedValue { current in
                    if current == task { current = nil }
                }
                throw error
            }
        }
    }

    /// The shared cursor key, created when no instance has made it yet.
    private static func load(_ database: Database) async throws -> SymmetricKey {
        let candidate = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
        return try await database.withOwner { connection in
            try await connection.execute(
                "INSERT INTO public.cursor_signing_key (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING", [candidate])
            for try await stored in try await connection.rows("SELECT key FROM public.cursor_signing_key WHERE id = 1", []).decode(String.self) {
                if let bytes = Data(base64Encoded: stored), !bytes.isEmpty { return SymmetricKey(data: bytes) }
            }
            throw FeedCursorKeyMissing()
        }
    }
}

/// The cursor key row could not be read back.
struct FeedCursorKeyMissing: Error, CustomStringConvertible {
    var description: String { "public.cursor_signing_key holds no key" }
}
