import Core
import Database
import Foundation
import PostgresNIO

/// Profiles, follows and blocks. Every query runs as the caller under row-level security;
/// the rules are also checked here so clients get precise errors.
public struct SocialService: Sendable {
    let database: Database
    /// Signs and verifies the list cursors.
    let cursors: CursorCodec

    public init(database: Database) {
        self.database = database
        self.cursors = CursorCodec(database: database)
    }

    /// The caller's own profile as `get_my_profile` returns it: the public fields, the phone
    /// and the private settings (never shown to anyone else).
    private static let ownProfileSQL = """
        SELECT (\(ProfileSQL.publicJSON("p"))::jsonb || jsonb_build_object(
            'phone', auth.my_phone(), 'updated_at', p.updated_at,
            'who_can_add_to_groups', coalesce((SELECT s.who_can_add_to_groups FROM public.profile_settings s WHERE s.user_id = p.id), 'everyone')))::text
        FROM public.profiles p WHERE p.id = $1
        """


    // MARK: Profiles

    /// The caller's own profile, including their phone number.
    func myProfile(_ caller: Caller) async throws -> Data {
        let userID = try caller.requireUser()
        return try await database.withCaller(caller) { connection in
            try await connection.jsonText(Self.ownProfileSQL, [userID]) ?? { throw APIError.notFound("profile not found") }()
        }
    }

    /// Applies the given changes to the caller's profile and returns it.
    func updateMyProfile(_ caller: Caller, _ changes: ProfileChanges) async throws -> Data {
        let userID = try caller.requireUser()
        guard !changes.isEmpty else { return try await myProfile(caller) }
        return try await database.withCaller(caller) { connection in
            var assignments: [String] = []
            var values: [(any PostgresEncodable & Sendable)?] = [userID]
            func set(_ column: String, _ value: any PostgresEncodable & Sendable) {
                values.append(value)
                assignments.append("\(column) = $\(values.count)")
            }
            if let username = changes.username { set("username", username) }
            if let displayName = changes.displayName { set("display_name", displayName) }
            if let bio = changes.bio { set("bio", bio) }
            switch changes.avatarURL {
            case .some(.some(let url)): set("avatar_url", url)
            case .some(.none): assignments.append("avatar_url = NULL")
            case .none: break
            }
            if let isPrivate = changes.isPrivate { set("is_private", isPrivate) }
            assignments.append("updated_at = now()")
            do {
                try await connection.execute("UPDATE public.profiles SET \(assignments.joined(separator: ", ")) WHERE id = $1", values)
            } catch where PostgresErrorText.sqlState(error) == "23505" {
                throw APIError(status: .conflict, code: "23505", message: "username: is already taken", details: "choose another username")
            }
            if let groupAdds = changes.whoCanAddToGroups {
                try await connection.execute("""
                    INSERT INTO public.profile_settings (user_id, who_can_add_to_groups) VALUES ($1, $2)
                    ON CONFLICT (user_id) DO UPDATE SET who_can_add_to_groups = EXCLUDED.who_can_add_to_groups, updated_at = now()
                    """, [userID, groupAdds.rawValue])
            }
            if changes.isPrivate == false {
                // Going public accepts everyone who asked.
                try await connection.execute("UPDATE public.follows SET status = 'accepted' WHERE following_id = $1 AND status = 'pending'", [userID])
            }
            return try await connection.jsonText(Self.ownProfileSQL, [userID]) ?? { throw APIError.notFound("profile not found") }()
        }
    }

    /// Whether a username is free (for checking as the user types).
    func usernameAvailability(_ caller: Caller, username: String) async throws -> Data {
        let userID = try caller.requireUser()
        if let problem = ProfileRules.usernameProblem(username) {
            return try JSONBody.encoder.encode(["available": .bool(false), "reason": JSONValue.string(problem)])
        }
        let normalised = username.lowercased()
        let taken = try await database.withOwner { connection in
            try await connection.exists("SELECT 1 FROM public.profiles WHERE username = $1 AND id <> $2", [normalised, userID])
        }
        return try JSONBody.encoder.encode([
            "available": JSONValue.bool(!taken), "reason": taken ? .string("is already taken") : .null,
        ])
    }

