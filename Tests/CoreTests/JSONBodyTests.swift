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

    /// `objectKeys(from:)`, the RPC argument check, answers as `object(from:)` does: the same
    /// keys, or the same error.
    @Test func objectKeysAnswerAsObjectDoes() {
        let texts = [
            #"{"a":1,"b":[true,null],"c":{"d":"e"}}"#, #"{}"#, "  {\n}  ", "\u{FEFF}{\"a\":1}", #"{"a":1,"a":2}"#,
            #"{"a":1e400}"#, #"{"a":-1e400,"b":1}"#, #"{"a":"\ud800"}"#, #"{"a":"\x"}"#, #"{"a":1-+e}"#, #"{"a":"\u0000"}"#,
            #"{"é":"ü","🙂":1}"#, "[1,2]", "3", #""text""#, "null", "", "{", #"{"a":1,}"#, "{\"a\":\"\u{0}\"}",
            String(repeating: "[", count: 40) + String(repeating: "]", count: 40), #"{"a":"#,
        ].map { Array($0.utf8) } + [[0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], [0xFF, 0xFE, 0x7B, 0x00, 0x7D, 0x00]]
        for bytes in texts {
            let data = Data(bytes)
            let expected = Result { try JSONBody.object(from: data).keys.sorted() }
            let actual = Result { try JSONBody.objectKeys(from: data).sorted() }
            switch (expected, actual) {
            case (.success(let keys), .success(let sameKeys)):
                #expect(keys == sameKeys, "\(bytes)")
            case (.failure(let error), .failure(let sameError)):
                #expect(error as? APIError == sameError as? APIError, "\(bytes)")
            default:
                Issue.record("\(bytes): object(from:) \(expected), objectKeys(from:) \(actual)")
            }
        }
    }

    @Test func timestampsAreRFC3339WithMicroseconds() {
        let date = Date(timeIntervalSince1970: 1_767_225_600.123456)
        #expect(Timestamp.format(date) == "2026-01-01T00:00:00.123456Z")
        #expect(Timestamp.parse("2026-01-01T00:00:00.123456Z").map { abs($0.timeIntervalSince(date)) < 0.001 } == true)
    }
}
