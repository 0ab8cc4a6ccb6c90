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
