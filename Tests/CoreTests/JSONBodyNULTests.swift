@testable import Core
import Foundation
import Testing

/// U+0000 in any string of a request body (PostgreSQL cannot store it in text or jsonb) is a
/// 400 naming the field path, whichever decoding entry point reads the body.
@Suite struct JSONBodyNULTests {
    struct Args: Decodable {
        var name: String?
        var items: [String]?
        var data: [String: JSONValue]?
    }

    @Test(arguments: [
        (#"{"name":"a\u0000b"}"#, "name"),
        (#"{"items":["ok","x\u0000"]}"#, "items[1]"),
        (#"{"data":{"nick":{"deep":["\u0000"]}}}"#, "data.nick.deep[0]"),
        (#"{"data":{"a\u0000b":1}}"#, #"data.a\u0000b"#),
        (#""\u0000""#, "body"),
    ])
    func nulIsRefusedWithTheFieldPath(json: String, field: String) throws {
        let data = Data(json.utf8)
        let error = try #require(throws: APIError.self) { try JSONBody.rejectNUL(in: data) }
        #expect(error == APIError.invalidField(field, JSONBody.nulRule))
        #expect(error.status == .badRequest)
        #expect(error.message == "\(field): must not contain U+0000")
    }

    @Test func everyDecodingEntryPointRefusesNUL() throws {
        let data = Data(#"{"name":"\u0000"}"#.utf8)
        #expect(throws: APIError.invalidField("name", JSONBody.nulRule)) { try JSONBody.decode(Args.self, from: data) }
        #expect(throws: APIError.invalidField("name", JSONBody.nulRule)) { try JSONBody.object(from: data) }
        let call = RPCCall(name: "any", arguments: data, caller: .anonymous)
        #expect(throws: APIError.invalidField("name", JSONBody.nulRule)) { try call.decode(Args.self) }
    }

    @Test func anEscapedBackslashBeforeU0000IsNotNUL() throws {
        // `\\u0000` is a backslash followed by the text "u0000": allowed.
        let data = Data(#"{"name":"\\u0000"}"#.utf8)
        try JSONBody.rejectNUL(in: data)
        #expect(try JSONBody.decode(Args.self, from: data).name == #"\u0000"#)
    }

    @Test func otherControlCharactersAndUnicodeStayAllowed() throws {
        let data = Data(#"{"name":"tab\there \u0001 \u00e9 😀"}"#.utf8)
        #expect(try JSONBody.decode(Args.self, from: data).name == "tab\there \u{1} é 😀")
    }

    @Test func aRawNULByteIsRefused() {
        var data = Data(#"{"name":"a"#.utf8)
        data.append(0)
        data.append(contentsOf: Data(#""}"#.utf8))
        #expect(throws: APIError.self) { try JSONBody.decode(Args.self, from: data) }
    }

    @Test func theCheapScanFindsOnlyCandidates() {
        #expect(JSONBody.mayContainNUL(Data(#"{"a":"\u0000"}"#.utf8)))
        #expect(!JSONBody.mayContainNUL(Data(#"{"a":"\u0001","b":"u0000"}"#.utf8)))
        #expect(!JSONBody.mayContainNUL(Data(#"{"a":"\u000"#.utf8)))
    }
}
