import Core
import Foundation

/// What travels on the message bus between instances. A change carries its row when the
/// publisher has it and it fits the bus (a PostgreSQL NOTIFY payload is limited to 8000
/// bytes); otherwise ids only, and each instance asks the ``ChangeFeed`` for the row.
public enum BusEvent: Codable, Sendable, Equatable {
    /// A committed change to a table clients may subscribe to.
    case change(ChangeEnvelope)
    /// A broadcast on a channel topic (typing indicators and other ephemeral signals).
    case broadcast(topic: String, payload: JSONValue, origin: String)
    /// A broadcast that arrived as a binary user-broadcast push (vsn 2.0.0): the same message,
    /// delivered to 2.0.0 sockets as a binary user-broadcast frame (``UserBroadcastFrame``).
    case userBroadcast(topic: String, payload: JSONValue, origin: String)
    /// A presence change on a topic: metas that joined and left, keyed by presence key.
    case presence(topic: String, joins: [String: [JSONValue]], leaves: [String: [JSONValue]], origin: String)
    /// Another feature's message on its own channel (e.g. `calls`), opaque to realtime.
    case relay(channel: String, payload: String)
    /// An instance's realtime hub is alive (every ``RealtimeService/presenceHeartbeat``): the
    /// presences it tracks stay; silent past ``RealtimeService/presenceTimeout``, they go.
    case instanceAlive(origin: String)
}

/// A committed change: which table, what happened, and the keys to find the row.
public struct ChangeEnvelope: Codable, Sendable, Equatable {
    /// A table of the publishing module's ``ChangeFeed`` (`messages`, `reactions`, `participants`).
    public var table: String
    public var type: ChangeType
    /// The conversation the row belongs to (authorisation and filtering).
    public var conversationID: UUID
    /// The row's key columns (e.g. `id`, or `message_id` + `user_id`), also the DELETE old_record.
    public var key: [String: String]
    /// When the change committed.
    public var commitTimestamp: Date
    /// The row as committed, when the publisher already has it (subscribers then do not
    /// re-read it); nil for DELETE and when the row must be read.
    public var record: JSONValue?
    /// Set when the change adds or removes a member of the conversation: who may see its
    /// changes changes with it.
    public var membership: MembershipChange?

    public init(
        table: String, type: ChangeType, conversationID: UUID, key: [String: String], commitTimestamp: Date = Date(),
        record: JSONValue? = nil, membership: MembershipChange? = nil
    ) {
        self.table = table
        self.type = type
        self.conversationID = conversationID
        self.key = key
        self.commitTimestamp = commitTimestamp
        self.record = record
        self.membership = membership
    }
}

/// A user joining or leaving a conversation.
public enum MembershipChange: Codable, Sendable, Equatable {
    case joined(UUID)
    /// The user sees this change (their own removal), then nothing more of the conversation.
    case left(UUID)
}

/// Publishes committed changes; what feature services see of the realtime machinery.
public protocol ChangePublisher: Sendable {
    /// Announces changes the caller has just committed.
    func publish(_ changes: [ChangeEnvelope]) async
}
