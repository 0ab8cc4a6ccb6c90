import Core
import Foundation
import Testing

@Suite struct KeysetCursorTests {
    @Test func roundTripsTimestampTextAndID() throws {
        let cursor = KeysetCursor(timestamp: "2026-11-26 16:40:01.123456+00", id: UUID())
        let decoded = try KeysetCursor(decoding: cursor.encoded)
        #expect(decoded == cursor)
        #expect(!cursor.encoded.contains("="))
    }

    @Test(arguments: ["", "not-a-cursor", "MjAyNg", Data("x|y".utf8).base64EncodedString(),
                      Data("'; drop table x;--|\(UUID().uuidString)".utf8).base64EncodedString()])
    func refusesForeignCursorsNamingTheField(_ text: String) {
        #expect(throws: APIError.invalidField("cursor", "must be a cursor returned by a previous page")) {
            try KeysetCursor(decoding: text)
        }
    }

    @Test func pageSizeDefaultsAndBounds() throws {
        #expect(try PageSize.resolve(nil, default: 20, maximum: 50) == 20)
        #expect(try PageSize.resolve(50, default: 20, maximum: 50) == 50)
        #expect(throws: APIError.self) { try PageSize.resolve(0, default: 20, maximum: 50) }
        #expect(throws: APIError.self) { try PageSize.resolve(51, default: 20, maximum: 50) }
    }
}
