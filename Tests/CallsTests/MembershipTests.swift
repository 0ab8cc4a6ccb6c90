@testable import Calls
import Foundation
import Testing

/// The per-instance membership copy and the relay encoding it travels in.
@Suite struct MembershipTests {
    static let room = UUID()
    static func peer(_ device: String) -> RoomPeer { RoomPeer(userId: UUID(), deviceId: device, joinedAt: 1) }

    @Test func newerVersionsReplaceOlderOnesAreIgnored() {
        let membership = RoomMembership()
        let a = Self.peer("a"), b = Self.peer("b")
        membership.apply(RoomUpdate(room: Self.room, version: 2, peers: [a, b]))
        membership.apply(RoomUpdate(room: Self.room, version: 1, peers: [a]))
        #expect(membership.peers(of: Self.room) == [a, b])
        membership.apply(RoomUpdate(room: Self.room, version: 3, peers: [a]))
        #expect(membership.peers(of: Self.room) == [a])
        // A change whose peers did not fit on the bus drops the copy; the read of that version fills it.
        membership.apply(RoomUpdate(room: Self.room, version: 4, peers: nil))
        #expect(membership.peers(of: Self.room) == nil)
        membership.apply(RoomUpdate(room: Self.room, version: 3, peers: [a, b]), readAt: membership.epoch)
        #expect(membership.peers(of: Self.room) == nil)
        membership.apply(RoomUpdate(room: Self.room, version: 4, peers: [b]), readAt: membership.epoch)
        #expect(membership.peers(of: Self.room) == [b])
    }

    @Test func aReadStartedBeforeTheCopyWasEmptiedIsNotStored() {
        let membership = RoomMembership(capacity: 2)
        let epoch = membership.epoch
        membership.apply(RoomUpdate(room: UUID(), version: 1, peers: []))
        membership.apply(RoomUpdate(room: UUID(), version: 1, peers: []))
        membership.apply(RoomUpdate(room: UUID(), version: 1, peers: []))  // over capacity: starts over
        #expect(membership.count == 1)
        membership.apply(RoomUpdate(room: Self.room, version: 1, peers: [Self.peer("stale")]), readAt: epoch)
        #expect(membership.peers(of: Self.room) == nil)
    }

    @Test func relaysSurviveTheirEncoding() throws {
        let peers = [Self.peer("1:2;3"), RoomPeer(userId: UUID(), deviceId: "téléphone \u{1} \"x\"", joinedAt: -5)]
        let delivery = Delivery(
            devices: ["12:ab", "", "ünï"], type: "webrtc.ice", payload: #"{"sdp":"v=0\r\n","n":[1,"2:"]}"#,
            from: RelaySender(userId: UUID().uuidString.lowercased(), deviceId: "d;1"), room: Self.room,
            update: RoomUpdate(room: Self.room, version: 42, peers: peers))
        guard case .deliver(let decoded)? = CallsRelay.decode(CallsRelay.deliver(delivery).encoded) else {
            Issue.record("not decoded")
            return
        }
        #expect(decoded.devices == delivery.devices)
        #expect(decoded.type == delivery.type)
        #expect(decoded.payload == delivery.payload)
        #expect(decoded.from == delivery.from)
        #expect(decoded.room == delivery.room)
        #expect(decoded.update?.version == 42)
        #expect(decoded.update?.peers == peers)

        let bare = Delivery(devices: [], type: "PEER_LEFT", payload: "{}", from: nil, room: nil, update: RoomUpdate(room: Self.room, version: 7, peers: nil))
        guard case .deliver(let plain)? = CallsRelay.decode(CallsRelay.deliver(bare).encoded) else {
            Issue.record("not decoded")
            return
        }
        #expect(plain.devices.isEmpty && plain.from == nil && plain.room == nil && plain.update?.peers == nil)
        let session = UUID()
        guard case .replace("dev", session)? = CallsRelay.decode(CallsRelay.replace(device: "dev", session: session).encoded) else {
            Issue.record("replace not decoded")
            return
        }
    }

