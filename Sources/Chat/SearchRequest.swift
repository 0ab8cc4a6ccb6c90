import Core
import Foundation

/// The arguments of `search_messages`, checked before anything runs: the query (trimmed,
/// 1 to 200 characters), the page size (1 to 50, default 20) and the shape of the `before`
/// cursor (its signature is checked by the service's `CursorCodec`).
struct SearchRequest: Equatable, Sendable {
    /// Longest query, in characters (Unicode code points, as PostgreSQL counts).
    static let maximumQueryLength = 200
    static let defaultLimit = 20
    static let maximumLimit = 50

    var query: String
    var conversation: UUID?
    var limit: Int
    /// The cursor text as sent (nil for the first page); its shape is valid.
    var before: String?

    /// Checks the arguments; every refusal is a 400 naming the field and the rule.
    static func parse(query: String, conversation: UUID?, limit: Int?, before: String?) throws -> SearchRequest {
        SearchRequest(
            query: try Self.query(query), conversation: conversation,
            limit: try PageSize.resolve(limit, default: defaultLimit, maximum: maximumLimit),
            before: try before.map(Self.cursorShape))
    }

    /// A query: trimmed of white space, 1 to 200 characters, no NUL (PostgreSQL text cannot hold it).
    static func query(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw APIError.invalidField("query", "must not be empty") }
        guard trimmed.unicodeScalars.count <= maximumQueryLength else {
            throw APIError.invalidField("query", "must be at most \(maximumQueryLength) characters")
        }
        guard !trimmed.unicodeScalars.contains("\u{0}") else {
            throw APIError.invalidField("query", "must not contain NUL characters")
        }
        return trimmed
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
