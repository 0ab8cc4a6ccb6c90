import Core
import Foundation

/// RPC functions of the auth module: the caller's identity and their signed-in devices.
extension AuthService {
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
                guard try await sessions.revoke(sessionID: sessionID, userID: userID) else {
                    throw APIError.notFound("session not found")
                }
                return try .value(["revoked": true])
            },
        ]
    }
}
