import Core
import Foundation

/// The arguments of the interaction RPCs, read from the JSON body and checked before anything
/// runs; every refusal is a 400 naming the field and the rule (docs/reels.md, Interactions).
enum InteractionArguments {
    /// Longest comment, in characters (Unicode code points, as PostgreSQL counts).
    static let maximumCommentLength = 2000
    /// Longest report details, in characters.
    static let maximumDetailsLength = 1000
    /// Most reel ids in one `record_reel_impressions`.
    static let maximumImpressions = 50
    /// Longest view one `record_reel_view` may report, in seconds.
    static let maximumWatchedSeconds = 3600.0
    static let defaultCommentsLimit = 20
    static let maximumCommentsLimit = 50
    static let defaultSavedLimit = 20
    static let maximumSavedLimit = 30

    /// Where a reel was shared to.
    enum ShareTarget: String, Sendable, CaseIterable {
        /// Into a chat as a link card.
        case chat
        /// A copied link (the default).
        case link
        /// Another app (the system share sheet).
        case external
    }

    /// Why a reel is reported.
    enum ReportReason: String, Sendable, CaseIterable {
        case spam, violence, nudity, hate, other
    }

    struct Comment: Equatable, Sendable {
        var reel: UUID
        var body: String
        var replyTo: UUID?
    }

    struct Share: Equatable, Sendable {
        var reel: UUID
        var target: ShareTarget
    }

    struct View: Equatable, Sendable {
        var reel: UUID
        /// The watched time in whole milliseconds, 0 to 3 600 000.
        var watchedMilliseconds: Int
    }

    struct Report: Equatable, Sendable {
        var reel: UUID
        var reason: ReportReason
        /// Trimmed, 1–1000 characters, or nil.
        var details: String?
    }

    /// A page of comments: the top comments of a reel (newest first) or the replies of one
    /// top comment (oldest first).
    struct CommentsPage: Equatable, Sendable {
        var reel: UUID
        var parent: UUID?
        var limit: Int
        /// The cursor text as sent (its shape is valid; its signature is checked later).
        var before: String?
    }

    struct SavedPage: Equatable, Sendable {
        var limit: Int
        var before: String?
    }

    // MARK: Per function

    /// `{reel_id}` (likes, saves, not interested, hide).
    static func reel(_ data: Data) throws -> UUID {
        struct Args: Decodable { var reel_id: UUID }
        return try JSONBody.decode(Args.self, from: data).reel_id
    }

    /// `{comment_id}` (`delete_reel_comment`).
    static func commentID(_ data: Data) throws -> UUID {
        struct Args: Decodable { var comment_id: UUID }
        return try JSONBody.decode(Args.self, from: data).comment_id
    }

    /// `{reel_id, body, reply_to?}` (`comment_reel`).
    static func comment(_ data: Data) throws -> Comment {
        struct Args: Decodable { var reel_id: UUID; var body: String; var reply_to: UUID? }
        let args = try JSONBody.decode(Args.self, from: data)
        return Comment(reel: args.reel_id, body: try commentBody(args.body), replyTo: args.reply_to)
    }

    /// `{reel_id, target?}` (`share_reel`).
    static func share(_ data: Data) throws -> Share {
        struct Args: Decodable { var reel_id: UUID; var target: String? }
        let args = try JSONBody.decode(Args.self, from: data)
        return Share(reel: args.reel_id, target: try args.target.map(shareTarget) ?? .link)
    }

    /// `{reel_id, watched_seconds}` (`record_reel_view`).
    static func view(_ data: Data) throws -> View {
        struct Args: Decodable { var reel_id: UUID; var watched_seconds: Double }
        let args = try JSONBody.decode(Args.self, from: data)
        return View(reel: args.reel_id, watchedMilliseconds: try watchedMilliseconds(args.watched_seconds))
    }

    /// `{reel_ids}` (`record_reel_impressions`): 1 to 50 ids, duplicates dropped (first kept).
    static func impressions(_ data: Data) throws -> [UUID] {
        struct Args: Decodable { var reel_ids: [UUID] }
        return try reelIDs(JSONBody.decode(Args.self, from: data).reel_ids)
    }

