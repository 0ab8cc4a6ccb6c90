import Core
import Foundation

/// Validation of profile fields, with messages naming the rule.
enum ProfileRules {
    /// Why a username is not acceptable, or nil if it is: 3–32 code points, each an ASCII
    /// letter, digit or underscore (letters compare case-insensitively and are stored
    /// lower-case). This is the one username rule: `check_username` and `update_my_profile`
    /// both use it, and it accepts exactly what the database's `profiles_username_check`
    /// (`^[a-z0-9_]{3,32}$` on the lower-cased text) accepts. Nothing is normalised first:
    /// combining marks, precomposed letters (NFC) and compatibility forms (fullwidth
    /// letters, the Kelvin sign, which NFKC or lower-casing would turn into ASCII) are all
    /// refused, so what the user typed is what is stored.
    static func usernameProblem(_ username: String) -> String? {
        let scalars = username.unicodeScalars
        guard scalars.allSatisfy(isUsernameScalar) else {
            return "may contain only letters a-z, digits and underscores"
        }
        guard (3...32).contains(scalars.count) else { return "must be 3 to 32 characters" }
        return nil
    }

    private static func isUsernameScalar(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
    }

    static func username(_ value: String) throws -> String {
        if let problem = usernameProblem(value) { throw APIError.invalidField("username", problem) }
        return value.lowercased()
    }

    static func displayName(_ value: String) throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...64).contains(trimmed.unicodeScalars.count) else { throw APIError.invalidField("display_name", "must be 1 to 64 characters") }
        return trimmed
    }

    // Lengths count Unicode code points, as PostgreSQL's char_length does.

    static func bio(_ value: String) throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.unicodeScalars.count <= 500 else { throw APIError.invalidField("bio", "must be at most 500 characters") }
        return trimmed
    }

    /// An avatar: an http(s) URL, or this server's public avatars bucket by a relative URL
    /// (`/storage/v1/object/public/avatars/<path>`: no `..`, no white space), at most 2048
    /// characters. Migration 0013's CHECK says the same.
    static func avatarURL(_ value: String) throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        let rule = "must be an http(s) URL or /storage/v1/object/public/avatars/<path>, at most 2048 characters"
        guard trimmed.unicodeScalars.count <= 2048 else { throw APIError.invalidField("avatar_url", rule) }
        let relativePrefix = "/storage/v1/object/public/avatars/"
        // Compared by Unicode scalars, as the database compares bytes: a '.' or '/' followed by
        // a combining mark is one Character but still '..' or the prefix to PostgreSQL.
        let scalars = trimmed.unicodeScalars
        if scalars.starts(with: relativePrefix.unicodeScalars) {
            let hasDotDot = zip(scalars, scalars.dropFirst()).contains { $0 == "." && $1 == "." }
            guard scalars.count > relativePrefix.unicodeScalars.count, !hasDotDot,
                !trimmed.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F })
            else { throw APIError.invalidField("avatar_url", rule) }
            return trimmed
        }
        guard let url = URL(string: trimmed), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false else {
            throw APIError.invalidField("avatar_url", rule)
        }
        return trimmed
    }

    static func searchQuery(_ value: String) throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: CharacterSet(charactersIn: "@"))
        guard (1...64).contains(trimmed.count) else { throw APIError.invalidField("query", "must be 1 to 64 characters") }
        return trimmed
    }

    /// A LIKE pattern matching values that start with `prefix` (wildcards escaped).
    static func likePrefix(_ prefix: String) -> String {
        prefix.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_") + "%"
    }
}

/// Who may add a user to groups (a private profile setting, like Telegram's "Who can add me
/// to group chats"). The database applies it in `public.chat_check_new_member`.
enum GroupAddPolicy: String, Sendable, CaseIterable {
    /// Anyone who has not blocked the user and is not blocked by them (the default).
    case everyone
    /// Only people the user follows (accepted follows).
    case contacts
    /// Nobody (the user can still create groups of their own).
    case nobody

    static func parse(_ value: String) throws -> GroupAddPolicy {
        guard let policy = GroupAddPolicy(rawValue: value) else {
            throw APIError.invalidField("who_can_add_to_groups", "must be everyone, contacts or nobody")
        }
        return policy
    }
}
