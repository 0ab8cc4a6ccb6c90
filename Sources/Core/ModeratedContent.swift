import Foundation

/// What a moderator's decision on a user's content leaves for the caller: whose content it
/// was (to warn them), and what to announce once the decision's transaction has committed.
public struct ModeratedContent: Sendable {
    /// The user who posted the content.
    public let author: UUID
    /// Tells clients about the change (realtime); call it after the commit, never before.
    public let announce: @Sendable () async -> Void

    public init(author: UUID, announce: @escaping @Sendable () async -> Void = {}) {
        self.author = author
        self.announce = announce
    }
}
