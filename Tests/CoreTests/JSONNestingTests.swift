import Core
import Foundation
import Testing

/// Deeply nested JSON is refused before decoding (a fuzzing finding of issue 11: decoding
/// `JSONValue` costs time roughly cubic in the depth).
@Suite struct JSONNestingTests {
    func nested(_ depth: Int) -> String {
        String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
    }

    @Test func depthAtTheLimitIsAcceptedAndOneMoreIsNot() throws {
        #expect(!JSONNesting.isTooDeep(nested(JSONNesting.maximumDepth).utf8))
        #expect(JSONNesting.isTooDeep(nested(JSONNesting.maximumDepth + 1).utf8))
        #expect(JSONNesting.isTooDeep(String(repeating: "[", count: 33).utf8))
        _ = try JSONValue.parse(nested(JSONNesting.maximumDepth))
        #expect(throws: JSONValue.TooDeep.self) { try JSONValue.parse(nested(500)) }
    }

    @Test func bracketsInsideStringsDoNotCount() {
        let text = #"{"a":"\#(String(repeating: "[{", count: 100))\"]}"}"#
        #expect(!JSONNesting.isTooDeep(text.utf8))
    }

    @Test func aTooDeepBodyIsA400NamingTheBody() throws {
        let error = try #require(throws: APIError.self) {
            _ = try JSONBody.object(from: Data(#"{"data":\#(nested(40))}"#.utf8))
        }
        #expect(error == APIError.invalidField("body", JSONNesting.rule))
        #expect(throws: APIError.invalidField("body", JSONNesting.rule)) {
            _ = try JSONBody.decode([String: JSONValue].self, from: Data(nested(40).utf8))
        }
    }

    @Test func refusingADeepTextIsFast() {
        let start = ContinuousClock.now
        for _ in 0..<10 { _ = try? JSONValue.parse(nested(5_000)) }
        #expect(ContinuousClock.now - start < .seconds(1))
    }
}