    @Test func malformedRelaysAreIgnoredNotTrapped() {
        let valid = CallsRelay.deliver(Delivery(
            devices: ["a"], type: "t", payload: "{}", from: nil, room: nil,
            update: RoomUpdate(room: Self.room, version: 1, peers: [Self.peer("p")]))).encoded
        // Every truncation, and junk lengths and numbers.
        for end in 0..<valid.utf8.count {
            let prefix = String(decoding: Array(valid.utf8)[0..<end], as: UTF8.self)
            #expect(CallsRelay.decode(prefix) == nil, "decoded a truncation: \(prefix)")
        }
        for junk in ["", "c2", "c2X", "c2D-1;", "c2D99999999999999999999;", "c2D1;9999:a", "c2D1;1:a1:t2", "c2S3:abc", valid + "x", "{\"nope\":1}"] {
            #expect(CallsRelay.decode(junk) == nil, "decoded \(junk)")
        }
        // The JSON of the previous version is still read.
        let legacy = #"{"deliver":{"devices":["a"],"type":"PEER_LEFT","payload":"{}"}}"#
        guard case .deliver(let old)? = CallsRelay.decode(legacy) else {
            Issue.record("legacy relay not decoded")
            return
        }
        #expect(old.devices == ["a"] && old.payload == "{}" && old.room == nil)
    }

    @Test func theBusEscapedLengthCountsEscapes() {
        #expect(CallsRelay.escapedLength("ab") == 2)
        #expect(CallsRelay.escapedLength("\"\\") == 4)
        #expect(CallsRelay.escapedLength("\u{1}") == 6)
    }

    /// JSONSerialization's own text with sorted keys: equal values give equal text.
    static func canonical(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    @Test func handWrittenJSONMatchesJSONSerialization() throws {
        let text = #"{"a":1,"b":1.5,"c":true,"d":false,"e":null,"f":"x\"\\\n\u0001é/😀","g":[1,{"h":[]},[]],"i":-3,"j":1e300,"k":0,"l":{},"m":12345678901234}"#
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let encoded = JSONText.encode(parsed)
        let back = try #require(try JSONSerialization.jsonObject(with: Data(encoded.utf8)) as? [String: Any])
        #expect(try Self.canonical(back) == Self.canonical(parsed))
        #expect(encoded.contains(#""c":true"#) && encoded.contains(#""d":false"#) && encoded.contains(#""k":0"#))
        #expect(encoded.contains(#""m":12345678901234"#))

        let built: [String: Any] = [
            "flag": true, "count": 3, "big": Int64(1_700_000_000_000), "ratio": 0.25, "name": "a\"b",
            "from": ["userId": "u", "deviceId": "d"], "peers": [["joinedAt": Int64(5), "ok": false]], "list": ["x", "y"],
        ]
        let builtText = JSONText.encode(built)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(builtText.utf8)) as? [String: Any])
        #expect(try Self.canonical(object) == Self.canonical(built))
        #expect(builtText.contains(#""flag":true"#) && builtText.contains(#""ok":false"#) && builtText.contains(#""count":3"#))
        #expect(JSONText.encode([:]) == "{}")
    }

    @Test func framesAreValidJSONWithTheStampedSender() throws {
        let text = OutboundFrame.text(
            type: "webrtc.ice", seq: 7, payloadJSON: #"{"candidate":null}"#, from: RelaySender(userId: "u", deviceId: "d\"1"))
        let frame = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(frame["type"] as? String == "webrtc.ice" && integer(frame["seq"]) == 7 && integer(frame["v"]) == 1)
        #expect((frame["from"] as? [String: String]) == ["userId": "u", "deviceId": "d\"1"])
        let ack = OutboundFrame.ack(of: "m\"", result: .failed(CallsError(.rateLimited, "slow \"down\"", details: ["retryAfterMs": 5])))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(ack.utf8)) as? [String: Any])
        let body = try #require(parsed["ack"] as? [String: Any])
        #expect(body["ackOfMsgId"] as? String == "m\"")
        #expect(ack.contains(#""ok":false"#) && ack.contains(#""retryable":true"#))
        #expect(((body["error"] as? [String: Any])?["details"] as? [String: Any]).flatMap { integer($0["retryAfterMs"]) } == 5)
    }
}
