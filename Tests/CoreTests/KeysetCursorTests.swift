import Core
import Foundation
import Testing

@Suite struct KeysetCursorTests {
    @Test func payloadRoundTripsTimestampTextAndID() throws {
        let cursor = KeysetCursor(timestamp: "2026-11-26 16:40:01.123456+00", id: UUID())
        #expect(KeysetCursor(payload: cursor.payload) == cursor)
    }

    @Test(arguments: ["", "x|y", "2026-11-26 16:40:01+00|not-a-uuid", "'; drop table x;--|\(UUID().uuidString)",
                      "2026-11-26\u{0301} 16:40:01+00|\(UUID().uuidString)"])
    func refusesPayloadsTheServerDoesNotWrite(_ text: String) {
        #expect(KeysetCursor(payload: text) == nil)
    }

    @Test func signedTextSplitsBackIntoItsParts() throws {
        let text = KeysetCursor.signedText(payload: Data("a|b".utf8), mac: Data([0xfb, 0xff, 0x00]))
        #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
        let parts = try #require(KeysetCursor.signedParts(text))
        #expect(parts.payload == Data("a|b".utf8) && parts.mac == Data([0xfb, 0xff, 0x00]))
    }

    // "YR.YQ": a second spelling of "YQ.YQ" (the spare low bits of the last character set).
    @Test(arguments: ["", ".", "abc", "a.b.c", "YQ.", ".YQ", "YQ==.YQ", "Y Q.YQ", "YR.YQ", "YQ.YR",
                      String(repeating: "A", count: 300) + ".YQ"])
    func refusesTextsThatAreNotSignedCursors(_ text: String) {
        #expect(KeysetCursor.signedParts(text) == nil)
    }

    @Test func pageSizeDefaultsAndBounds() throws {
        #expect(try PageSize.resolve(nil, default: 20, maximum: 50) == 20)
        #expect(try PageSize.resolve(50, default: 20, maximum: 50) == 50)
        #expect(throws: APIError.self) { try PageSize.resolve(0, default: 20, maximum: 50) }
        #expect(throws: APIError.self) { try PageSize.resolve(51, default: 20, maximum: 50) }
    }
}
