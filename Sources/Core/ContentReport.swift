import Foundation

/// A user's report of something another user posted (a message, a profile): why, and
/// optionally in their own words. Checked here so every report RPC gives the same errors.
public struct ContentReport: Equatable, Sendable {
    /// Why something is reported.
    public enum Reason: String, Sendable, CaseIterable {
        case spam, harassment, hate, violence, nudity, impersonation, other
    }

    /// Longest details, in characters.
    public static let maximumDetailsLength = 1000

    public var reason: Reason
    /// Trimmed, 1–1000 characters, or nil.
    public var details: String?

    /// Checks `reason` (one of ``Reason``) and `details` (trimmed, at most 1000 characters, no
    /// NUL; empty means none), naming the field that breaks a rule.
    public init(reason: String, details: String?) throws {
        guard let known = Reason(rawValue: reason) else {
            throw APIError.invalidField("reason", "must be one of \(Reason.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.reason = known
        guard let details else { return }
        let trimmed = details.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.unicodeScalars.count <= Self.maximumDetailsLength else {
            throw APIError.invalidField("details", "must be at most \(Self.maximumDetailsLength) characters")
        }
        guard !trimmed.unicodeScalars.contains("\u{0}") else { throw APIError.invalidField("details", JSONBody.nulRule) }
        self.details = trimmed.isEmpty ? nil : trimmed
    }
}
