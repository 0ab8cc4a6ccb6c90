import Core
import Foundation

/// Validation of message content, with messages naming the field and the rule.
enum MessageRules {
    /// Most messages one user may send per minute.
    static let perMinute = 60

    /// A text body: trimmed, 1 to 4000 characters (Unicode code points, as PostgreSQL counts).
    static func body(_ value: String, field: String = "body") throws -> String {
        let trimmed = value.trimmingWhitespace
        guard !trimmed.isEmpty else { throw APIError.invalidField(field, "must not be empty") }
        guard trimmed.unicodeScalars.count <= 4000 else { throw APIError.invalidField(field, "must be at most 4000 characters") }
        return trimmed
    }

    /// The caption of an attachment message: trimmed, 0 to 4000 characters.
    static func caption(_ value: String) throws -> String {
        let trimmed = value.trimmingWhitespace
        guard trimmed.unicodeScalars.count <= 4000 else { throw APIError.invalidField("body", "a caption must be at most 4000 characters") }
        return trimmed
    }

    /// A reaction: one emoji (one character of at most 16 code points, no letters).
    static func emoji(_ value: String) throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        let scalars = trimmed.unicodeScalars
        let looksLikeEmoji = scalars.contains { $0.properties.isEmojiPresentation || ($0.properties.isEmoji && $0.value > 0x7F) }
        guard trimmed.count == 1, scalars.count <= 16, looksLikeEmoji, !scalars.contains(where: { $0.properties.isAlphabetic }) else {
            throw APIError.invalidField("emoji", "must be a single emoji, or null to remove the reaction")
        }
        return trimmed
    }

    /// A group title: trimmed, 1 to 100 characters.
    static func title(_ value: String) throws -> String {
        let trimmed = value.trimmingWhitespace
        guard (1...100).contains(trimmed.unicodeScalars.count) else { throw APIError.invalidField("title", "must be 1 to 100 characters") }
        return trimmed
    }

    /// A list of user ids for a group: at most 200 distinct.
    static func members(_ ids: [UUID], field: String = "member_ids") throws -> [UUID] {
        var seen = Set<UUID>()
        let unique = ids.filter { seen.insert($0).inserted }
        guard unique.count <= 200 else { throw APIError.invalidField(field, "must list at most 200 users") }
        return unique
    }
}