    /// `{reel_id, reason, details?}` (`report_reel`).
    static func report(_ data: Data) throws -> Report {
        struct Args: Decodable { var reel_id: UUID; var reason: String; var details: String? }
        let args = try JSONBody.decode(Args.self, from: data)
        return Report(reel: args.reel_id, reason: try reportReason(args.reason), details: try args.details.flatMap(details))
    }

    /// `{reel_id, parent_id?, limit?, before?}` (`get_reel_comments`).
    static func commentsPage(_ data: Data) throws -> CommentsPage {
        struct Args: Decodable { var reel_id: UUID; var parent_id: UUID?; var limit: Int?; var before: String? }
        let args = try JSONBody.decode(Args.self, from: data)
        return CommentsPage(
            reel: args.reel_id, parent: args.parent_id,
            limit: try PageSize.resolve(args.limit, default: defaultCommentsLimit, maximum: maximumCommentsLimit),
            before: try args.before.map(cursorShape))
    }

    /// `{limit?, before?}` (`get_saved_reels`).
    static func savedPage(_ data: Data) throws -> SavedPage {
        struct Args: Decodable { var limit: Int?; var before: String? }
        let args = try JSONBody.decode(Args.self, from: data)
        return SavedPage(
            limit: try PageSize.resolve(args.limit, default: defaultSavedLimit, maximum: maximumSavedLimit),
            before: try args.before.map(cursorShape))
    }

    // MARK: Field rules

    /// A comment: trimmed of white space, 1 to 2000 characters, no NUL.
    static func commentBody(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw APIError.invalidField("body", "must not be empty") }
        guard trimmed.unicodeScalars.count <= maximumCommentLength else {
            throw APIError.invalidField("body", "must be at most \(maximumCommentLength) characters")
        }
        guard !trimmed.unicodeScalars.contains("\u{0}") else { throw APIError.invalidField("body", JSONBody.nulRule) }
        return trimmed
    }

    static func shareTarget(_ text: String) throws -> ShareTarget {
        guard let target = ShareTarget(rawValue: text) else {
            throw APIError.invalidField("target", "must be chat, link or external")
        }
        return target
    }

    static func reportReason(_ text: String) throws -> ReportReason {
        guard let reason = ReportReason(rawValue: text) else {
            throw APIError.invalidField("reason", "must be spam, violence, nudity, hate or other")
        }
        return reason
    }

    /// Report details: trimmed, at most 1000 characters, no NUL; empty means none.
    static func details(_ text: String) throws -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.unicodeScalars.count <= maximumDetailsLength else {
            throw APIError.invalidField("details", "must be at most \(maximumDetailsLength) characters")
        }
        guard !trimmed.unicodeScalars.contains("\u{0}") else { throw APIError.invalidField("details", JSONBody.nulRule) }
        return trimmed.isEmpty ? nil : trimmed
    }

    /// Seconds watched (0 to 3600, fractions allowed) as whole milliseconds.
    static func watchedMilliseconds(_ seconds: Double) throws -> Int {
        guard seconds.isFinite, seconds >= 0, seconds <= maximumWatchedSeconds else {
            throw APIError.invalidField("watched_seconds", "must be a number of seconds from 0 to 3600")
        }
        return Int((seconds * 1000).rounded())
    }

    /// 1 to 50 reel ids, duplicates dropped.
    static func reelIDs(_ ids: [UUID]) throws -> [UUID] {
        guard (1...maximumImpressions).contains(ids.count) else {
            throw APIError.invalidField("reel_ids", "must hold 1 to \(maximumImpressions) reel ids")
        }
        var seen: Set<UUID> = []
        return ids.filter { seen.insert($0).inserted }
    }

    /// A `before` cursor's text when it has the shape of one this server issues (a signed
    /// keyset position); a 400 naming `before` otherwise.
    static func cursorShape(_ text: String) throws -> String {
        guard let (payload, _) = KeysetCursor.signedParts(text), let payloadText = String(data: payload, encoding: .utf8),
            KeysetCursor(payload: payloadText) != nil
        else { throw KeysetCursor.invalid("before") }
        return text
    }
}