    /// Someone's public profile with counts and the caller's relationship to them.
    func profile(_ caller: Caller, userID: UUID?, username: String?) async throws -> Data {
        let me = try caller.requireUser()
        return try await database.withCaller(caller) { connection in
            let condition = userID != nil ? "p.id = $2" : "p.username = $2"
            let key: any PostgresEncodable & Sendable = userID.map { $0 as any PostgresEncodable & Sendable } ?? (username ?? "").lowercased()
            let sql = """
                SELECT (\(ProfileSQL.publicJSON("p"))::jsonb || jsonb_build_object(
                    'followers_count', (public.follow_counts(p.id)).followers,
                    'following_count', (public.follow_counts(p.id)).following,
                    'relationship', jsonb_build_object(
                        'is_self', p.id = $1,
                        'following', coalesce((SELECT f.status FROM public.follows f WHERE f.follower_id = $1 AND f.following_id = p.id), 'none'),
                        'followed_by', EXISTS (SELECT 1 FROM public.follows f WHERE f.follower_id = p.id AND f.following_id = $1 AND f.status = 'accepted'),
                        'blocked', EXISTS (SELECT 1 FROM public.blocks b WHERE b.blocker_id = $1 AND b.blocked_id = p.id),
                        'can_see_connections', public.can_see_connections(p.id))))::text
                FROM public.profiles p WHERE \(condition)
                """
            return try await connection.jsonText(sql, [me, key]) ?? { throw APIError.notFound("profile not found") }()
        }
    }

    /// Profiles whose username or display name starts with `query`.
    func search(_ caller: Caller, query: String, limit: Int) async throws -> Data {
        let me = try caller.requireUser()
        let pattern = ProfileRules.likePrefix(query.lowercased())
        return try await database.withCaller(caller) { connection in
            try await connection.jsonText("""
                SELECT coalesce(json_agg(x.profile ORDER BY x.exact DESC, x.username), '[]')::text FROM (
                    SELECT \(ProfileSQL.publicJSON("p")) AS profile, p.username, p.username = $3 AS exact
                    FROM public.profiles p
                    WHERE p.id <> $1 AND p.username IS NOT NULL
                      AND (p.username LIKE $2 OR lower(p.display_name) LIKE $2)
                    ORDER BY p.username = $3 DESC, p.username
                    LIMIT $4
                ) x
                """, [me, pattern, query.lowercased(), limit]) ?? Data("[]".utf8)
        }
    }

    // MARK: Follows

    /// Follows `target` (a request if the account is private); idempotent.
    func follow(_ caller: Caller, target: UUID) async throws -> Data {
        let me = try caller.requireUser()
        guard me != target else { throw APIError.invalidField("target_user_id", "must not be yourself") }
        return try await database.withCaller(caller) { connection in
            // The block check comes first: a blocker is invisible to the user they blocked.
            if try await connection.exists("SELECT 1 WHERE public.is_blocked_between($1, $2)", [me, target]) {
                throw APIError.forbidden("cannot follow this user: one of you has blocked the other")
            }
            try await requireVisible(connection, target)
            try await connection.execute("""
                INSERT INTO public.follows (follower_id, following_id, status)
                VALUES ($1, $2, public.initial_follow_status($2)) ON CONFLICT DO NOTHING
                """, [me, target])
            let status = try await connection.scalarText("SELECT status FROM public.follows WHERE follower_id = $1 AND following_id = $2", [me, target])
            return try JSONBody.encoder.encode(["status": status ?? "none"])
        }
    }

    /// Stops following `target` (or withdraws a pending request); idempotent.
    func unfollow(_ caller: Caller, target: UUID) async throws -> Data {
        let me = try caller.requireUser()
        try await database.withCaller(caller) { connection in
            try await connection.execute("DELETE FROM public.follows WHERE follower_id = $1 AND following_id = $2", [me, target])
        }
        return try JSONBody.encoder.encode(["status": "none"])
    }

    /// Accepts or declines a pending request from `follower`.
    func respond(_ caller: Caller, follower: UUID, accept: Bool) async throws -> Data {
        let me = try caller.requireUser()
        return try await database.withCaller(caller) { connection in
            let sql = accept
                ? "UPDATE public.follows SET status = 'accepted' WHERE follower_id = $1 AND following_id = $2 AND status = 'pending' RETURNING 1"
                : "DELETE FROM public.follows WHERE follower_id = $1 AND following_id = $2 AND status = 'pending' RETURNING 1"
            guard try await connection.exists(sql, [follower, me]) else {
                throw APIError.notFound("no pending follow request from this user")
            }
            return try JSONBody.encoder.encode(["status": accept ? "accepted" : "declined"])
        }
    }

    /// Which side of the follow relation a list shows.
    enum Direction: Sendable {
        case followers, following, requests
    }

