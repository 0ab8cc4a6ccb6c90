import Core
import Database
import Foundation
import Logging

/// The ranked feed (`get_reels_feed`) and the reels lists (following, an author's, a
/// hashtag's); docs/reels.md, "Feed". Ranking, exclusions, the per-author cap and the session
/// snapshot live in SQL (`reels.feed_page`), which reads the arbiter's suppression and the
/// active config on every call; this part checks who may call, limits new sessions, checks
/// arguments, signs cursors and turns rows into reel records. The feed is open to anonymous
/// callers (anon key only); the lists need a signed-in user.
public struct ReelsFeed: Sendable {
    let database: Database
    let media: ReelMedia
    let feedCursors: FeedCursorCodec
    let listCursors: CursorCodec
    let sessionLimiter: FeedSessionLimiter
    let logger: Logger

    /// Page sizes: default 10, at most 30.
    public static let defaultLimit = 10
    public static let maximumLimit = 30

    /// `buckets` keeps the anonymous per-address limit (shared by the instances when the server has Redis).
    public init(
        database: Database, limits: FeedLimitSettings = FeedLimitSettings(), buckets: (any TokenBucketStore)? = nil, logger: Logger
    ) {
        self.init(database: database, logger: logger, media: ReelMedia(database: database), limits: limits, buckets: buckets)
    }

    init(
        database: Database, logger: Logger, media: ReelMedia, limits: FeedLimitSettings = FeedLimitSettings(),
        buckets: (any TokenBucketStore)? = nil
    ) {
        self.database = database
        self.media = media
        self.feedCursors = FeedCursorCodec(database: database)
        self.listCursors = CursorCodec(database: database)
        self.sessionLimiter = FeedSessionLimiter(limits, buckets: buckets)
        self.logger = logger
    }

    public var rpcFunctions: [RPCFunction] {
        [
            RPCFunction("get_reels_feed", parameters: ["limit", "cursor"]) { call in
                struct Args: Decodable { var limit: Int?; var cursor: String? }
                let args = try call.decode(Args.self)
                let limit = try PageSize.resolve(args.limit, default: Self.defaultLimit, maximum: Self.maximumLimit)
                try Self.requireViewer(call.caller)
                let cursor = try await feedCursors.decode(args.cursor, field: "cursor")
                if cursor == nil {
                    try await sessionLimiter.admit(call.caller, address: call.clientAddress)
                }
                return .json(try await feedPage(call.caller, limit: limit, at: cursor, limited: true))
            },
            RPCFunction("get_following_reels", parameters: ["limit", "before"]) { call in
                struct Args: Decodable { var limit: Int?; var before: String? }
                let args = try call.decode(Args.self)
                let limit = try PageSize.resolve(args.limit, default: Self.defaultLimit, maximum: Self.maximumLimit)
                return .json(try await list(call.caller, .following, limit: limit, before: args.before))
            },
            RPCFunction("get_author_reels", parameters: ["author_id", "limit", "before"]) { call in
                struct Args: Decodable { var author_id: UUID; var limit: Int?; var before: String? }
                let args = try call.decode(Args.self)
                let limit = try PageSize.resolve(args.limit, default: Self.defaultLimit, maximum: Self.maximumLimit)
                return .json(try await list(call.caller, .author(args.author_id), limit: limit, before: args.before))
            },
            RPCFunction("get_hashtag_reels", parameters: ["tag", "limit", "before"]) { call in
                struct Args: Decodable { var tag: String; var limit: Int?; var before: String? }
                let args = try call.decode(Args.self)
                let tag = try FeedHashtag.normalise(args.tag)
                let limit = try PageSize.resolve(args.limit, default: Self.defaultLimit, maximum: Self.maximumLimit)
                return .json(try await list(call.caller, .hashtag(tag), limit: limit, before: args.before))
            },
        ]
    }

    /// One page of the caller's ranked feed: `{"reels":[…],"next":cursor|null,"mode":…}`
    /// (new sessions not limited: the tests' direct way in).
    func feed(_ caller: Caller, limit: Int, cursor text: String?) async throws -> Data {
        try Self.requireViewer(caller)
        return try await feedPage(caller, limit: limit, at: try await feedCursors.decode(text, field: "cursor"), limited: false)
    }

    /// A page in one statement (`reels.feed_page_as` sets the verified claims itself and, when
    /// `limited`, takes a signed-in caller's new-session token): one round trip. Each record
    /// comes back as its own text, spliced with media links, never parsed here.
    private func feedPage(_ caller: Caller, limit: Int, at cursor: FeedCursor?, limited: Bool) async throws -> Data {
        let sessions = sessionLimiter.users
        let rows = try await database.withStatement { connection in
            var rows: [FeedRow] = []
            for try await row in try await connection.rows(
                Self.pageSQL,
                [
                    caller.role.rawValue, caller.claimsJSON, cursor?.session, cursor?.page ?? 0, limit,
                    sessions.action, limited ? sessions.burst : nil, sessions.periodSeconds,
                ]
            ).decode(FeedRow.self) {
                rows.append(row)
            }
            return rows
        }
        guard let head = rows.first else { throw UnexpectedFeedPage() }
        if let wait = head.0 { throw sessions.refusal(retryAfter: wait) }
        guard let session = head.1, let pageNumber = head.2, let mode = head.3, let more = head.4 else { throw UnexpectedFeedPage() }
        var records: [String] = []
        for (_, _, _, _, _, record, mediaPrefix, state, moderation) in rows {
            guard let record, let state, let moderation else { continue }
            records.append(try await ReelRecord.json((record, mediaPrefix, state, moderation), media: media))
        }
        var next = "null"
        if more, pageNumber < FeedCursor.maximumPage {
            next = "\"\(try await feedCursors.encode(FeedCursor(session: session, page: pageNumber + 1)))\""
        }
        return Data("{\"reels\":[\(records.joined(separator: ","))],\"next\":\(next),\"mode\":\"\(mode)\"}".utf8)
    }

    /// A page of `reels.feed_page_as` as rows: the seconds to wait when a new session was
    /// refused (then nothing else), else session, page, mode and more on every row, then one
    /// item each (record text without media, media prefix, state, moderation; all null on an
    /// empty page's single row), in order.
    typealias FeedRow = (Int?, UUID?, Int?, String?, Bool?, String?, String?, String?, String?)
    static let pageSQL = """
        WITH p AS MATERIALIZED (
            SELECT reels.feed_page_as($1, $2, $3::uuid, $4::integer, $5::integer, $6, $7::integer, $8::integer) AS page)
        SELECT (p.page ->> 'retry_after')::integer,
               (p.page ->> 'session')::uuid, (p.page ->> 'page')::integer, p.page ->> 'mode', (p.page ->> 'more')::boolean,
               (i.item -> 'record')::text, i.item ->> 'media_prefix', i.item ->> 'state', i.item ->> 'moderation'
        FROM p LEFT JOIN LATERAL jsonb_array_elements(p.page -> 'items') WITH ORDINALITY AS i(item, ord) ON true
        ORDER BY i.ord
        """

    /// A signed-in user or an anonymous caller; anyone else (the service role) is told to sign in.
    static func requireViewer(_ caller: Caller) throws {
        if caller.role != .anon { _ = try caller.requireUser() }
    }
}

/// `reels.feed_page_as` returned no row (it always returns one).
struct UnexpectedFeedPage: Error {}
