import Core
import Foundation
import Testing

@Suite struct JSONBodyTests {
    struct Args: Decodable {
        var name: String
        var count: Int
        var items: [Int]?
    }

    @Test func missingFieldIsNamed() {
        #expect(throws: APIError.invalidField("count", "is required")) {
            try JSONBody.decode(Args.self, from: Data(#"{"name":"x"}"#.utf8))
        }
    }

    @Test func wrongTypeIsNamed() {
        #expect(throws: APIError.invalidField("count", "must be an integer")) {
            try JSONBody.decode(Args.self, from: Data(#"{"name":"x","count":"3"}"#.utf8))
        }
    }

    @Test func nestedPathIsNamed() {
        #expect(throws: APIError.invalidField("items[1]", "must be an integer")) {
            try JSONBody.decode(Args.self, from: Data(#"{"name":"x","count":1,"items":[1,"a"]}"#.utf8))
        }
    }

    @Test func malformedJSONIsBadJSON() throws {
        let error = try #require(throws: APIError.self) { try JSONBody.decode(Args.self, from: Data("{".utf8)) }
        #expect(error.code == "bad_json")
        #expect(error.status == .badRequest)
    }

    @Test func timestampsAreRFC3339WithMicroseconds() {
        let date = Date(timeIntervalSince1970: 1_767_225_600.123456)
        #expect(Timestamp.format(date) == "2026-01-01T00:00:00.123456Z")
        #expect(Timestamp.parse("2026-01-01T00:00:00.123456Z").map { abs($0.timeIntervalSince(date)) < 0.001 } == true)
    }
}
