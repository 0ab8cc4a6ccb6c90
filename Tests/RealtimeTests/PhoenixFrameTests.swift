import Core
@testable import Realtime
import Testing

@Suite struct PhoenixFrameTests {
    @Test func readsVersionOneObjectsAndWritesNullRefs() throws {
        let join = try PhoenixFrame.decode(
            #"{"event":"phx_join","payload":{"config":{}},"topic":"realtime:room1","ref":"1","join_ref":"1"}"#, version: .v1)
        #expect(join.event == "phx_join" && join.topic == "realtime:room1" && join.ref == "1" && join.joinRef == "1")
        let heartbeat = try PhoenixFrame.decode(#"{"event":"heartbeat","payload":{},"topic":"phoenix","ref":null,"join_ref":null}"#, version: .v1)
        let reply = PhoenixFrame.ok(to: heartbeat).encoded(.v1)
        // ref must be present (null) in every server frame, or the Python client drops it.
        #expect(reply == #"{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":null,"topic":"phoenix"}"#)
    }

    @Test func readsAndWritesVersionTwoArrays() throws {
        let frame = try PhoenixFrame.decode(#"["3","4","realtime:room1","broadcast",{"type":"broadcast","event":"x","payload":{}}]"#, version: .v2)
        #expect(frame.joinRef == "3" && frame.ref == "4" && frame.event == "broadcast")
        #expect(PhoenixFrame.ok(to: frame).encoded(.v2) == #"["3","4","realtime:room1","phx_reply",{"response":{},"status":"ok"}]"#)
    }

    @Test(arguments: [("[1,2]", PhoenixFrame.Version.v1), ("{\"topic\":\"x\"}", .v1), ("{}", .v2), ("not json", .v1)])
    func refusesMalformedFrames(_ text: String, _ version: PhoenixFrame.Version) {
        #expect(throws: PhoenixFrame.DecodingError.self) { try PhoenixFrame.decode(text, version: version) }
    }

    @Test func systemMessagesNameTheChannelWithoutPrefix() {
        let frame = PhoenixFrame.system(topic: "realtime:room1", extension: "postgres_changes", message: "Subscribed to PostgreSQL", ok: true)
        #expect(frame.payload.objectValue?["channel"] == .string("room1"))
        #expect(frame.encoded(.v1).contains(#""ref":null"#))
    }
}

@Suite struct ChangeFilterTests {
    let record: [String: JSONValue] = ["conversation_id": .string("c1"), "seq": .number(7), "body": .string("Hello"), "deleted_at": .null]

    @Test(arguments: [
        ("conversation_id=eq.c1", true), ("conversation_id=eq.c2", false), ("conversation_id=neq.c2", true),
        ("seq=gt.6", true), ("seq=gte.8", false), ("seq=lt.10", true), ("seq=in.(1,7)", true), ("seq=in.(1,2)", false),
        ("deleted_at=is.null", true), ("body=like.He%", true), ("body=ilike.he*", true), ("body=like.he%", false),
        ("conversation_id=not.eq.c1", false), ("conversation_id=eq.c1,seq=gt.100", false),
    ])
    func evaluatesPostgRESTOperators(_ text: String, _ expected: Bool) throws {
        #expect(try ChangeFilter(parsing: text).matches(record) == expected)
    }

    @Test func refusesUnknownOperatorsAndShapes() {
        #expect(throws: FilterError.self) { try ChangeFilter(parsing: "seq=between.1") }
        #expect(throws: FilterError.self) { try ChangeFilter(parsing: "no-operator") }
    }

    @Test func exposesTheConversationAPinnedSubscriptionNeeds() throws {
        #expect(try ChangeFilter(parsing: "conversation_id=eq.abc").equality(on: "conversation_id") == "abc")
        #expect(try ChangeFilter(parsing: "conversation_id=neq.abc").equality(on: "conversation_id") == nil)
    }

    @Test func bindingIDsAreStableNonZeroAndTablesAllowListed() throws {
        let bindings = try RealtimeChannel.bindings(from: .array([
            .object(["event": .string("INSERT"), "schema": .string("public"), "table": .string("messages")]),
            .object(["event": .string("*"), "schema": .string("public"), "table": .string("reactions"), "filter": .string("message_id=eq.1")]),
        ]))
        #expect(bindings.count == 2 && bindings.allSatisfy { $0.id > 0 })
        #expect(try RealtimeChannel.bindings(from: .array([bindings[0].original.objectJSON]))[0].id == bindings[0].id)
        #expect(throws: JoinError.self) {
            try RealtimeChannel.bindings(from: .array([.object(["event": .string("INSERT"), "table": .string("auth_users")])]))
        }
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    var objectJSON: JSONValue { .object(self) }
}
