import Foundation

/// The moderation decision made when a reel becomes ready (`reels.moderation_settings`,
/// migration 0019): `auto` approves unless the caption contains a blocklist word (then the
/// reel waits for review: `pending`); `manual` leaves every reel `pending`.
struct ModerationPolicy: Sendable, Equatable {
    enum Mode: String, Sendable { case auto, manual }

    var mode: Mode
    /// Lower-cased words.
    var blocklist: Set<String>

    struct Decision: Sendable, Equatable {
        var moderation: String
        var reason: String?
    }

    func decide(caption: String) -> Decision {
        switch mode {
        case .manual:
            return Decision(moderation: "pending", reason: "manual review")
        case .auto:
            if let word = Self.words(caption).first(where: { blocklist.contains($0) }) {
                return Decision(moderation: "pending", reason: "caption contains the blocked word \"\(word)\"")
            }
            return Decision(moderation: "approved", reason: nil)
        }
    }

    /// The caption's words: lower-cased runs of letters and digits (`#Spam!` → `spam`).
    static func words(_ caption: String) -> [String] {
        caption.lowercased().split { !($0.isLetter || $0.isNumber || $0 == "_") }.map(String.init)
    }
}
