import Foundation
import InsuranceService
import Testing

@Suite struct ServerSentEventParserTests {
    @Test func eventsSplitAnywhereAreReassembled() {
        let stream = "data: {\"a\":1}\n\n: keep-alive\n\ndata: [DONE]\n\n"
        let bytes = Array(stream.utf8)
        // Every possible split point, and byte-by-byte.
        for split in 0...bytes.count {
            var parser = ServerSentEventParser()
            let events = parser.feed(bytes[..<split]) + parser.feed(bytes[split...]) + parser.finish()
            #expect(events == [#"{"a":1}"#, "[DONE]"], "split at \(split)")
        }
        var parser = ServerSentEventParser()
        let events = bytes.flatMap { parser.feed([$0]) }
        #expect(events == [#"{"a":1}"#, "[DONE]"])
    }

    @Test func crlfMultiLineDataAndUnterminatedLastEvent() {
        var parser = ServerSentEventParser()
        let events = parser.feed(Array("event: x\r\ndata: one\r\ndata:two\r\n\r\ndata: tail".utf8))
        #expect(events == ["one\ntwo"])
        #expect(parser.finish() == ["tail"])
    }
}
