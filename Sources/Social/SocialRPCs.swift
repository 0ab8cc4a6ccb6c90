import Core
import Foundation

/// The profile and social-graph RPC functions (`POST /rest/v1/rpc/<name>`). Arguments are
/// checked first, then the caller's per-user limit (``SocialLimits``) is taken, then the call
/// runs.
extension SocialService {
    /// Every function this module serves.
    public var rpcFunctions: [RPCFunction] {
        [
            RPCFunction("get_my_profile", parameters: []) { call in
                .json(try await myProfile(call.caller))
            },
            RPCFunction(
                "update_my_profile", parameters: ["username", "display_name", "bio", "avatar_url", "is_private", "who_can_add_to_groups"]
            ) { call in
                let changes = try Self.changes(call)
                try await SocialLimits.profileUpdates.take(database, call.caller)
                return .json(try await updateMyProfile(call.caller, changes))
            },
            RPCFunction("check_username", parameters: ["username"]) { call in
                struct Args: Decodable { var username: String }
                let username = try call.decode(Args.self).username
                try await SocialLimits.usernameChecks.take(database, call.caller)
                return .json(try await usernameAvailability(call.caller, username: username))
            },
            RPCFunction("get_profile", parameters: ["user_id", "username"]) { call in
                struct Args: Decodable { var user_id: UUID?; var username: String? }
                let args = try call.decode(Args.self)
                guard (args.user_id == nil) != (args.username == nil) else {
                    throw APIError.invalidField("user_id", "give exactly one of user_id or username")
                }
                return .json(try await profile(call.caller, userID: args.user_id, username: args.username))
            },
            RPCFunction("search_profiles", parameters: ["query", "limit"]) { call in
                struct Args: Decodable { var query: String; var limit: Int? }
                let args = try call.decode(Args.self)
                let limit = try PageSize.resolve(args.limit, default: 20, maximum: 50)
                let query = try ProfileRules.searchQuery(args.query)
                try await SocialLimits.searches.take(database, call.caller)
                return .json(try await search(call.caller, query: query, limit: limit))
            },
            RPCFunction("follow_user", parameters: ["target_user_id"]) { call in
                let target = try call.decode(TargetArgs.self).target_user_id
                try await SocialLimits.follows.take(database, call.caller)
                return .json(try await follow(call.caller, target: target))
            },
            RPCFunction("unfollow_user", parameters: ["target_user_id"]) { call in
                let target = try call.decode(TargetArgs.self).target_user_id
                try await SocialLimits.follows.take(database, call.caller)
                return .json(try await unfollow(call.caller, target: target))
            },
            RPCFunction("respond_follow_request", parameters: ["follower_id", "accept"]) { call in
                struct Args: Decodable { var follower_id: UUID; var accept: Bool }
                let args = try call.decode(Args.self)
                try await SocialLimits.followResponses.take(database, call.caller)
                return .json(try await respond(call.caller, follower: args.follower_id, accept: args.accept))
            },
            listFunction("list_followers", .followers),
            listFunction("list_following", .following),
            listFunction("list_follow_requests", .requests),
            RPCFunction("block_user", parameters: ["target_user_id"]) { call in
                let target = try call.decode(TargetArgs.self).target_user_id
                try await SocialLimits.blocks.take(database, call.caller)
                return .json(try await block(call.caller, target: target))
            },
            RPCFunction("unblock_user", parameters: ["target_user_id"]) { call in
                let target = try call.decode(TargetArgs.self).target_user_id
                try await SocialLimits.blocks.take(database, call.caller)
                return .json(try await unblock(call.caller, target: target))
            },
            RPCFunction("report_profile", parameters: ["user_id", "reason", "details"]) { call in
                struct Args: Decodable { var user_id: UUID; var reason: String; var details: String? }
                let args = try call.decode(Args.self)
                let report = try ContentReport(reason: args.reason, details: args.details)
                try await SocialLimits.reports.take(database, call.caller)
                return .json(try await self.report(call.caller, profile: args.user_id, report))
            },
            RPCFunction("list_blocked_users", parameters: ["cursor", "limit"]) { call in
                let args = try call.decode(PageArgs.self)
                let limit = try args.pageSize()
                return .json(try await blocked(call.caller, cursor: try await cursors.decode(args.cursor, field: "cursor"), limit: limit))
            },
        ]
    }

    private func listFunction(_ name: String, _ direction: Direction) -> RPCFunction {
        RPCFunction(name, parameters: direction == .requests ? ["cursor", "limit"] : ["user_id", "cursor", "limit"]) { call in
            let args = try call.decode(PageArgs.self)
            let limit = try args.pageSize()
            let cursor = try await cursors.decode(args.cursor, field: "cursor")
            return .json(try await list(call.caller, direction: direction, owner: args.user_id, cursor: cursor, limit: limit))
        }
    }

    /// Reads `update_my_profile` arguments, telling "absent" from "null" for `avatar_url`.
    static func changes(_ call: RPCCall) throws -> ProfileChanges {
        struct Args: Decodable {
            var username: String?
            var display_name: String?
            var bio: String?
            var avatar_url: String?
            var is_private: Bool?
            var who_can_add_to_groups: String?
        }
        let args = try call.decode(Args.self)
        let present = try JSONBody.object(from: call.arguments)
        var changes = ProfileChanges()
        changes.username = try args.username.map(ProfileRules.username)
        changes.displayName = try args.display_name.map(ProfileRules.displayName)
        changes.bio = try args.bio.map(ProfileRules.bio)
        if present.keys.contains("avatar_url") {
            let cleared = args.avatar_url.map { $0.trimmingCharacters(in: .whitespaces).isEmpty } ?? true
            changes.avatarURL = .some(cleared ? nil : try ProfileRules.avatarURL(args.avatar_url ?? ""))
        }
        changes.isPrivate = args.is_private
        changes.whoCanAddToGroups = try args.who_can_add_to_groups.map(GroupAddPolicy.parse)
        if present.keys.contains("username"), args.username == nil {
            throw APIError.invalidField("username", "cannot be removed once set")
        }
        return changes
    }
}

/// `{target_user_id}`.
struct TargetArgs: Decodable {
    var target_user_id: UUID
}

/// `{user_id?, cursor?, limit?}` of the list functions.
struct PageArgs: Decodable {
    var user_id: UUID?
    var cursor: String?
    var limit: Int?

    func pageSize() throws -> Int {
        try PageSize.resolve(limit, default: 50, maximum: 200)
    }
}
