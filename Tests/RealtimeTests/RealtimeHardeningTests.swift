import Core
import Foundation
import NIOCore
@testable import Realtime
import Testing

/// Issue 11: client bytes of the realtime protocol never trap, and the readers name the field.
@Suite struct RealtimeHardeningTests {
    @Test(arguments: [PhoenixFrame.Version.v1, .v2], ["1e300", "-1e19", "0.5", "{}", "[1]", "true"])
    func refsOfTheWrongTypeAreAFieldErrorNotATrap(_ version: PhoenixFrame.Version, _ number: String) throws {
        let text = version == .v1
            ? #"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":\#(number),"join_ref":"1"}"#
            : #"["1",\#(number),"phoenix","heartbeat",{}]"#
        let frame = try PhoenixFrame.decode(text, version: version)
        #expect(frame.ref == nil && frame.joinRef == "1" && frame.fieldError == "ref must be a string")
        #expect(PhoenixFrame.error(to: frame, reason: frame.fieldError ?? "").encoded(version).contains("ref must be a string"))
    }

    @Test func wholeNumberRefsReadAsText() throws {
        let frame = try PhoenixFrame.decode(#"{"topic":"phoenix","event":"heartbeat","ref":7,"join_ref":-3}"#, version: .v1)
        #expect(frame.ref == "7" && frame.joinRef == "-3" && frame.fieldError == nil)
        #expect(try PhoenixFrame.decode(#"{"topic":"phoenix","event":"heartbeat","ref":100000000000000000}"#, version: .v1).fieldError != nil)
    }

    @Test func stringFieldsNameTheFieldAndNeverConvert() throws {
        #expect(throws: FieldError(field: "access_token", rule: "must be a string")) { try FrameField.string(.number(1e300), "access_token") }
        #expect(try FrameField.string(nil, "x") == nil)
        #expect(try FrameField.string(.null, "x") == nil)
        #expect(try FrameField.string(.string("a"), "x") == "a")
        #expect(FrameField.integer(.number(1e300), in: 0...10) == nil && FrameField.integer(.number(4), in: 0...10) == 4)
    }

    @Test(arguments: ["event", "schema", "table", "filter"])
    func bindingFieldsOfTheWrongTypeAreRefused(_ field: String) {
        var binding: [String: JSONValue] = ["event": .string("*"), "schema": .string("public"), "table": .string("messages")]
        binding[field] = .number(-1e19)
        #expect(throws: JoinError.self) { try RealtimeChannel.bindings(from: .array([.object(binding)]), catalog: .chat) }
        do {
            _ = try RealtimeChannel.bindings(from: .array([.object(binding)]), catalog: .chat)
        } catch {
            #expect("\(error)" == "postgres_changes[0].\(field) must be a string")
        }
    }

    @Test func bindingsPerChannelAreCapped() throws {
        let one = JSONValue.object(["table": .string("messages")])
        #expect(try RealtimeChannel.bindings(from: .array(Array(repeating: one, count: 10)), catalog: .chat).count == 10)
        #expect(throws: JoinError.self) { try RealtimeChannel.bindings(from: .array(Array(repeating: one, count: 11)), catalog: .chat) }
        #expect(throws: JoinError.self) { try RealtimeChannel.bindings(from: .array(Array(repeating: one, count: 3)), catalog: .chat, limit: 2) }
    }

    @Test func topicsHaveOwners() throws {
        let id = UUID()
        #expect(try TopicAccess(name: "conversation:\(id)", openPrefixes: []) == .conversation(id))
        #expect(try TopicAccess(name: "user:\(id.uuidString.lowercased())", openPrefixes: []) == .user(id))
        #expect(try TopicAccess(name: "online", openPrefixes: []) == .online)
        #expect(try TopicAccess(name: "room", openPrefixes: []) == .unowned)
        #expect(try TopicAccess(name: "public:room", openPrefixes: ["public:"]) == .open)
        // An open prefix never opens an owned topic.
        #expect(try TopicAccess(name: "user:\(id)", openPrefixes: ["user:"]) == .user(id))
        #expect(throws: JoinError.self) { try TopicAccess(name: "user:nope", openPrefixes: []) }
        #expect(throws: JoinError.self) { try TopicAccess(name: "conversation:nope", openPrefixes: []) }
    }

    @Test func ownedTopicsAdmitTheirOwnersOnly() async throws {
        let owner = UUID()
        let user = Caller(role: .authenticated, userID: owner, claimsJSON: "{}")
        let stranger = Caller(role: .authenticated, userID: UUID(), claimsJSON: "{}")
        let service = Caller(role: .serviceRole, claimsJSON: "{}")
        try await TopicAccess.user(owner).authorise(user, name: "user:x", isMember: { _ in false })
        try await TopicAccess.user(owner).authorise(service, name: "user:x", isMember: { _ in false })
        await #expect(throws: JoinError.self) { try await TopicAccess.user(owner).authorise(stranger, name: "user:x", isMember: { _ in false }) }
        await #expect(throws: JoinError.self) { try await TopicAccess.online.authorise(.anonymous, name: "online", isMember: { _ in false }) }
        await #expect(throws: JoinError.self) { try await TopicAccess.unowned.authorise(user, name: "room", isMember: { _ in false }) }
        await #expect(throws: JoinError.self) {
            try await TopicAccess.conversation(UUID()).authorise(user, name: "conversation:x", isMember: { _ in false })
        }
        try await TopicAccess.open.authorise(.anonymous, name: "public:x", isMember: { _ in false })
    }

