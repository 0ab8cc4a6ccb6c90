import Core
import Database
import Foundation
import PostgresNIO

extension ReelsFeed {
    /// The newest-first lists: reels of the accounts the caller follows, one author's reels,
    /// one hashtag's reels. Read under row-level security (who may see a reel), ready reels
    /// only, without the ones the caller hid, reported or marked "not interested". Each needs
    /// a signed-in user (the reels table has no row-level security policy for `anon` yet).
    enum ReelList: Sendable {
        case following
        case author(UUID)
        case hashtag(String)

        /// The list's own condition on `r` and its argument (`$1`).
        var condition: (sql: String, value: (any PostgresEncodable & Sendable)?) {
            switch self {
            case .following: ("r.author_id IN (SELECT reels.my_followees()) AND $1::text IS NULL", nil)
            case .author(let id): ("r.author_id = $1::uuid", id)
            case .hashtag(let tag): ("r.hashtags @> ARRAY[$1::text] AND NOT reels.hashtag_blocked($1::text)", tag)
            }
        }

        /// Why a caller without a user is refused (401).
        var signInRule: String {
            switch self {
            case .following: "sign in required: the following list shows reels of the accounts you follow"
            case .author, .hashtag: "sign in required: an author's or a hashtag's reels need a signed-in user (anonymous viewers may read get_reels_feed)"
            }
        }
    }

    /// One page: `{"reels":[…],"next":cursor|null}`, keyset by (created_at, id) descending.
    func list(_ caller: Caller, _ list: ReelList, limit: Int, before: String?) async throws -> Data {
        guard caller.role == .authenticated, caller.userID != nil else {
            throw APIError(status: .unauthorized, code: "42501", message: list.signInRule)
        }
        let cursor = try await listCursors.decode(before, field: "before")
        let (condition, value) = list.condition
        let (records, last) = try await database.withCaller(caller) { connection in
            let rows = try await connection.rows(
                """
                SELECT \(ReelRecord.columns("r")), r.created_at::text, r.id
                FROM reels.reels r
                WHERE \(condition) AND r.state = 'ready' AND r.moderation = 'approved'
                  AND ($2::timestamptz IS NULL OR (r.created_at, r.id) < ($2::timestamptz, $3::uuid))
                  AND NOT reels.excluded_for_me(r.id)
                ORDER BY r.created_at DESC, r.id DESC
                LIMIT $4
                """, [value, cursor?.timestamp, cursor?.id, limit + 1])
            var records: [String] = []
            var last: KeysetCursor?
            var more = false
            for try await (record, prefix, state, moderation, createdAt, id) in rows.decode((String, String?, String, String, String, UUID).self) {
                if records.count == limit {
                    more = true
                    break
                }
                records.append(try await ReelRecord.json((record, prefix, state, moderation), media: media))
                last = KeysetCursor(timestamp: createdAt, id: id)
            }
            return (records, more ? last : nil)
        }
        var next = "null"
        if let last { next = "\"\(try await listCursors.encode(last))\"" }
        return Data("{\"reels\":[\(records.joined(separator: ","))],\"next\":\(next)}".utf8)
    }
}

/// A hashtag argument: an optional leading `#`, then one tag exactly as captions yield it.
enum FeedHashtag {
    static func normalise(_ text: String) throws -> String {
        let bare = text.hasPrefix("#") ? String(text.dropFirst()) : text
        guard !bare.isEmpty, bare.count <= Hashtags.maximumLength else {
            throw APIError.invalidField("tag", "must be 1–\(Hashtags.maximumLength) letters, digits or _")
        }
        let tags = Hashtags.extract("#" + bare)
        guard tags.count == 1, let tag = tags.first, tag == bare.lowercased() else {
            throw APIError.invalidField("tag", "must be 1–\(Hashtags.maximumLength) letters, digits or _")
        }
        return tag
    }
}
