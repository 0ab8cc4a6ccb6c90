import Core
import Foundation

/// What travels on the message bus between instances. Envelopes are small (ids, not
/// bodies): a PostgreSQL NOTIFY payload is limited to 8000 bytes, and each instance reads
/// the row it needs itself.
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
}

/// A committed change: which table, what happened, and the keys to find the row.
public struct ChangeEnvelope: Codable, Sendable, Equatable {
    /// `messages`, `reactions` or `participants`.
    public var table: String
    /// `INSERT`, `UPDATE` or `DELETE`.
    public var type: String
    /// The conversation the row belongs to (authorisation and filtering).
    public var conversationID: UUID
    /// The row's key columns (e.g. `id`, or `message_id` + `user_id`), also the DELETE old_record.
    public var key: [String: String]
    /// When the change committed.
    public var commitTimestamp: Date
    /// The row as committed, when the publisher already has it (subscribers then do not
    /// re-read it); nil for DELETE and when the row must be read.
    public var record: JSONValue?

    public init(
        table: String, type: String, conversationID: UUID, key: [String: String], commitTimestamp: Date = Date(), record: JSONValue? = nil
    ) {
        self.table = table
        self.type = type
        self.conversationID = conversationID
        self.key = key
        self.commitTimestamp = commitTimestamp
        self.record = record
    }
}

/// Publishes committed changes; what feature services see of the realtime machinery.
public protocol ChangePublisher: Sendable {
    /// Announces changes the caller has just committed.
    func publish(_ changes: [ChangeEnvelope]) async
}
