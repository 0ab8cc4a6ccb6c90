import Core
import Crypto
import Database
import Foundation
import NIOConcurrencyHelpers

/// The URLs of a ready reel's media: `{"hls","mp4","poster"}`, absolute paths under
/// `/reels/v1/media/<token>/` (``ReelMediaToken``). Playlists refer to their segments by
/// relative URIs, so a segment resolves under the same token.
public struct ReelMediaLinks: Sendable, Equatable, Encodable {
    public var hls: String
    public var mp4: String
    public var poster: String

    /// The links as JSON text, `{"hls":…,"mp4":…,"poster":…}`, written directly: the paths
    /// are the route prefix, a token of base64url characters and `.`, and a file name, none
    /// of which JSON escapes (a JSONEncoder per record was a tenth of a feed page's server time).
    var json: String {
        "{\"hls\":\"\(hls)\",\"mp4\":\"\(mp4)\",\"poster\":\"\(poster)\"}"
    }
}

/// Signs media tokens with the key in `reels.media_keys` (loaded once per process, shared by
/// every instance) and makes the links that go into reel records. F and I build one from the
/// database and call ``links(for:)``.
public final class ReelMedia: Sendable {
    /// The route prefix the media are served under.
    public static let routePrefix = "/reels/v1/media/"
    /// A token is valid for at least this long: its expiry is the end of the hour six hours
    /// ahead, so the links of one reel stay the same for an hour (caches keep working).
    public static let minimumLifetimeSeconds: Int64 = 6 * 3600

    private enum Source: Sendable {
        case database(Database)
        case fixed(SymmetricKey)
    }

    private let source: Source
    private let loaded = NIOLockedValueBox<Task<SymmetricKey, any Error>?>(nil)
    private let clock: @Sendable () -> Int64

    /// Media links signed with the key stored in `database`.
    public init(database: Database, now: @escaping @Sendable () -> Int64 = ReelMedia.now) {
        self.source = .database(database)
        self.clock = now
    }

    /// Media links signed with a given key (tests, fuzzing).
    public init(key: SymmetricKey, now: @escaping @Sendable () -> Int64 = ReelMedia.now) {
        self.source = .fixed(key)
        self.clock = now
    }

    /// Media links signed with the key `bytes` (tests).
    public convenience init(keyBytes bytes: Data, now: @escaping @Sendable () -> Int64 = ReelMedia.now) {
        self.init(key: SymmetricKey(data: bytes), now: now)
    }

    @Sendable public static func now() -> Int64 { Int64(Date().timeIntervalSince1970.rounded(.down)) }

    /// The links of a reel whose outputs live under `mediaPrefix` (`<reel id>/<attempt>`);
    /// nil when there is no prefix (not ready) or it is not one the pipeline writes.
    public func links(for mediaPrefix: String?) async throws -> ReelMediaLinks? {
        guard let mediaPrefix, let token = ReelMediaToken(prefix: mediaPrefix, expiresAt: Self.expiry(now: clock())) else { return nil }
        let base = Self.routePrefix + token.signed(with: try await key()) + "/"
        return ReelMediaLinks(hls: base + "master.m3u8", mp4: base + "video.mp4", poster: base + "poster.jpg")
    }

    /// The expiry of tokens made at `now`.
    static func expiry(now: Int64) -> Int64 {
        (now / 3600 + 1) * 3600 + minimumLifetimeSeconds
    }

    /// The token of a media URL, verified now.
    public func verify(_ text: Substring) async throws -> ReelMediaToken {
        let key = try await key()
        do {
            return try ReelMediaToken.verify(text, key: key, now: clock())
        } catch {
            throw error.apiError
        }
    }

    func key() async throws -> SymmetricKey {
        switch source {
        case .fixed(let key): return key
        case .database(let database):
            let task = loaded.withLockedValue { task in
                if let task { return task }
                let created = Task { try await Self.load(database) }
                task = created
                return created
            }
            do {
                return try await task.value
            } catch {
                // A failed load is retried by the next caller.
                loaded.withLockedValue { if $0 == task { $0 = nil } }
                throw error
            }
        }
    }

    private static func load(_ database: Database) async throws -> SymmetricKey {
        let bytes = try await database.withOwner { connection in
            var key: Data?
            for try await bytes in try await connection.rows("SELECT key FROM reels.media_keys WHERE id", []).decode(Data.self) {
                key = bytes
            }
            return key
        }
        guard let bytes, bytes.count >= 32 else { throw MediaKeyMissing() }
        return SymmetricKey(data: bytes)
    }
}

/// reels.media_keys holds no key (migration 0021 did not run).
struct MediaKeyMissing: Error, CustomStringConvertible {
    var description: String { "reels.media_keys has no key: run the migrations" }
}
