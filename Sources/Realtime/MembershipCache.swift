import Foundation

/// Who belongs to which conversation, cached per instance and kept current by the
/// membership changes every instance receives on the bus.
///
/// Entries are re-read after ``timeToLive`` so a change this instance missed (its bus
/// listener was reconnecting) cannot keep a removed member subscribed for long. Concurrent
/// misses for one conversation share one read, and a read that a membership change overtook
/// is not kept (each conversation's changes are counted), so a member removed while their
/// conversation was being read is not let back in by the older snapshot.
actor MembershipCache {
    private let feed: any ChangeFeed
    private var members: [UUID: (users: Set<UUID>, loadedAt: ContinuousClock.Instant)] = [:]
    /// A read of one conversation's members, and how many changes it had seen when it began.
    private struct Read {
        let task: Task<Set<UUID>, any Error>
        let changesAtStart: Int
        let epochAtStart: Int
    }

    private var loading: [UUID: Read] = [:]
    /// Membership changes applied per conversation, and an epoch that moves when those
    /// counts start over (bounded memory): a read began before either moved is stale.
    private var changes: [UUID: Int] = [:]
    private var epoch = 0
    let timeToLive: Duration
    /// Conversations kept at most; past it the cache starts over.
    static let capacity = 50_000

    init(feed: any ChangeFeed, timeToLive: Duration = .seconds(30)) {
        self.feed = feed
        self.timeToLive = timeToLive
    }

    /// The members of a conversation.
    func members(of conversation: UUID) async throws -> Set<UUID> {
        var loaded: Set<UUID> = []
        for _ in 0..<3 {
            if let cached = members[conversation], ContinuousClock.now - cached.loadedAt < timeToLive {
                return cached.users
            }
            let read: Read
            if let pending = loading[conversation] {
                read = pending
            } else {
                let feed = self.feed
                read = Read(
                    task: Task { try await feed.members(of: conversation) }, changesAtStart: changes[conversation, default: 0], epochAtStart: epoch)
                loading[conversation] = read
            }
            defer {
                if loading[conversation]?.task == read.task { loading[conversation] = nil }
            }
            loaded = try await read.task.value
            // A change applied since the read began may not be in it: read again.
            guard epoch == read.epochAtStart, changes[conversation, default: 0] == read.changesAtStart else { continue }
            if members.count >= Self.capacity { members.removeAll(keepingCapacity: true) }
            members[conversation] = (loaded, .now)
            return loaded
        }
        // Membership keeps changing under every read: answer with the newest, keep nothing.
        return loaded
    }

    /// Applies a membership change carried by a change envelope.
    func apply(_ change: MembershipChange, in conversation: UUID) {
        changes[conversation, default: 0] += 1
        if changes.count > Self.capacity {
            changes.removeAll(keepingCapacity: true)
            epoch += 1
        }
        switch change {
        case .joined(let user): members[conversation]?.users.insert(user)
        case .left(let user): members[conversation]?.users.remove(user)
        }
    }
}