    /// A page of followers / followed accounts / pending requests, newest first.
    func list(_ caller: Caller, direction: Direction, owner: UUID?, cursor: KeysetCursor?, limit: Int) async throws -> Data {
        let me = try caller.requireUser()
        let owner = owner ?? me
        return try await database.withCaller(caller) { connection in
            if direction != .requests {
                try await requireVisible(connection, owner)
                guard try await connection.exists("SELECT 1 WHERE public.can_see_connections($1)", [owner]) else {
                    throw APIError.forbidden("this account is private: follow it to see its connections")
                }
            }
            let (ownerColumn, otherColumn, status) = switch direction {
            case .followers: ("following_id", "follower_id", "accepted")
            case .following: ("follower_id", "following_id", "accepted")
            case .requests: ("following_id", "follower_id", "pending")
            }
            var values: [(any PostgresEncodable & Sendable)?] = [owner, status, limit + 1]
            let keyset = Page.after(cursor, time: "f.created_at", id: "f.\(otherColumn)", values: &values)
            let rows = try await connection.query(PostgresQuery(unsafeSQL: """
                SELECT (\(ProfileSQL.publicJSON("p"))::jsonb || jsonb_build_object('followed_at', f.created_at))::text, f.created_at::text, p.id
                FROM public.follows f JOIN public.profiles p ON p.id = f.\(otherColumn)
                WHERE f.\(ownerColumn) = $1 AND f.status = $2 \(keyset)
                ORDER BY f.created_at DESC, f.\(otherColumn) DESC
                LIMIT $3
                """, binds: try PostgresBindings(values)), logger: database.logger)
            return try await Page.collect(rows, limit: limit, cursors: cursors)
        }
    }

    // MARK: Blocks

    /// Blocks `target`: ends follows both ways and hides the caller from them.
    func block(_ caller: Caller, target: UUID) async throws -> Data {
        let me = try caller.requireUser()
        guard me != target else { throw APIError.invalidField("target_user_id", "must not be yourself") }
        return try await database.withCaller(caller) { connection in
            // A user who blocked the caller is invisible to them, but can still be blocked back.
            let visible = try await connection.exists("SELECT 1 FROM public.profiles WHERE id = $1", [target])
            let blockedMe = try await connection.exists("SELECT 1 WHERE public.has_blocked($2, $1)", [me, target])
            guard visible || blockedMe else {
                throw APIError.notFound("profile not found")
            }
            try await connection.execute("INSERT INTO public.blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [me, target])
            try await connection.execute("""
                DELETE FROM public.follows
                WHERE (follower_id = $1 AND following_id = $2) OR (follower_id = $2 AND following_id = $1)
                """, [me, target])
            return try JSONBody.encoder.encode(["blocked": true])
        }
    }

    /// Lifts a block; idempotent.
    func unblock(_ caller: Caller, target: UUID) async throws -> Data {
        let me = try caller.requireUser()
        try await database.withCaller(caller) { connection in
            try await connection.execute("DELETE FROM public.blocks WHERE blocker_id = $1 AND blocked_id = $2", [me, target])
        }
        return try JSONBody.encoder.encode(["blocked": false])
    }

    /// A page of the accounts the caller has blocked, newest first.
    func blocked(_ caller: Caller, cursor: KeysetCursor?, limit: Int) async throws -> Data {
        let me = try caller.requireUser()
        return try await database.withCaller(caller) { connection in
            var values: [(any PostgresEncodable & Sendable)?] = [me, limit + 1]
            let keyset = Page.after(cursor, time: "b.created_at", id: "b.blocked_id", values: &values)
            // The blocked user's profile is read as the owner would see it: a block does not
            // hide the blocked user from the blocker.
            let rows = try await connection.query(PostgresQuery(unsafeSQL: """
                SELECT (\(ProfileSQL.publicJSON("p"))::jsonb || jsonb_build_object('blocked_at', b.created_at))::text, b.created_at::text, p.id
                FROM public.blocks b JOIN public.profiles p ON p.id = b.blocked_id
                WHERE b.blocker_id = $1 \(keyset)
                ORDER BY b.created_at DESC, b.blocked_id DESC
                LIMIT $2
                """, binds: try PostgresBindings(values)), logger: database.logger)
            return try await Page.collect(rows, limit: limit, cursors: cursors)
        }
    }

    // MARK: Helpers

    /// 404 unless the profile exists and is visible to the caller (blockers are not).
    private func requireVisible(_ connection: PostgresConnection, _ userID: UUID) async throws {
        guard try await connection.exists("SELECT 1 FROM public.profiles WHERE id = $1", [userID]) else {
            throw APIError.notFound("profile not found")
        }
    }

}

/// The profile fields a user may change; `nil` means "leave as is".
struct ProfileChanges: Sendable {
    var username: String?
    var displayName: String?
    var bio: String?
    /// `.some(nil)` clears the avatar.
    var avatarURL: String??
    var isPrivate: Bool?
    var whoCanAddToGroups: GroupAddPolicy?

    var isEmpty: Bool {
        username == nil && displayName == nil && bio == nil && avatarURL == nil && isPrivate == nil && whoCanAddToGroups == nil
    }
}
