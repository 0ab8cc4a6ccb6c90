import Core
import Foundation
@testable import Realtime
import Testing

@Suite struct ChangeDeliveryTests {
    let conversation = UUID()
    let sender = UUID()
    let reader = UUID()

    func messageInsert() -> PreparedChange {
        let record: [String: JSONValue] = [
            "id": .string(UUID().uuidString.lowercased()), "conversation_id": .string(conversation.uuidString.lowercased()),
            "sender_id": .string(sender.uuidString.lowercased()), "seq": .number(3), "client_msg_id": .string("key"),
            "body": .string(String(repeating: "a", count: 4_000)), "created_at": .string("2026-11-26T17:38:32.875805+00:00"),
        ]
        let envelope = ChangeEnvelope(table: "messages", type: .insert, conversationID: conversation, key: ["id": "x"])
        return PreparedChange(envelope, record: record, catalog: .chat)
    }

    func bindings(_ filters: [String?], table: String = "messages") throws -> [RealtimeChannel.Binding] {
        try RealtimeChannel.bindings(from: .array(filters.map { filter in
            var object: [String: JSONValue] = ["event": .string("*"), "schema": .string("public"), "table": .string(table)]
            if let filter { object["filter"] = .string(filter) }
            return .object(object)
        }), catalog: .chat)
    }

    func payload(_ frame: String?) throws -> [String: JSONValue] {
        let text = try #require(frame)
        return try #require(try JSONValue.parse(text).objectValue?["payload"]?.objectValue)
    }

    @Test func aFrameListsOnlyTheBindingsWhoseTypedFiltersMatch() throws {
        let subscribed = try bindings([
            "conversation_id=eq.\(conversation.uuidString.uppercased())", "seq=gte.3.0", "seq=gt.3", "body=like.%b", nil,
        ])
        let frame = messageInsert().frame(for: ChangeSubscriber(topic: "realtime:inbox", userID: reader, bindings: subscribed), version: .v1)
        let ids = try payload(frame)["ids"]
        #expect(ids == .array([subscribed[0], subscribed[1], subscribed[4]].map { .number(Double($0.id)) }))
    }

    @Test func noFrameWhenNothingMatches() throws {
        let subscribed = try bindings(["seq=gt.3", "body=ilike.%b"])
        #expect(messageInsert().frame(for: ChangeSubscriber(topic: "realtime:x", userID: reader, bindings: subscribed), version: .v2) == nil)
        let other = try bindings([nil], table: "reactions")
        #expect(messageInsert().frame(for: ChangeSubscriber(topic: "realtime:x", userID: reader, bindings: other), version: .v2) == nil)
    }

    @Test func onlyTheSenderSeesItsIdempotencyKey() throws {
        let subscribed = try bindings([nil])
        let change = messageInsert()
        let mine = try payload(change.frame(for: ChangeSubscriber(topic: "realtime:a", userID: sender, bindings: subscribed), version: .v1))
        let theirs = try payload(change.frame(for: ChangeSubscriber(topic: "realtime:a", userID: reader, bindings: subscribed), version: .v1))
        #expect(mine["data"]?.objectValue?["record"]?.objectValue?["client_msg_id"] == .string("key"))
        #expect(theirs["data"]?.objectValue?["record"]?.objectValue?["client_msg_id"] == .null)
    }

    @Test func versionTwoFramesAreArraysAndCursorsAreRenamed() throws {
        let envelope = ChangeEnvelope(table: "participants", type: .update, conversationID: conversation, key: ["user_id": reader.uuidString.lowercased()])
        let change = PreparedChange(envelope, record: ["conversation_id": .string(conversation.uuidString), "read_up_to_seq": .number(4)], catalog: .chat)
        let subscribed = try bindings(["read_up_to_seq=gte.4"], table: "cursors")
        let text = try #require(change.frame(for: ChangeSubscriber(topic: "realtime:r", userID: reader, bindings: subscribed), version: .v2))
        guard case .array(let parts) = try JSONValue.parse(text), parts.count == 5 else {
            Issue.record("not a five-element array: \(text)")
            return
        }
        #expect(parts[3] == .string("postgres_changes"))
        #expect(parts[4].objectValue?["data"]?.objectValue?["table"] == .string("cursors"))
    }
}
