import Core
import Foundation

/// Who owns a realtime topic, and so who may join it, broadcast on it and track presence on
/// it (docs/realtime.md §5). The same rules serve socket joins and the REST broadcast.
enum TopicAccess: Equatable {
    /// `conversation:<uuid>`: the conversation's members.
    case conversation(UUID)
    /// `online`: signed-in users.
    case online
    /// `user:<uuid>`: that user.
    case user(UUID)
    /// A name starting with one of `REALTIME_OPEN_TOPICS`: anyone with an API key.
    case open
    /// Any other name: nobody may broadcast or track presence on it; signed-in users may
    /// join it for database changes only (their bindings are authorised row by row).
    case unowned

    /// The access rule of a channel name (the topic without `realtime:`). A malformed owned
    /// name (`conversation:x`, `user:` + not a UUID) is an error naming the rule.
    init(name: String, openPrefixes: [String]) throws(JoinError) {
        if let id = Self.suffix(of: name, after: "conversation:") {
            guard let conversation = UUID(uuidString: id) else {
                throw JoinError("Unauthorized: You do not have permissions to read from this Channel topic: \(name)")
            }
            self = .conversation(conversation)
        } else if let id = Self.suffix(of: name, after: "user:") {
            guard let user = UUID(uuidString: id) else {
                throw JoinError("Unauthorized: user topics are user:<uuid> and belong to that user")
            }
            self = .user(user)
        } else if name == "online" {
            self = .online
        } else if openPrefixes.contains(where: { name.hasPrefix($0) }) {
            self = .open
        } else {
            self = .unowned
        }
    }

    private static func suffix(of name: String, after prefix: String) -> String? {
        name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : nil
    }

    /// Checks that `caller` may use the topic for broadcast and presence; `isMember` answers
    /// conversation membership. The service-role key may use every topic.
    func authorise(_ caller: Caller, name: String, isMember: (UUID) async throws -> Bool) async throws -> Void {
        if caller.role == .serviceRole { return }
        switch self {
        case .conversation(let conversation):
            guard caller.userID != nil, try await isMember(conversation) else {
                throw JoinError("Unauthorized: You do not have permissions to read from this Channel topic: \(name)")
            }
        case .online:
            guard caller.role == .authenticated else { throw JoinError("Unauthorized: sign in to join the online channel") }
        case .user(let owner):
            guard caller.userID == owner else { throw JoinError("Unauthorized: topic \(name) belongs to another user") }
        case .open:
            return
        case .unowned:
            throw JoinError(
                "Unauthorized: topic \(name) has no owner; use conversation:<id>, user:<your id> or online "
                    + "(or an open topic the deployment configured in REALTIME_OPEN_TOPICS)")
        }
    }

    /// Whether presence on the topic is keyed by the signed-in user and its broadcasts carry
    /// the sender's user id.
    var isUserKeyed: Bool {
        switch self {
        case .conversation, .online, .user: return true
        case .open, .unowned: return false
        }
    }

    /// The room a topic meets in: a `conversation:` or `user:` topic whose id is a UUID is one
    /// room whatever the id's letter case (supabase-swift writes UUIDs in upper case), so
    /// `realtime:conversation:AC83…` and `realtime:conversation:ac83…` hear each other. Other
    /// topics are their own room. Broadcasts and presence travel by room; every channel still
    /// gets frames under the topic it joined.
    static func room(of topic: String) -> String {
        let name = PhoenixFrame.channelName(topic)
        guard topic.hasPrefix("realtime:") else { return topic }
        for prefix in ["conversation:", "user:"] {
            if let id = suffix(of: name, after: prefix), let uuid = UUID(uuidString: id) {
                return "realtime:" + prefix + uuid.uuidString.lowercased()
            }
        }
        return topic
    }

    /// The conversation of a `conversation:` topic.
    var conversation: UUID? {
        if case .conversation(let id) = self { return id }
        return nil
    }
}
