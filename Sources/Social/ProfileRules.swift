import Core
import Foundation

/// Validation of profile fields, with messages naming the rule.
enum ProfileRules {
    /// Why a username is not acceptable, or nil if it is (3–32 of a-z, 0-9, _; case-insensitive).
    static func usernameProblem(_ username: String) -> String? {
        let lowered = username.lowercased()
        guard (3...32).contains(lowered.count) else { return "must be 3 to 32 characters" }
        guard lowered.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }) else {
            return "may contain only letters a-z, digits and underscores"
        }
        return nil
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

    static func avatarURL(_ value: String) throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard trimmed.count <= 2048, let url = URL(string: trimmed), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
            url.host?.isEmpty == false
        else {
            throw APIError.invalidField("avatar_url", "must be an http(s) URL of at most 2048 characters")
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
