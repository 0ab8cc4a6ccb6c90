@testable import Calls
import Configuration
import Core
import Crypto
import Foundation
import Testing

/// What calls-ws derives and rewrites between clients and Janus (docs/sfu.md): room secrets
/// and participant tokens, the participant's `display`, the client SDP, the publisher offer
/// check and client Feeds built from Janus's publisher lists; and the `SFU_*` settings.
@Suite struct SfuWireTests {
    static let key = "an-sfu-room-key-of-at-least-32-characters"
    static let room = UUID(uuidString: "6F1C2B0A-7D1E-4C3B-9A55-0123456789AB")!

    /// A JSON object as Janus sends it (numbers as JSONSerialization reads them).
    static func janus(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    static func isBase64URLWithoutPadding(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }

    // MARK: Derived secrets

    @Test func roomSecretsAreTheHMACOfTheRoomAndEpochInBase64URL() {
        let secret = SfuWire.roomSecret(key: Self.key, room: Self.room, epoch: 1)
        // 32 bytes of HMAC-SHA256: 43 characters without the padding.
        #expect(secret.count == 43)
        #expect(Self.isBase64URLWithoutPadding(secret))
        let code = HMAC<SHA256>.authenticationCode(
            for: Data("room|6f1c2b0a-7d1e-4c3b-9a55-0123456789ab|1".utf8), using: SymmetricKey(data: Data(Self.key.utf8)))
        let standard = Data(code).base64EncodedString()
        #expect(secret == standard.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: ""))
        // The same inputs give the same secret on every instance; another epoch, room or key another.
        #expect(SfuWire.roomSecret(key: Self.key, room: Self.room, epoch: 1) == secret)
        #expect(SfuWire.roomSecret(key: Self.key, room: Self.room, epoch: 2) != secret)
        #expect(SfuWire.roomSecret(key: Self.key, room: UUID(), epoch: 1) != secret)
        #expect(SfuWire.roomSecret(key: Self.key + "!", room: Self.room, epoch: 1) != secret)
    }

    @Test func participantTokensDifferPerEpochDeviceAndFeed() {
        let token = SfuWire.participantToken(key: Self.key, room: Self.room, epoch: 1, device: "phone-1", janusFeed: 42)
        #expect(token.count == 43)
        #expect(Self.isBase64URLWithoutPadding(token))
        #expect(SfuWire.participantToken(key: Self.key, room: Self.room, epoch: 1, device: "phone-1", janusFeed: 42) == token)
        let others = [
            SfuWire.participantToken(key: Self.key, room: Self.room, epoch: 2, device: "phone-1", janusFeed: 42),
            SfuWire.participantToken(key: Self.key, room: Self.room, epoch: 1, device: "phone-2", janusFeed: 42),
            SfuWire.participantToken(key: Self.key, room: Self.room, epoch: 1, device: "phone-1", janusFeed: 43),
            SfuWire.roomSecret(key: Self.key, room: Self.room, epoch: 1),
        ]
        #expect(Set(others + [token]).count == 5)
        let code = HMAC<SHA256>.authenticationCode(
            for: Data("tok|6f1c2b0a-7d1e-4c3b-9a55-0123456789ab|1|phone-1|42".utf8), using: SymmetricKey(data: Data(Self.key.utf8)))
        #expect(Data(base64Encoded: token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "=") == Data(code))
    }

    // MARK: Display

    @Test func displayRoundTripsThroughParseDisplay() throws {
        let user = UUID()
        let feed = UUID()
        let display = SfuWire.display(user: user, device: "tab \"1\" ✓", feed: feed)
        let object = try Self.janus(display)
        #expect(Set(object.keys) == ["u", "d", "f"])
        #expect(!display.contains(" :") && !display.contains(", "))
        let parsed = try #require(SfuWire.parseDisplay(display))
        #expect(parsed.user == user.uuidString.lowercased())
        #expect(parsed.device == "tab \"1\" ✓")
        #expect(parsed.feed == feed)
    }

    @Test func parseDisplayRejectsDisplaysThisServiceDidNotWrite() {
        let feed = UUID().uuidString
        let foreign: [String?] = [
            nil, "", "Alice", "{}", "[]", "null", "42",
            #"{"u":"a","d":"b"}"#,
            #"{"u":"a","f":"\#(feed)"}"#,
            #"{"d":"b","f":"\#(feed)"}"#,
            #"{"u":"a","d":"b","f":"not-a-uuid"}"#,
            #"{"u":1,"d":"b","f":"\#(feed)"}"#,
            #"{"u":"a","d":2,"f":"\#(feed)"}"#,
            #"["a","b","\#(feed)"]"#,
            #"{"u":"a","d":"b","f":"\#(feed)""#,
        ]
        for display in foreign {
            #expect(SfuWire.parseDisplay(display) == nil, "accepted \(display ?? "nil")")
        }
        #expect(SfuWire.parseDisplay(#"{"u":"a","d":"b","f":"\#(feed)"}"#)?.device == "b")
    }

    // MARK: SDP

    @Test func clientSDPRewritesOnlyTheSessionNameLine() {
        let lines = [
            "v=0", "o=- 4567 1 IN IP4 10.0.0.5", "s=VideoRoom 8412345678901", "t=0 0", "a=group:BUNDLE 0 1",
            "a=ice-options:trickle", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 10.0.0.5", "a=mid:0",
            "a=msid-semantic: WMS janus", "a=fmtp:111 useinbandfec=1;s=VideoRoom", "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:1", "",
        ]
        let rewritten = SfuWire.clientSDP(lines.joined(separator: "\r\n"))
        var expected = lines
        expected[2] = "s=-"
        #expect(rewritten == expected.joined(separator: "\r\n"))
        #expect(!rewritten.contains("VideoRoom 8412345678901"))
        // An SDP without a session name line, or already anonymous, is left as it is.
        #expect(SfuWire.clientSDP("v=0\r\ns=-\r\nt=0 0\r\n") == "v=0\r\ns=-\r\nt=0 0\r\n")
        #expect(SfuWire.clientSDP("v=0\r\nt=0 0\r\n") == "v=0\r\nt=0 0\r\n")
    }

    @Test func publishOffersAreRefusedUnlessTheyAreSDPWithAtMostOneAudioAndTwoVideoLines() {
        func offer(_ media: [String]) -> String {
            (["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0"] + media.flatMap { ["m=\($0) 9 UDP/TLS/RTP/SAVPF 96", "a=sendonly"] } + [""])
                .joined(separator: "\r\n")
        }
        #expect(SfuWire.publishOfferProblem("hello")?.contains("v=0") == true)
        #expect(SfuWire.publishOfferProblem("")?.contains("v=0") == true)
        #expect(SfuWire.publishOfferProblem(" v=0\r\nm=audio 9 RTP/AVP 0\r\n") != nil)
        #expect(SfuWire.publishOfferProblem(offer([]))?.contains("no m-line") == true)
        #expect(SfuWire.publishOfferProblem(offer(["audio", "audio"]))?.contains("1 audio") == true)
        #expect(SfuWire.publishOfferProblem(offer(["audio", "video", "audio"]))?.contains("1 audio") == true)
        #expect(SfuWire.publishOfferProblem(offer(["video", "video", "video"]))?.contains("2 video") == true)
        #expect(SfuWire.publishOfferProblem(offer(["audio", "video", "video", "video"]))?.contains("2 video") == true)
        for accepted in [["audio"], ["video"], ["audio", "video"], ["audio", "video", "video"], ["video", "audio", "video"]] {
            #expect(SfuWire.publishOfferProblem(offer(accepted)) == nil, "refused \(accepted)")
        }
        // Lines end with a bare LF too.
        #expect(SfuWire.publishOfferProblem("v=0\nm=audio 9 RTP/AVP 0\nm=audio 9 RTP/AVP 0\n") != nil)
        #expect(SfuWire.mediaLines(offer(["audio", "video", "video"])) == ["audio", "video", "video"])
    }

    // MARK: Feeds

    @Test func feedsAreBuiltFromJanusPublishersWithTheirSourcesAndOnlyForOurDisplays() throws {
        let user = UUID()
        let feedId = UUID()
        let display = SfuWire.display(user: user, device: "laptop", feed: feedId)
        let displayJSON = String(data: try JSONSerialization.data(withJSONObject: [display], options: [.fragmentsAllowed]), encoding: .utf8)!
        let quoted = String(displayJSON.dropFirst().dropLast())
        let list = try #require(try Self.janus("""
            {"publishers":[
              {"id":8412345678901,"display":\(quoted),"streams":[
                {"type":"audio","mindex":0,"mid":"0","codec":"opus","description":"mic"},
                {"type":"video","mindex":1,"mid":"1","codec":"vp8","description":"screen","simulcast":true},
                {"type":"video","mindex":2,"mid":"2","codec":"vp8"},
                {"type":"audio","mindex":3,"mid":"3","codec":"opus","description":"whatever"},
                {"type":"data","mindex":4,"mid":"4"},
                {"type":"video","mindex":5,"mid":"5","codec":"vp8","disabled":true}]},
              {"id":77,"display":"Bob from the Janus demo","streams":[{"type":"audio","mid":"0","codec":"opus"}]},
              {"id":78,"streams":[]},
              {"display":\(quoted),"streams":[]},
              {"id":-5,"display":\(quoted),"streams":[]}
            ]}
            """)["publishers"] as? [[String: Any]])
        let feeds = list.compactMap(SfuFeed.init(janus:))
        #expect(feeds.count == 1)
        let feed = try #require(feeds.first)
        #expect(feed.janusId == 8_412_345_678_901)
        #expect(feed.feedId == feedId)
        #expect(feed.userId == user.uuidString.lowercased())
        #expect(feed.deviceId == "laptop")
        #expect(feed.streams.map(\.mid) == ["0", "1", "2", "3"])
        #expect(feed.streams.map(\.kind) == ["audio", "video", "video", "audio"])
        // The description names the source; missing or unknown, the kind's usual one.
        #expect(feed.streams.map(\.source) == ["mic", "screen", "camera", "mic"])
        #expect(feed.streams.map(\.codec) == ["opus", "vp8", "vp8", "opus"])
        #expect(feed.streams.map(\.simulcast) == [false, true, false, false])

        // As clients see it: no Janus id, the room's mute flags on each stream.
        let json = feed.json(roomMutes: SfuMuteState(audio: true, video: false))
        #expect(json["feedId"] as? String == feedId.uuidString.lowercased())
        #expect(json["userId"] as? String == user.uuidString.lowercased())
        #expect(json["deviceId"] as? String == "laptop")
        #expect(!JSONText.encode(json).contains("8412345678901"))
        let streams = try #require(json["streams"] as? [[String: Any]])
        #expect(streams.map { $0["muted"] as? Bool } == [true, false, false, true])
        #expect(streams[1]["source"] as? String == "screen")
        let reference = feed.reference(reason: "left")
        #expect(reference["reason"] as? String == "left")
        #expect(Set(reference.keys) == ["feedId", "userId", "deviceId", "reason"])
    }

    // MARK: Settings

    static func settings(_ environment: [String: String]) throws -> SfuSettings? {
        try SfuSettings(reader: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment)))
    }

    static let complete = [
        "SFU_NODES": "janus-a=ws://10.0.0.5:8188, janus-b=wss://janus-b.internal:8989/",
        "SFU_API_SECRET": "api-secret", "SFU_ADMIN_KEY": "admin-key", "SFU_ROOM_KEY": key,
    ]

    static func refusal(_ environment: [String: String]) -> String? {
        do {
            _ = try settings(environment)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func settingsAreAbsentWhenNothingIsSetAndReadWithTheirDefaults() throws {
        #expect(try Self.settings([:]) == nil)
        #expect(try Self.settings(["SFU_NODES": "", "SFU_ROOM_KEY": ""]) == nil)
        let settings = try #require(try Self.settings(Self.complete))
        #expect(settings.nodes == [.init(id: "janus-a", url: "ws://10.0.0.5:8188"), .init(id: "janus-b", url: "wss://janus-b.internal:8989/")])
        #expect(settings.apiSecret == "api-secret")
        #expect(settings.adminKey == "admin-key")
        #expect(settings.roomKey == Self.key)
        #expect(settings.capacityStreams == 200)
        #expect(settings.maximumPublishers == 12)
        #expect(settings.maximumBitrate == 1_000_000)
        #expect(settings.maximumSubscribedMlines == 60)
        #expect(settings.sweepInterval == .seconds(60))

        var tuned = Self.complete
        tuned["SFU_NODE_CAPACITY_STREAMS"] = "400"
        tuned["SFU_MAX_PUBLISHERS"] = "6"
        tuned["SFU_MAX_BITRATE"] = "512000"
        tuned["SFU_SWEEP_SECONDS"] = "2"
        let read = try #require(try Self.settings(tuned))
        #expect(read.sweepInterval == .seconds(2))
        #expect(read.capacityStreams == 400)
        #expect(read.maximumPublishers == 6)
        #expect(read.maximumBitrate == 512_000)
    }

    @Test func settingsErrorsNameTheVariable() {
        var environment = Self.complete
        environment["SFU_API_SECRET"] = nil
        #expect(Self.refusal(environment) == "SFU_API_SECRET, SFU_ADMIN_KEY and SFU_ROOM_KEY must be set with SFU_NODES")
        #expect(Self.refusal(["SFU_NODES": "janus-a=ws://10.0.0.5:8188"]) == "SFU_API_SECRET, SFU_ADMIN_KEY and SFU_ROOM_KEY must be set with SFU_NODES")
        #expect(Self.refusal(["SFU_ROOM_KEY": Self.key])?.hasPrefix("SFU_NODES must list the Janus nodes") == true)

        for entry in ["janus-a", "janus-a=http://10.0.0.5:8188", "=ws://10.0.0.5:8188", "janus a=ws://10.0.0.5:8188", "janus-a=ws://",
                      String(repeating: "n", count: 65) + "=ws://10.0.0.5:8188"] {
            var malformed = Self.complete
            malformed["SFU_NODES"] = entry
            #expect(
                Self.refusal(malformed)
                    == "SFU_NODES entries must be id=ws://host:port with an id of 1-64 letters, digits, '-' or '_' (not '\(entry)')")
        }
        var duplicate = Self.complete
        duplicate["SFU_NODES"] = "janus-a=ws://10.0.0.5:8188,janus-a=ws://10.0.0.6:8188"
        #expect(Self.refusal(duplicate) == "SFU_NODES names node 'janus-a' twice")

        var short = Self.complete
        short["SFU_ROOM_KEY"] = String(repeating: "k", count: 31)
        #expect(Self.refusal(short) == "SFU_ROOM_KEY must be at least 32 bytes")
        short["SFU_ROOM_KEY"] = String(repeating: "k", count: 32)
        #expect(Self.refusal(short) == nil)

        for (variable, range, bad) in [
            ("SFU_MAX_PUBLISHERS", "1 to 100", ["0", "101", "twelve"]),
            ("SFU_NODE_CAPACITY_STREAMS", "1 to 100000", ["0", "100001"]),
            ("SFU_MAX_BITRATE", "64000 to 10000000", ["63999", "10000001"]),
            ("SFU_SWEEP_SECONDS", "1 to 3600", ["0", "3601"]),
        ] {
            for value in bad {
                var outside = Self.complete
                outside[variable] = value
                #expect(Self.refusal(outside) == "\(variable) must be an integer from \(range), not '\(value)'")
            }
        }
    }

    /// Spec §5: 1 Mbit/s per publisher, 500 kbit/s once a room has more than 6 publishers.
    @Test func publishersOfACrowdedRoomGetHalfTheBitrate() {
        #expect(SfuDevice.bitrateCap(publishers: 1, maximum: 1_000_000) == 1_000_000)
        #expect(SfuDevice.bitrateCap(publishers: 6, maximum: 1_000_000) == 1_000_000)
        #expect(SfuDevice.bitrateCap(publishers: 7, maximum: 1_000_000) == 500_000)
        #expect(SfuDevice.bitrateCap(publishers: 12, maximum: 800_000) == 400_000)
    }

    /// The sweeper derives a stray room's secret from its description: only ours parse.
    @Test func roomDescriptionsRoundTrip() throws {
        let room = UUID()
        let parsed = try #require(SfuWire.parseRoomDescription(SfuWire.roomDescription(room: room, epoch: 7)))
        #expect(parsed.room == room && parsed.epoch == 7)
        for foreign in [nil, "", "Demo Room", "\(room)", "\(room) 0", "\(room) -1", "\(room) 1 x", "not-a-uuid 1"] {
            #expect(SfuWire.parseRoomDescription(foreign) == nil, "\(String(describing: foreign))")
        }
    }
}
