@testable import Chat
import Core
import Database
import Foundation
import Realtime
import TestSupport

/// Users made directly in the database, and shortcuts over the chat RPC surface.
struct ChatFixture {
    let database: Database
    let chat: ChatService
    var registry: RPCRegistry

    init(_ database: Database, publisher: (any ChangePublisher)? = nil) {
        self.database = database
        self.chat = ChatService(database: database, publisher: publisher)
        var registry = RPCRegistry()
        registry.register(chat.rpcFunctions)
        self.registry = registry
    }

    func user(_ name: String) async throws -> Caller {
        let id = try await database.withOwner { connection in
            let phone = TestPhone.unique()
            var created: UUID?
            for try await id in try await connection.rows("INSERT INTO auth.users (phone) VALUES ($1) RETURNING id", [phone]).decode(UUID.self) {
                created = id
            }
            try await connection.execute("UPDATE public.profiles SET username = $2, display_name = $2 WHERE id = $1", [created!, name])
            return created!
        }
        return Caller(role: .authenticated, userID: id, claimsJSON: #"{"sub":"\#(id.uuidString.lowercased())","role":"authenticated"}"#)
    }

    /// Calls an RPC as `caller` and returns the parsed JSON result (nil for void).
    @discardableResult
    func call(_ caller: Caller, _ name: String, _ arguments: [String: Any]) async throws -> Any? {
        let data = try JSONSerialization.data(withJSONObject: arguments)
        switch try await registry.call(RPCCall(name: name, arguments: data, caller: caller)) {
        case .json(let result): return try JSONSerialization.jsonObject(with: result, options: [.fragmentsAllowed])
        case .void: return nil
        }
    }

    func object(_ caller: Caller, _ name: String, _ arguments: [String: Any]) async throws -> [String: Any] {
        try await call(caller, name, arguments) as? [String: Any] ?? [:]
    }

    func dm(_ a: Caller, _ b: Caller) async throws -> String {
        try await call(a, "get_or_create_dm", ["target_user_id": b.userID!.uuidString]) as! String
    }

    func send(_ caller: Caller, _ conversation: String, _ body: String, clientID: UUID = UUID()) async throws -> [String: Any] {
        try await object(caller, "send_message_v1", ["conversation_id": conversation, "client_msg_id": clientID.uuidString, "body": body])
    }

    func messages(_ caller: Caller, _ conversation: String, _ extra: [String: Any] = [:]) async throws -> [[String: Any]] {
        let page = try await object(caller, "get_messages", extra.merging(["conversation_id": conversation]) { $1 })
        return page["items"] as? [[String: Any]] ?? []
    }

    func inbox(_ caller: Caller, limit: Int = 50, cursor: String? = nil) async throws -> [String: Any] {
        var arguments: [String: Any] = ["p_limit": limit]
        if let cursor { arguments["p_cursor"] = cursor }
        return try await object(caller, "chat_get_inbox_v2", arguments)
    }
}

/// Records what a chat service announces to realtime.
final class ChangeRecorder: ChangePublisher, @unchecked Sendable {
    private let lock = NSLock()
    private var changes: [ChangeEnvelope] = []
    func publish(_ changes: [ChangeEnvelope]) async { lock.withLock { self.changes += changes } }
    var all: [ChangeEnvelope] { lock.withLock { changes } }
}

extension Caller {
    var id: String { userID!.uuidString.lowercased() }
}

/// The API error `body` threw (nil when it succeeded or threw something else).
func refusal(_ body: () async throws -> Void) async -> APIError? {
    do {
        try await body()
        return nil
    } catch let error as APIError {
        return error
    } catch {
        return nil
    }
}
