import Core
import Foundation
import Testing

@Suite struct RPCRegistryTests {
    func registry() -> RPCRegistry {
        var registry = RPCRegistry()
        registry.register([RPCFunction("echo", parameters: ["x"]) { call in .json(call.arguments) }])
        return registry
    }

    @Test func callsAllowListedFunction() async throws {
        let result = try await registry().call(RPCCall(name: "echo", arguments: Data(#"{"x":1}"#.utf8), caller: .anonymous))
        guard case .json(let data) = result else { Issue.record("expected JSON"); return }
        #expect(String(decoding: data, as: UTF8.self) == #"{"x":1}"#)
    }

    @Test func unknownFunctionIsPGRST202() async throws {
        let error = try await #require(throws: APIError.self) {
            try await registry().call(RPCCall(name: "nope", arguments: Data("{}".utf8), caller: .anonymous))
        }
        #expect(error.code == "PGRST202")
        #expect(error.status == .notFound)
        #expect(error.message == "Could not find the function public.nope() in the schema cache")
    }

    @Test func unknownArgumentIsPGRST202() async throws {
        let error = try await #require(throws: APIError.self) {
            try await registry().call(RPCCall(name: "echo", arguments: Data(#"{"x":1,"y":2}"#.utf8), caller: .anonymous))
        }
        #expect(error.code == "PGRST202")
        #expect(error.message.contains("echo(x, y)"))
    }

    @Test func nonObjectBodyIsRefused() async throws {
        let error = try await #require(throws: APIError.self) {
            try await registry().call(RPCCall(name: "echo", arguments: Data("[1]".utf8), caller: .anonymous))
        }
        #expect(error.code == "bad_json")
    }
}
