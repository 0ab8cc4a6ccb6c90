import Core
import Foundation

extension OsagoService {
    /// `save_osago_calculation`, `list_osago_calculations`, `delete_osago_calculation`; the
    /// two that change data take the caller's per-user limit (``OsagoLimits``) after the
    /// arguments are checked.
    public var rpcFunctions: [RPCFunction] {
        [
            RPCFunction("save_osago_calculation", parameters: ["request", "title"]) { call in
                let arguments = try JSONBody.object(from: call.arguments)
                guard let request = arguments["request"], request is [String: Any] else {
                    throw APIError.invalidField("request", "is required: the quote request object")
                }
                let title = arguments["title"]
                guard title == nil || title is NSNull || title is String else {
                    throw APIError.invalidField("title", "must be a string")
                }
                let body = try JSONSerialization.data(withJSONObject: request)
                try await OsagoLimits.saves.take(database, call.caller)
                return .json(try await save(call.caller, request: body, title: title as? String))
            },
            RPCFunction("list_osago_calculations", parameters: ["limit", "cursor"]) { call in
                struct Args: Decodable { var limit: Int?; var cursor: String? }
                let args = try call.decode(Args.self)
                let limit = try PageSize.resolve(args.limit, default: 20, maximum: 50)
                let cursor = try await cursors.decode(args.cursor, field: "cursor")
                return .json(try await list(call.caller, cursor: cursor, limit: limit))
            },
            RPCFunction("delete_osago_calculation", parameters: ["id"]) { call in
                struct Args: Decodable { var id: UUID }
                let id = try call.decode(Args.self).id
                try await OsagoLimits.deletions.take(database, call.caller)
                return .json(try await delete(call.caller, id: id))
            },
        ]
    }
}
