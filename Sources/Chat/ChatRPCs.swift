import Core
import Foundation

/// The chat RPC functions (`POST /rest/v1/rpc/<name>`). The first five keep the names and
/// arguments the original web client used. Arguments are checked first, then the caller's
/// per-user limit (``ChatLimits``) is taken, then the call runs.
extension ChatService {
    public var rpcFunctions: [RPCFunction] {
        [
            RPCFunction("get_or_create_dm", parameters: ["target_user_id"]) { call in
                struct Args: Decodable { var target_user_id: UUID }
                let target = try call.decode(Args.self).target_user_id
                try await ChatLimits.directConversations.take(database, call.caller)
                let id = try await directConversation(call.caller, with: target)
                return try .value(id.uuidString.lowercased())
            },
            RPCFunction("send_message_v1", parameters: ["conversation_id", "client_msg_id", "body", "reply_to_id", "kind", "attachment", "forwarded_from_id"]) { call in
                struct Args: Decodable {
                    var conversation_id: UUID
                    var client_msg_id: UUID
                    var body: String?
                    var reply_to_id: UUID?
                    var kind: String?
                    var attachment: JSONValue?
                    var forwarded_from_id: UUID?
                }
                let args = try call.decode(Args.self)
                try killSwitches.refuseIfEngaged([.messageSending])
                let kind = try MessageKind.parse(args.kind)
                let reference = try args.attachment.flatMap { $0 == .null ? nil : try AttachmentReference.parse($0) }
                if args.forwarded_from_id != nil, kind != .text || reference != nil {
                    throw APIError.invalidField("forwarded_from_id", "only text messages can be forwarded (no kind other than text, no attachment)")
                }
                let body: String
                switch (kind, reference) {
                case (.text, nil):
                    body = try MessageRules.body(args.body ?? "")
                case (.text, .some):
                    throw APIError.invalidField("attachment", "a text message has none; send files with kind image, video, file or voice")
                case (_, nil):
                    throw APIError.invalidField("attachment", "a \(kind.rawValue) message needs one: the path or id of your upload in attachments")
                case (_, .some):
                    body = try MessageRules.caption(args.body ?? "")
                }
                return .json(try await send(
                    call.caller, conversation: args.conversation_id, clientMessageID: args.client_msg_id, kind: kind, body: body,
                    attachment: reference, replyTo: args.reply_to_id, forwardedFrom: args.forwarded_from_id))
            },
            RPCFunction("ack_delivered_v1", parameters: ["conversation_id", "up_to_seq"]) { call in
                let args = try call.decode(AckArgs.self)
                let seq = try args.sequence()
                try await ChatLimits.acknowledgements.take(database, call.caller)
                return .json(try await acknowledge(call.caller, conversation: args.conversation_id, upTo: seq, read: false))
            },
            RPCFunction("ack_read_v1", parameters: ["conversation_id", "up_to_seq"]) { call in
                let args = try call.decode(AckArgs.self)
                let seq = try args.sequence()
                try await ChatLimits.acknowledgements.take(database, call.caller)
                return .json(try await acknowledge(call.caller, conversation: args.conversation_id, upTo: seq, read: true))
            },
            RPCFunction("chat_get_inbox_v2", parameters: ["p_limit", "p_cursor"]) { call in
                struct Args: Decodable { var p_limit: Int?; var p_cursor: String? }
                let args = try call.decode(Args.self)
                let limit = try PageSize.resolve(args.p_limit, default: 50, maximum: 200, field: "p_limit")
                let cursor = try await cursors.decode(args.p_cursor, field: "p_cursor")
                return .json(try await inbox(call.caller, cursor: cursor, limit: limit))
            },
            RPCFunction("create_group_chat", parameters: ["title", "member_ids"]) { call in
                struct Args: Decodable { var title: String; var member_ids: [UUID]? }
                let args = try call.decode(Args.self)
                let title = try MessageRules.title(args.title)
                let members = try MessageRules.members(args.member_ids ?? [])
                try await ChatLimits.groupsCreated.take(database, call.caller)
                try await ChatLimits.membersAdded.take(database, call.caller, cost: members.count)
                let id = try await createGroup(call.caller, title: title, members: members)
                return try .value(id.uuidString.lowercased())
            },
            RPCFunction("add_chat_members", parameters: ["conversation_id", "member_ids"]) { call in
                struct Args: Decodable { var conversation_id: UUID; var member_ids: [UUID] }
                let args = try call.decode(Args.self)
                let members = try MessageRules.members(args.member_ids)
                try await ChatLimits.membersAdded.take(database, call.caller, cost: members.count)
                let added = try await addMembers(call.caller, conversation: args.conversation_id, members: members)
                return try .value(["added": added])
            },
            RPCFunction("remove_chat_member", parameters: ["conversation_id", "user_id"]) { call in
                struct Args: Decodable { var conversation_id: UUID; var user_id: UUID }
                let args = try call.decode(Args.self)
                try await ChatLimits.membershipChanges.take(database, call.caller)
                try await removeMember(call.caller, conversation: args.conversation_id, user: args.user_id)
                return .void
            },
            RPCFunction("set_chat_member_role", parameters: ["conversation_id", "user_id", "role"]) { call in
                struct Args: Decodable { var conversation_id: UUID; var user_id: UUID; var role: String }
                let args = try call.decode(Args.self)
                guard ["owner", "admin", "member"].contains(args.role) else {
                    throw APIError.invalidField("role", "must be owner, admin or member")
                }
                try await ChatLimits.membershipChanges.take(database, call.caller)
                try await setRole(call.caller, conversation: args.conversation_id, user: args.user_id, role: args.role)
                return .void
            },
            RPCFunction("leave_conversation", parameters: ["conversation_id"]) { call in
                let args = try call.decode(ConversationArgs.self)
                try await ChatLimits.membershipChanges.take(database, call.caller)
                try await leave(call.caller, conversation: args.conversation_id)
                return .void
            },
            RPCFunction("mute_conversation", parameters: ["conversation_id", "muted", "muted_until"]) { call in
                // {muted_until: time|null}, or {muted: true} (until unmuted) / {muted: false}.
                struct Args: Decodable { var conversation_id: UUID; var muted: Bool?; var muted_until: Date? }
                let args = try call.decode(Args.self)
                let until: Date? = args.muted == false ? nil : (args.muted_until ?? (args.muted == true ? .distantFuture : nil))
                try await ChatLimits.mutes.take(database, call.caller)
                return .json(try await mute(call.caller, conversation: args.conversation_id, until: until))
            },
            RPCFunction("get_messages", parameters: ["conversation_id", "before_seq", "after_seq", "limit"]) { call in
                struct Args: Decodable { var conversation_id: UUID; var before_seq: Int64?; var after_seq: Int64?; var limit: Int? }
                let args = try call.decode(Args.self)
                let limit = try PageSize.resolve(args.limit, default: 50, maximum: 200)
                return .json(try await history(call.caller, conversation: args.conversation_id, beforeSeq: args.before_seq, afterSeq: args.after_seq, limit: limit))
            },
            RPCFunction("edit_message", parameters: ["message_id", "body"]) { call in
                struct Args: Decodable { var message_id: UUID; var body: String }
                let args = try call.decode(Args.self)
                let body = try MessageRules.body(args.body)
                try await ChatLimits.edits.take(database, call.caller)
                return .json(try await edit(call.caller, message: args.message_id, body: body))
            },
            RPCFunction("delete_message", parameters: ["message_id"]) { call in
                struct Args: Decodable { var message_id: UUID }
                let message = try call.decode(Args.self).message_id
                try await ChatLimits.deletions.take(database, call.caller)
                return .json(try await delete(call.caller, message: message))
            },
            RPCFunction("set_reaction", parameters: ["message_id", "emoji"]) { call in
                struct Args: Decodable { var message_id: UUID; var emoji: String? }
                let args = try call.decode(Args.self)
                let emoji = try args.emoji.map(MessageRules.emoji)
                try await ChatLimits.reactions.take(database, call.caller)
                return .json(try await react(call.caller, message: args.message_id, emoji: emoji))
            },
        ] + featureRPCFunctions
    }
}

/// `{conversation_id}`.
struct ConversationArgs: Decodable {
    var conversation_id: UUID
}

/// `{conversation_id, up_to_seq}` of the acknowledgements.
struct AckArgs: Decodable {
    var conversation_id: UUID
    var up_to_seq: Int64

    func sequence() throws -> Int64 {
        guard up_to_seq >= 0 else { throw APIError.invalidField("up_to_seq", "must be zero or more") }
        return up_to_seq
    }
}
