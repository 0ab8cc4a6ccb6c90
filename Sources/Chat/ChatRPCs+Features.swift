import Core
import Foundation

/// The chat RPCs of issue 14: search, pins, "delete for me", and reports (docs/api.md). Arguments are
/// checked first, then the caller's per-user limit (``ChatLimits``) is taken.
extension ChatService {
    var featureRPCFunctions: [RPCFunction] {
        [
            RPCFunction("search_messages", parameters: ["query", "conversation_id", "limit", "before"]) { call in
                struct Args: Decodable { var query: String; var conversation_id: UUID?; var limit: Int?; var before: String? }
                let args = try call.decode(Args.self)
                let request = try SearchRequest.parse(query: args.query, conversation: args.conversation_id, limit: args.limit, before: args.before)
                try await ChatLimits.searches.take(database, call.caller)
                return .json(try await search(call.caller, request))
            },
            RPCFunction("pin_message", parameters: ["message_id"]) { call in
                struct Args: Decodable { var message_id: UUID }
                let message = try call.decode(Args.self).message_id
                try await ChatLimits.pins.take(database, call.caller)
                return .json(try await pin(call.caller, message: message))
            },
            RPCFunction("unpin_message", parameters: ["conversation_id"]) { call in
                let conversation = try call.decode(ConversationArgs.self).conversation_id
                try await ChatLimits.pins.take(database, call.caller)
                return .json(try await unpin(call.caller, conversation: conversation))
            },
            RPCFunction("hide_message", parameters: ["message_id"]) { call in
                struct Args: Decodable { var message_id: UUID }
                let message = try call.decode(Args.self).message_id
                try await ChatLimits.hides.take(database, call.caller)
                return .json(try await hide(call.caller, message: message))
            },
            RPCFunction("report_message", parameters: ["message_id", "reason", "details"]) { call in
                struct Args: Decodable { var message_id: UUID; var reason: String; var details: String? }
                let args = try call.decode(Args.self)
                let report = try ContentReport(reason: args.reason, details: args.details)
                try await ChatLimits.reports.take(database, call.caller)
                return .json(try await self.report(call.caller, message: args.message_id, report))
            },
        ]
    }
}