    @Test func userBroadcastPushReadsAsABroadcastAndGoesBackAsAUserBroadcast() throws {
        var push = ByteBuffer()
        let (joinRef, ref, topic, event, payload) = ("1", "5", "realtime:room", "typing", #"{"typing":true,"n":"ü"}"#)
        push.writeBytes([3, UInt8(joinRef.utf8.count), UInt8(ref.utf8.count), UInt8(topic.utf8.count), UInt8(event.utf8.count), 0, 1])
        push.writeString(joinRef + ref + topic + event + payload)
        let frame = try PhoenixFrame.decode(.binary(push), version: .v2)
        #expect(frame.joinRef == "1" && frame.ref == "5" && frame.topic == topic && frame.event == "broadcast" && frame.isUserBroadcast)
        #expect(frame.payload == .object(["type": .string("broadcast"), "event": .string("typing"),
                                          "payload": .object(["typing": .bool(true), "n": .string("ü")])]))
        guard case .binary(var out) = frame.outbound(.v2) else {
            Issue.record("a user broadcast goes to 2.0.0 sockets as binary")
            return
        }
        #expect(out.readBytes(length: 5) == [4, UInt8(topic.utf8.count), UInt8(event.utf8.count), 0, 1])
        #expect(out.readString(length: topic.utf8.count) == topic && out.readString(length: event.utf8.count) == event)
        #expect(try JSONValue.parse(out.readString(length: out.readableBytes) ?? "") == .object(["typing": .bool(true), "n": .string("ü")]))
        guard case .text(let text) = frame.outbound(.v1) else {
            Issue.record("1.0.0 sockets get JSON")
            return
        }
        #expect(text.contains(#""event":"broadcast""#) && text.contains(#""typing":true"#))
    }

    @Test(arguments: [[UInt8](), [3], [3, 255, 255, 255, 255, 255, 1], [0, 1, 2], [4, 0, 0, 0, 0], [2, 1, 1]])
    func malformedBinaryFramesThrow(_ bytes: [UInt8]) {
        #expect(throws: PhoenixFrame.DecodingError.self) { try PhoenixFrame.decode(.binary(ByteBuffer(bytes: bytes)), version: .v2) }
    }

    @Test func binaryFramesNeedVersionTwoAndJSONPayloads() throws {
        var push = ByteBuffer(bytes: [3, 0, 0, 1, 1, 0, 0])
        push.writeString("te\u{0}\u{1}")
        #expect(throws: PhoenixFrame.DecodingError.self) { try PhoenixFrame.decode(.binary(push), version: .v1) }
        #expect(try PhoenixFrame.decode(.binary(push), version: .v2).fieldError?.contains("payload encoding must be JSON") == true)
        var notJSON = ByteBuffer(bytes: [3, 0, 0, 1, 1, 0, 1])
        notJSON.writeString("te{")
        #expect(try PhoenixFrame.decode(.binary(notJSON), version: .v2).fieldError == "payload must be JSON")
    }

    @Test func restBroadcastBodiesNameTheField() throws {
        func field(_ body: String) -> String? {
            do {
                _ = try RESTBroadcastRequest.batch(try JSONValue.parse(body), limit: 2)
                return nil
            } catch let error as APIError {
                return error.field
            } catch {
                return "unexpected \(error)"
            }
        }
        #expect(field(#"{"messages":[{"topic":"t","event":"e","payload":{}}]}"#) == nil)
        #expect(field("[]") == "body")
        #expect(field(#"{"messages":[]}"#) == "messages")
        #expect(field(#"{"messages":[1,2,3]}"#) == "messages")
        #expect(field(#"{"messages":[{"topic":1e300,"event":"e","payload":{}}]}"#) == "messages[0].topic")
        #expect(field(#"{"messages":[{"topic":"t","event":-1e19,"payload":{}}]}"#) == "messages[0].event")
        #expect(field(#"{"messages":[{"topic":"t","event":"e","payload":[]}]}"#) == "messages[0].payload")
        #expect(field(#"{"messages":[{"topic":"t","event":"e","payload":{},"private":true}]}"#) == "messages[0].private")
        #expect(field(#"{"messages":[{"topic":"t","event":"e","payload":{},"private":"no"}]}"#) == "messages[0].private")
    }

    @Test func broadcastsOnOwnedTopicsCarryTheSender() throws {
        let user = UUID()
        let caller = Caller(role: .authenticated, userID: user, claimsJSON: "{}")
        let message = JSONValue.object(["event": .string("typing"), "payload": .object(["user_id": .string("forged")])])
        let relayed = try BroadcastMessage.relayed(message, access: .online, caller: caller, maximumBytes: 1000)
        #expect(relayed.objectValue?["payload"]?.objectValue?["user_id"] == .string(user.uuidString.lowercased()))
        #expect(try BroadcastMessage.relayed(message, access: .open, caller: caller, maximumBytes: 1000) != relayed)
        #expect(throws: JoinError.self) { try BroadcastMessage.relayed(message, access: .open, caller: caller, maximumBytes: 10) }
    }
}
