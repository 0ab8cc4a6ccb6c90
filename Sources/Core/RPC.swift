import Foundation
import Hummingbird

/// One call of an RPC endpoint (`POST /rest/v1/rpc/<name>`).
public struct RPCCall: Sendable {
    /// The function name from the URL.
    public var name: String
    /// The JSON object body (named arguments).
    public var arguments: Data
    /// The authenticated caller.
    public var caller: Caller
    /// The client's address (``AppRequestContext/clientAddress``), for per-address limits on
    /// calls anonymous callers may make; nil when the call did not come over HTTP.
    public var clientAddress: String?

    public init(name: String, arguments: Data, caller: Caller) {
        self.name = name
        self.arguments = arguments
        self.caller = caller
        self.clientAddress = nil
    }

    /// A call that came over HTTP from `clientAddress`.
    public init(name: String, arguments: Data, caller: Caller, clientAddress: String) {
        self.init(name: name, arguments: arguments, caller: caller)
        self.clientAddress = clientAddress
    }

    /// Decodes the named arguments into `T` with field-level errors.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONBody.decode(type, from: arguments)
    }
}

/// What an RPC returns: JSON (object, array or scalar) or nothing (`204`).
public enum RPCResult: Sendable {
    case json(Data)
    case void

    /// Encodes a value as the JSON result.
    public static func value<T: Encodable>(_ value: T) throws -> RPCResult {
        .json(try JSONBody.encoder.encode(value))
    }
}

/// An allow-listed RPC function: its name, the argument names it accepts, and its handler.
public struct RPCFunction: Sendable {
    public var name: String
    /// Every argument name the function accepts; a call with any other key is refused
    /// the way PostgREST refuses an unknown signature (`PGRST202`).
    public var parameters: Set<String>
    public var handler: @Sendable (RPCCall) async throws -> RPCResult

    public init(_ name: String, parameters: Set<String>, handler: @escaping @Sendable (RPCCall) async throws -> RPCResult) {
        self.name = name
        self.parameters = parameters
        self.handler = handler
    }
}

/// The allow-list of RPC functions, filled by each feature module at start-up.
public struct RPCRegistry: Sendable {
    private var functions: [String: RPCFunction] = [:]

    public init() {}

    /// Adds functions; a duplicate name is a programming error.
    public mutating func register(_ newFunctions: [RPCFunction]) {
        for function in newFunctions {
            // Start-up only (modules register fixed lists); no request reaches it.
            precondition(functions[function.name] == nil, "RPC \(function.name) registered twice")
            functions[function.name] = function
        }
    }

    /// Every registered name, sorted (for documentation and diagnostics).
    public var names: [String] { functions.keys.sorted() }

    /// Every function's name and argument names, sorted by name (the OpenAPI description).
    public var signatures: [(name: String, parameters: [String])] {
        names.map { ($0, functions[$0]?.parameters.sorted() ?? []) }
    }

    /// Runs the named function, refusing unknown names and unknown argument keys with PGRST202.
    public func call(_ call: RPCCall) async throws -> RPCResult {
        let keys = try JSONBody.objectKeys(from: call.arguments)
        guard let function = functions[call.name] else {
            throw Self.notFound(call.name, keys: keys.sorted())
        }
        if !keys.allSatisfy(function.parameters.contains) {
            throw Self.notFound(call.name, keys: keys.sorted())
        }
        return try await function.handler(call)
    }

    static func notFound(_ name: String, keys: [String]) -> APIError {
        let signature = keys.joined(separator: ", ")
        let withParams = keys.isEmpty ? "without parameters" : "with parameters \(signature)"
        return APIError(
            status: .notFound, code: "PGRST202",
            message: "Could not find the function public.\(name)(\(signature)) in the schema cache",
            details: "Searched for the function public.\(name) \(withParams) or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.")
    }
}
