import Foundation

/// The moderation decision made when a reel becomes ready (`reels.moderation_settings`,
/// migration 0019): `auto` approves unless the caption contains a blocklist word or a hashtag
/// moderators blocked (`reels.hashtag_blocklist`, migration 0028) — then the reel waits for
/// review: `pending`; `manual` leaves every reel `pending`.
struct ModerationPolicy: Sendable, Equatable {
    enum Mode: String, Sendable { case auto, manual }

    var mode: Mode
    /// Lower-cased words.
    var blocklist: Set<String>
    /// Blocked hashtags, as captions yield them.
    var blockedHashtags: Set<String> = []

    struct Decision: Sendable, Equatable {
        var moderation: String
        var reason: String?
    }

    func decide(caption: String) -> Decision {
        switch mode {
        case .manual:
            return Decision(moderation: "pending", reason: "manual review")
        case .auto:
            if let tag = Hashtags.extract(caption).first(where: blockedHashtags.contains) {
                return Decision(moderation: "pending", reason: "the hashtag #\(tag) is blocked")
            }
            if let word = Self.words(caption).first(where: { blocklist.contains($0) }) {
                return Decision(moderation: "pending", reason: "caption contains the blocked word \"\(word)\"")
            }
            return Decision(moderation: "approved", reason: nil)
        }
    }

    /// The policy, the caption blocklist and the blocked hashtags, in one row.
    static let settingsSQL =
        "SELECT policy, caption_blocklist, ARRAY(SELECT tag FROM reels.hashtag_blocklist ORDER BY tag) FROM reels.moderation_settings WHERE id"

    /// The caption's words: lower-cased runs of letters and digits (`#Spam!` → `spam`).
    static func words(_ caption: String) -> [String] {
        caption.lowercased().split { !($0.isLetter || $0.isNumber || $0 == "_") }.map(String.init)
    }
}
