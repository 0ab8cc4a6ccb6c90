import Core
import Foundation

/// One committed change, prepared once per instance for every channel that may see it.
///
/// The hub only decides who may see a change (membership, token expiry) and queues it on
/// each candidate socket's outbox; the bindings' filters are evaluated and the frame is
/// built by that socket's own writer task (``frame(for:version:)``). So a channel with many
/// or costly filters slows only its own socket, never the hub that answers everyone's
/// heartbeats nor the dispatch lane other conversations share.
struct PreparedChange: Sendable {
    let table: String
    let type: ChangeType
    /// What filters are tested against: the record, or `old_record` for a DELETE.
    let visible: [String: JSONValue]
    /// The `data` part as the row's sender sees it (with its idempotency key).
    let forSender: String
    /// The `data` part as everyone else sees it.
    let forOthers: String
    /// The `data` part renamed to each view of the table that receives this change (e.g.
    /// `cursors` over participants' updates), for channels binding only that view.
    let asView: [String: String]
    /// The row's `sender_id`, lower-case, if it has one.
    let senderID: String?

    init(
        table: String, type: ChangeType, visible: [String: JSONValue], forSender: String, forOthers: String, asView: [String: String],
        senderID: String?
    ) {
        self.table = table
        self.type = type
        self.visible = visible
        self.forSender = forSender
        self.forOthers = forOthers
        self.asView = asView
        self.senderID = senderID
    }

    init(_ change: ChangeEnvelope, record: [String: JSONValue]?, catalog: ChangeCatalog) {
        let columns = catalog.columns(ofSource: change.table).map { JSONValue.object(["name": .string($0.name), "type": .string($0.type)]) }
        var oldRecord: [String: JSONValue] = change.key.mapValues { .string($0) }
        oldRecord["conversation_id"] = .string(change.conversationID.uuidString.lowercased())
        var data: [String: JSONValue] = [
            "schema": .string("public"), "table": .string(change.table), "type": .string(change.type.rawValue),
            "commit_timestamp": .string(Self.commitTimestamp(change.commitTimestamp)), "errors": .null, "columns": .array(columns),
        ]
        if change.type != .delete { data["record"] = .object(record ?? [:]) }
        if change.type != .insert { data["old_record"] = .object(oldRecord) }
        var hidden = data
        if case .object(var row)? = data["record"], row["client_msg_id"] != nil {
            row["client_msg_id"] = .null
            hidden["record"] = .object(row)
        }
        var asView: [String: String] = [:]
        for view in catalog.views(receiving: change.table, type: change.type) {
            var renamed = data
            renamed["table"] = .string(view)
            asView[view] = JSONValue.object(renamed).jsonText
        }
        table = change.table
        type = change.type
        visible = change.type == .delete ? oldRecord : (record ?? [:])
        forSender = JSONValue.object(data).jsonText
        forOthers = JSONValue.object(hidden).jsonText
        self.asView = asView
        senderID = if case .string(let sender)? = record?["sender_id"] { sender } else { nil }
    }

    /// The `postgres_changes` frame for a channel, or nil when none of its bindings wants
    /// the change (table, event type, filter).
    func frame(for subscriber: ChangeSubscriber, version: PhoenixFrame.Version) -> String? {
        let matched = subscriber.bindings.filter { binding in
            binding.wants(table: table, type: type) && (binding.filter?.matches(visible) ?? true)
        }
        guard let first = matched.first else { return nil }
        var dataText = senderID == subscriber.userID.uuidString.lowercased() ? forSender : forOthers
        if let renamed = asView[first.table], matched.allSatisfy({ $0.table == first.table }) { dataText = renamed }
        let ids = matched.map { String($0.id) }.joined(separator: ",")
        let payload = #"{"data":\#(dataText),"ids":[\#(ids)]}"#
        let topic = JSONValue.string(subscriber.topic).jsonText
        return switch version {
        case .v1: #"{"event":"postgres_changes","payload":\#(payload),"ref":null,"topic":\#(topic)}"#
        case .v2: #"[null,null,\#(topic),"postgres_changes",\#(payload)]"#
        }
    }

    static func commitTimestamp(_ date: Date) -> String {
        let text = Timestamp.format(date)
        // Realtime writes milliseconds: 2026-01-01T00:00:00.123Z
        return String(text.prefix(23)) + "Z"
    }
}

/// A channel that may receive a change, as it was when the change was queued.
struct ChangeSubscriber: Sendable {
    let topic: String
    let userID: UUID
    let bindings: [RealtimeChannel.Binding]
}
