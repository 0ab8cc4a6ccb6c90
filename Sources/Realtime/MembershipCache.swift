import Foundation

/// Who belongs to which conversation, cached per instance and kept current by the
/// membership changes every instance receives on the bus.
///
/// Entries are re-read after ``timeToLive`` so a change this instance missed (its bus
/// listener was reconnecting) cannot keep a removed member subscribed for long. Concurrent
/// misses for one conversation share one read.
actor MembershipCache {
    private let feed: any ChangeFeed
    private var members: [UUID: (users: Set<UUID>, loadedAt: ContinuousClock.Instant)] = [:]
    private var loading: [UUID: Task<Set<UUID>, any Error>] = [:]
    let timeToLive: Duration
    /// Conversations kept at most; past it the cache starts over.
    static let capacity = 50_000

    init(feed: any ChangeFeed, timeToLive: Duration = .seconds(30)) {
        self.feed = feed
        self.timeToLive = timeToLive
    }

    /// The members of a conversation.
    func members(of conversation: UUID) async throws -> Set<UUID> {
        if let cached = members[conversation], ContinuousClock.now - cached.loadedAt < timeToLive {
            return cached.users
        }
        if let pending = loading[conversation] { return try await pending.value }
        let feed = self.feed
        let task = Task { try await feed.members(of: conversation) }
        loading[conversation] = task
        defer { loading[conversation] = nil }
        let loaded = try await task.value
        if members.count >= Self.capacity { members.removeAll(keepingCapacity: true) }
        members[conversation] = (loaded, .now)
        return loaded
    }

    /// Applies a membership change carried by a change envelope.
    func apply(_ change: MembershipChange, in conversation: UUID) {
        switch change {
        case .joined(let user): members[conversation]?.users.insert(user)
        case .left(let user): members[conversation]?.users.remove(user)
        }
    }
}
