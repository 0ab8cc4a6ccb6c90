@testable import Calls
import Foundation
import Testing

@Suite struct FrameTests {
    static func frame(_ fields: String) -> String {
        #"{"v":1,"type":"PING","msgId":"6f1c1f4e-3b7a-4a55-9a43-0d2b3c4d5e6f","ts":1764000000000,"seq":1,"payload":{}\#(fields)}"#
    }

    @Test func aValidEnvelopeParses() throws {
        let frame = try InboundFrame.parse(Self.frame(""))
        #expect(frame.type == "PING")
        #expect(frame.seq == 1)
    }

    @Test(arguments: [
        (#"{"v":2,"type":"PING","msgId":"6f1c1f4e-3b7a-4a55-9a43-0d2b3c4d5e6f","ts":1,"seq":1}"#, "v"),
        (#"{"v":true,"type":"PING","msgId":"6f1c1f4e-3b7a-4a55-9a43-0d2b3c4d5e6f","ts":1,"seq":1}"#, "v"),
        (#"{"v":1,"msgId":"6f1c1f4e-3b7a-4a55-9a43-0d2b3c4d5e6f","ts":1,"seq":1}"#, "type"),
        (#"{"v":1,"type":"PING","msgId":"6f1c1f4e-3b7a-4a55-9a43-0d2b3c4d5e6f","ts":"now","seq":1}"#, "ts"),
        (#"{"v":1,"type":"PING","msgId":"6f1c1f4e-3b7a-4a55-9a43-0d2b3c4d5e6f","ts":1,"seq":1.5}"#, "seq"),
        (#"{"v":1,"type":"PING","msgId":"6f1c1f4e-3b7a-4a55-9a43-0d2b3c4d5e6f","ts":1,"seq":-1}"#, "seq"),
        (#"{"v":1,"type":"PING","msgId":"6f1c1f4e-3b7a-4a55-9a43-0d2b3c4d5e6f","ts":1,"seq":1,"payload":[]}"#, "payload"),
    ])
    func invalidEnvelopesNameTheFieldAndKeepTheMsgId(text: String, field: String) {
        do {
            _ = try InboundFrame.parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message.hasPrefix(field))
            #expect(error.msgId == "6f1c1f4e-3b7a-4a55-9a43-0d2b3c4d5e6f")
        }
    }

    @Test func withoutAReadableMsgIdThereIsNothingToAcknowledge() {
        for text in ["not json", "[]", #"{"v":1,"type":"PING","msgId":"nope","ts":1,"seq":1}"#] {
            do {
                _ = try InboundFrame.parse(text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.msgId == nil)
            }
        }
    }

    @Test func acksCarryNoSeqAndErrorsCarryRetryable() throws {
        let ack = OutboundFrame.ack(of: "m1", result: .failed(CallsError(.rateLimited, "slow down", details: ["retryAfterMs": 500])))
        let object = try JSONSerialization.jsonObject(with: Data(ack.utf8)) as! [String: Any]
        #expect(object["seq"] == nil)
        let body = object["ack"] as! [String: Any]
        #expect(body["ok"] as? Bool == false)
        let error = body["error"] as! [String: Any]
        #expect(error["code"] as? String == "RATE_LIMITED")
        #expect(error["retryable"] as? Bool == true)
        #expect((error["details"] as? [String: Any])?["retryAfterMs"] as? Int == 500)
    }
}
