import Foundation

/// The arbiter's persisted state (`reels.arbiter_state`, one row).
public struct ArbiterState: Sendable, Equatable {
    /// Whether the personalised feed is suppressed (the feed serves recency instead).
    public var suppressed: Bool
    /// When `suppressed` last changed.
    public var since: Date
    /// While suppressed: when the current unbroken green streak began; nil otherwise.
    public var greenSince: Date?
    /// The last evaluation.
    public var updatedAt: Date
    /// Why, in words, for operators.
    public var reason: String

    public init(suppressed: Bool, since: Date, greenSince: Date? = nil, updatedAt: Date, reason: String = "") {
        self.suppressed = suppressed
        self.since = since
        self.greenSince = greenSince
        self.updatedAt = updatedAt
        self.reason = reason
    }
}
