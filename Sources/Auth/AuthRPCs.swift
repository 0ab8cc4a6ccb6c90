import Core
import Database
import Foundation

/// RPC functions of the auth module: the caller's identity and their signed-in devices.
extension AuthService {
    /// Signing devices out, per user (docs/api.md §1.8).
    static let sessionRevocations = ActionLimit(
        "auth.revoke_session", burst: 60, perSeconds: 3600, allowance: "sign out 60 devices an hour")

    public var rpcFunctions: [RPCFunction] {
        [
            RPCFunction("whoami", parameters: []) { call in
                let sub = call.caller.userID.map { JSONValue.string($0.uuidString.lowercased()) } ?? .null
                return try .value(["sub": sub, "role": .string(call.caller.role.rawValue)])
            },
            RPCFunction("list_my_sessions", parameters: []) { call in
                let userID = try call.caller.requireUser()
                return try .value(try await sessions.list(userID: userID, current: call.caller.sessionID))
            },
            RPCFunction("revoke_my_session", parameters: ["session_id"]) { call in
                struct Args: Decodable { var session_id: UUID }
                let userID = try call.caller.requireUser()
                let sessionID = try call.decode(Args.self).session_id
                try await Self.sessionRevocations.take(database, call.caller)
                guard try await sessions.revoke(sessionID: sessionID, userID: userID) else {
                    throw APIError.notFound("session not found")
                }
                return try .value(["revoked": true])
            },
        ]
    }
}
