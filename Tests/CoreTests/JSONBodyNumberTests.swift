import Core
import Foundation
import Testing

/// Issue 11, item 1: a number a field cannot hold is a 400 naming the field, not "bad JSON"
/// (Foundation's decoder reports it without a coding path).
@Suite struct JSONBodyNumberTests {
    struct Arguments: Decodable {
        var conversation_id: String
        var limit: Int?
        var nested: Nested?
        struct Nested: Decodable { var items: [Int] }
    }

    @Test(arguments: ["1e300", "-1e19", "9223372036854775808", "9.5"])
    func anIntegerFieldOutOfRangeIsNamed(_ number: String) throws {
        let body = Data(#"{"conversation_id":"c","limit":\#(number)}"#.utf8)
        #expect(throws: APIError.invalidField("limit", JSONBody.numberRule)) { _ = try JSONBody.decode(Arguments.self, from: body) }
    }

    @Test func aNestedNumberIsNamedByItsPath() throws {
        let body = Data(#"{"conversation_id":"c","nested":{"items":[1,2,1e300]}}"#.utf8)
        #expect(throws: APIError.invalidField("nested.items[2]", JSONBody.numberRule)) { _ = try JSONBody.decode(Arguments.self, from: body) }
    }

    @Test func inRangeNumbersAndMalformedTextAreUnchanged() throws {
        let decoded = try JSONBody.decode(Arguments.self, from: Data(#"{"conversation_id":"c","limit":9223372036854775807}"#.utf8))
        #expect(decoded.limit == Int.max)
        let error = try #require(throws: APIError.self) { _ = try JSONBody.decode(Arguments.self, from: Data("{not json".utf8)) }
        #expect(error.code == "bad_json")
    }
}
