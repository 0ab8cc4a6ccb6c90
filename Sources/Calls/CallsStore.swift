import Crypto
import Database
import Foundation
import PostgresNIO

/// A member of a room: one device of one user.
struct RoomPeer: Sendable, Hashable {
    var userId: UUID
    var deviceId: String
    var joinedAt: Int64

    var json: [String: Any] { ["userId": userId.uuidString.lowercased(), "deviceId": deviceId, "joinedAt": joinedAt] }
}

/// A room as the join answer describes it.
struct RoomState: Sendable {
    var roomId: UUID
    var callId: UUID
    var mode: String
    var version: Int64
    var peers: [RoomPeer]
}

/// Everything the calls service keeps in PostgreSQL, so every instance sees the same rooms:
/// the rooms themselves, the join-token key and relayed frames too large for the bus, and —
/// as the ``CallsLiveState`` of a server without Redis — device bindings, instances and room
/// membership. Works as the owning role (these tables have no grants).
struct CallsStore: CallsLiveState {
    let database: Database
    /// Instances not seen for this long are treated as gone.
    static let instanceTimeoutSeconds = 15

    /// The shared join-token key (created by the first instance).
    func signingKey() async throws -> SymmetricKey {
        let value = try await database.withOwner { connection in
            try await connection.execute(
                "INSERT INTO calls.secrets (name, value) VALUES ('join_token', $1) ON CONFLICT (name) DO NOTHING",
                [Data(SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }).base64EncodedString()])
            return try await connection.scalarText("SELECT value FROM calls.secrets WHERE name = 'join_token'", [])
        }
        return SymmetricKey(data: Data(base64Encoded: value ?? "") ?? Data())
    }

    /// Always true: PostgreSQL does not forget an instance's devices and rooms.
    func heartbeat(instance: String) async throws -> Bool {
        try await database.withOwner { connection in
            try await connection.execute(
                "INSERT INTO calls.instances (id, seen_at) VALUES ($1, now()) ON CONFLICT (id) DO UPDATE SET seen_at = now()", [instance])
        }
        return true
    }

    /// Binds `deviceId` to `userId` on `instance`; false when the device belongs to another user.
    func bindDevice(_ deviceId: String, userId: UUID, instance: String) async throws -> Bool {
        try await database.withOwner { connection in
            try await connection.exists("""
                INSERT INTO calls.devices (device_id, user_id, instance_id) VALUES ($1, $2, $3)
                ON CONFLICT (device_id) DO UPDATE SET instance_id = EXCLUDED.instance_id, updated_at = now()
                WHERE calls.devices.user_id = EXCLUDED.user_id
                RETURNING 1
                """, [deviceId, userId, instance])
        }
    }

    /// Marks the device offline unless another instance has taken it over meanwhile.
    func releaseDevice(_ deviceId: String, instance: String) async throws {
        try await database.withOwner { connection in
            try await connection.execute(
                "UPDATE calls.devices SET instance_id = NULL, updated_at = now() WHERE device_id = $1 AND instance_id = $2", [deviceId, instance])
        }
    }

    /// Takes a stopping instance out at once: its devices go offline and its row in
    /// `calls.instances` goes, so every sweep counts its peers as gone from then on.
    func retire(instance: String) async throws {
        try await database.withOwner { connection in
            try await connection.execute(
                "UPDATE calls.devices SET instance_id = NULL, updated_at = now() WHERE instance_id = $1", [instance])
            try await connection.execute("DELETE FROM calls.instances WHERE id = $1", [instance])
        }
    }

    /// The devices of `userId` held by a live instance.
    func onlineDevices(of userId: UUID) async throws -> [String] {
        try await database.withOwner { connection in
            var devices: [String] = []
            let rows = try await connection.rows("""
                SELECT d.device_id FROM calls.devices d JOIN calls.instances i ON i.id = d.instance_id
                WHERE d.user_id = $1 AND i.seen_at > now() - make_interval(secs => $2)
                ORDER BY d.device_id
                """, [userId, Self.instanceTimeoutSeconds])
            for try await device in rows.decode(String.self) { devices.append(device) }
            return devices
        }
    }

    /// Whether either user blocked the other.
    func blockedBetween(_ a: UUID, _ b: UUID) async throws -> Bool {
        try await database.withOwner { connection in
            try await connection.exists(
                "SELECT 1 FROM public.blocks WHERE (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1)", [a, b])
        }
    }

    func createRoom(
        id: UUID, callId: UUID, mode: String, createdBy: UUID, allowed: [UUID], conversationId: UUID?, maxPeers: Int, tokenExpiresAt: Int,
        videoCodec: String = "vp8"
    ) async throws {
        try await database.withOwner { connection in
            try await connection.execute("""
                INSERT INTO calls.rooms (id, call_id, mode, created_by, allowed_user_ids, conversation_id, max_peers, token_expires_at, video_codec)
                VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8), $9)
                """, [id, callId, mode, createdBy, allowed, conversationId, maxPeers, tokenExpiresAt, videoCodec])
        }
    }

    /// A room as created (nil: no such room), for a ``CallsLiveState`` that keeps membership
    /// elsewhere.
    func room(_ id: UUID) async throws -> (callId: UUID, mode: String, maxPeers: Int, closed: Bool)? {
        try await database.withStatement { connection in
            for try await (callId, mode, maxPeers, closed) in try await connection.execute(RoomRow(room: id), logger: database.logger) {
                return (callId, mode, maxPeers, closed)
            }
            return nil
        }
    }

    /// Who may join a room, its call and the conversation it belongs to (nil: no such room).
    func invitation(of id: UUID) async throws -> (callId: UUID, mode: String, allowed: [UUID], conversationId: UUID?, closed: Bool)? {
        try await database.withOwner { connection in
            let rows = try await connection.rows(
                "SELECT call_id, mode, allowed_user_ids, conversation_id, closed_at IS NOT NULL FROM calls.rooms WHERE id = $1", [id])
            for try await (call, mode, allowed, conversation, closed) in rows.decode((UUID, String, [UUID], UUID?, Bool).self) {
                return (call, mode, allowed, conversation, closed)
            }
            return nil
        }
    }

    /// Open rooms whose join token has expired, by id after `after` (at most `limit`): the
    /// ones to close if nobody ever joined them.
    func openRoomsWithExpiredTokens(after: UUID?, limit: Int) async throws -> [UUID] {
        try await database.withOwner { connection in
            var rooms: [UUID] = []
            let rows = try await connection.rows("""
                SELECT id FROM calls.rooms
                WHERE closed_at IS NULL AND token_expires_at < now() AND ($1::uuid IS NULL OR id > $1)
                ORDER BY id LIMIT $2
                """, [after, limit])
            for try await room in rows.decode(UUID.self) { rooms.append(room) }
            return rooms
        }
    }

    /// Records rooms closed elsewhere, each with when it emptied (milliseconds since the
    /// epoch; nil: never joined), which ends the calls in them (``CallOutcomeTracker``).
    func close(rooms: [(id: UUID, emptySinceMs: Int64?)]) async throws {
        guard !rooms.isEmpty else { return }
        try await database.withOwner { connection in
            try await connection.execute("""
                UPDATE calls.rooms r SET closed_at = now(),
                    empty_since = CASE WHEN c.empty_ms < 0 THEN NULL ELSE to_timestamp(c.empty_ms / 1000.0) END
                FROM unnest($1::uuid[], $2::bigint[]) AS c (id, empty_ms)
                WHERE r.id = c.id AND r.closed_at IS NULL
                """, [rooms.map(\.id), rooms.map { $0.emptySinceMs ?? -1 }])
        }
    }

    /// Adds the device to the room (a rejoin replaces its row) and returns the room with
    /// the peers that were already in it. One round trip: `calls.join_room` (migration 0010)
    /// locks the room's row (every membership change takes it first, so each `version` names
    /// exactly one peer list), reads the other peers, inserts unless the room is full and
    /// bumps the version, as one statement committed by itself.
    func join(roomId: UUID, deviceId: String, userId: UUID, instance: String) async throws(CallsError) -> (room: RoomState, others: [RoomPeer], me: RoomPeer) {
        let result: JoinRoom.Row?
        do {
            result = try await database.withStatement { connection in
                var result: JoinRoom.Row?
                for try await row in try await connection.execute(
                    JoinRoom(room: roomId, device: deviceId, user: userId, instance: instance), logger: database.logger)
                { result = row }
                return result
            }
        } catch {
            throw CallsError(.internal, "the room could not be joined; retry")
        }
        guard let (outcome, callId, mode, maxPeers, joined, version, users, devices, joinedAt) = result else {
            throw CallsError(.internal, "the room could not be joined; retry")
        }
        switch outcome {
        case "not_found": throw CallsError(.roomNotFound, "no room \(roomId)")
        case "closed": throw CallsError(.roomClosed, "the room has closed")
        case "full": throw CallsError(.roomFull, "the room holds at most \(maxPeers ?? 0) peers")
        default: break
        }
        guard outcome == "ok", let callId, let mode, let joined, let version, let users, let devices, let joinedAt,
            users.count == devices.count, users.count == joinedAt.count
        else { throw CallsError(.internal, "the room could not be joined; retry") }
        let others = Self.peers(users, devices, joinedAt)
        let me = RoomPeer(userId: userId, deviceId: deviceId, joinedAt: joined)
        let all = (others + [me]).sorted { ($0.joinedAt, $0.deviceId) < ($1.joinedAt, $1.deviceId) }
        return (RoomState(roomId: roomId, callId: callId, mode: mode, version: version, peers: all), others, me)
    }

    /// Removes the device from the room; returns the room's new version and the peers that
    /// remain (nil if it was not in it).
    func leave(roomId: UUID, deviceId: String) async throws -> (version: Int64, remaining: [RoomPeer])? {
        try await database.withOwner { connection in
            try await removePeer(connection, roomId, deviceId, instance: nil)
        }
    }

    /// The room's peers and version, read in one statement (nil: no such room).
    func members(of roomId: UUID) async throws -> (version: Int64, peers: [RoomPeer])? {
        try await database.withOwner { connection in
            for try await (version, users, devices, joinedAt) in try await connection.execute(RoomMembers(room: roomId), logger: database.logger)
            {
                guard users.count == devices.count, users.count == joinedAt.count else { return nil }
                return (version, Self.peers(users, devices, joinedAt))
            }
            return nil
        }
    }

    /// Peers as three arrays in the order of the room (no peers: empty arrays).
    static let peerArrays = """
        coalesce(array_agg(user_id ORDER BY joined_at, device_id) FILTER (WHERE device_id IS NOT NULL), '{}'),
        coalesce(array_agg(device_id ORDER BY joined_at, device_id) FILTER (WHERE device_id IS NOT NULL), '{}'),
        coalesce(array_agg((extract(epoch FROM joined_at) * 1000)::bigint ORDER BY joined_at, device_id)
            FILTER (WHERE device_id IS NOT NULL), '{}')
        """

    private static func peers(_ users: [UUID], _ devices: [String], _ joinedAt: [Int64]) -> [RoomPeer] {
        zip(zip(users, devices), joinedAt).map { RoomPeer(userId: $0.0, deviceId: $0.1, joinedAt: $1) }
    }

    /// Takes a device out of a room under the room's lock (only its row of `instance`, when
    /// given): the new version and the remaining peers, or nil when it was not there.
    private func removePeer(_ connection: PostgresConnection, _ roomId: UUID, _ deviceId: String, instance: String?) async throws
        -> (version: Int64, remaining: [RoomPeer])?
    {
        for try await _ in try await connection.execute(LockRoom(room: roomId), logger: database.logger) {}
        for try await (version, users, devices, joinedAt) in try await connection.rows("""
            WITH del AS (
                DELETE FROM calls.room_peers WHERE room_id = $1 AND device_id = $2 AND ($3::text IS NULL OR instance_id = $3)
                RETURNING 1),
            rest AS (
                SELECT user_id, device_id, joined_at FROM calls.room_peers WHERE room_id = $1 AND device_id <> $2),
            bump AS (
                UPDATE calls.rooms SET version = version + 1,
                    empty_since = CASE WHEN EXISTS (SELECT 1 FROM rest) THEN NULL ELSE now() END
                WHERE id = $1 AND EXISTS (SELECT 1 FROM del) RETURNING version::bigint AS version)
            SELECT (SELECT version FROM bump), \(Self.peerArrays)
            FROM rest
            """, [roomId, deviceId, instance]).decode((Int64?, [UUID], [String], [Int64]).self)
        {
            guard let version, users.count == devices.count, users.count == joinedAt.count else { return nil }
            return (version, Self.peers(users, devices, joinedAt))
        }
        return nil
    }

    /// The rooms a device is in (only those it joined through `instance`, when given).
    func rooms(of deviceId: String, instance: String?) async throws -> [UUID] {
        try await database.withOwner { connection in
            var rooms: [UUID] = []
            let rows = try await connection.rows(
                "SELECT room_id FROM calls.room_peers WHERE device_id = $1 AND ($2::text IS NULL OR instance_id = $2)", [deviceId, instance])
            for try await room in rows.decode(UUID.self) {
                rooms.append(room)
            }
            return rooms
        }
    }

    /// Closes rooms empty for longer than `linger` (and never-joined rooms whose token
    /// expired); removes peers of dead instances (each under its room's lock, rooms in id
    /// order) and returns them with the room's new version for PEER_LEFT.
    func sweep(linger: Duration) async throws -> [SweptPeer] {
        try await database.withOwner { connection in
            var gone: [(UUID, RoomPeer, String)] = []
            let rows = try await connection.rows("""
                SELECT p.room_id, p.user_id, p.device_id, (extract(epoch FROM p.joined_at) * 1000)::bigint, p.instance_id
                FROM calls.room_peers p
                WHERE NOT EXISTS (SELECT 1 FROM calls.instances i WHERE i.id = p.instance_id AND i.seen_at > now() - make_interval(secs => $1))
                ORDER BY p.room_id, p.device_id
                """, [Self.instanceTimeoutSeconds])
            for try await (room, user, device, joined, instance) in rows.decode((UUID, UUID, String, Int64, String).self) {
                gone.append((room, RoomPeer(userId: user, deviceId: device, joinedAt: joined), instance))
            }
            var result: [(UUID, RoomPeer, Int64, [RoomPeer])] = []
            for (room, peer, instance) in gone {
                // Only the dead instance's row: the device may have joined again elsewhere since.
                if let (version, remaining) = try await removePeer(connection, room, peer.deviceId, instance: instance) {
                    result.append((room, peer, version, remaining))
                }
            }
            try await connection.execute("""
                UPDATE calls.rooms r SET closed_at = now()
                WHERE r.closed_at IS NULL
                  AND NOT EXISTS (SELECT 1 FROM calls.room_peers p WHERE p.room_id = r.id)
                  AND ((r.empty_since IS NOT NULL AND r.empty_since < now() - make_interval(secs => $1))
                       OR (r.empty_since IS NULL AND r.token_expires_at < now()))
                """, [Double(linger.components.seconds) + Double(linger.components.attoseconds) / 1e18])
            try await connection.execute("UPDATE calls.devices SET instance_id = NULL WHERE instance_id IN (SELECT id FROM calls.instances WHERE seen_at < now() - make_interval(secs => $1))", [Self.instanceTimeoutSeconds])
            try await connection.execute("DELETE FROM calls.relay_payloads WHERE created_at < now() - interval '5 minutes'", [])
            return result
        }
    }

    /// Stores a frame too large for a NOTIFY payload; returns its id.
    func spill(_ payload: String) async throws -> UUID {
        try await database.withOwner { connection in
            let id = UUID()
            try await connection.execute("INSERT INTO calls.relay_payloads (id, payload) VALUES ($1, $2)", [id, payload])
            return id
        }
    }

    func spilled(_ id: UUID) async throws -> String? {
        try await database.withOwner { connection in
            try await connection.scalarText("SELECT payload FROM calls.relay_payloads WHERE id = $1", [id])
        }
    }
}

// MARK: Prepared statements
//
// The statements of every join, leave and membership read, prepared once per pooled
// connection: PostgreSQL neither parses nor plans them again, and the server skips the
// parameter and row descriptions of each execution.

/// Locks a room's row for a membership change (a leave, the sweep), so each version of the
/// room names exactly one peer list.
struct LockRoom: PostgresPreparedStatement {
    /// Spelled out: the library's default, `String(reflecting:)`, is worked out on every execution.
    static let name = "Calls.LockRoom"
    static let sql = """
        SELECT call_id, mode, max_peers, closed_at IS NOT NULL
        FROM calls.rooms WHERE id = $1 FOR UPDATE
        """
    typealias Row = (UUID, String, Int, Bool)
    var room: UUID

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(room)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// A room as created: call, mode, size limit, closed.
struct RoomRow: PostgresPreparedStatement {
    /// Spelled out: the library's default, `String(reflecting:)`, is worked out on every execution.
    static let name = "Calls.RoomRow"
    static let sql = "SELECT call_id, mode, max_peers, closed_at IS NOT NULL FROM calls.rooms WHERE id = $1"
    typealias Row = (UUID, String, Int, Bool)
    var room: UUID

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(room)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// A join (`calls.join_room`, migration 0010): the outcome ('ok', 'not_found', 'closed',
/// 'full'), the room, the device's joined time and the room's new version ('ok' only), the
/// other peers.
struct JoinRoom: PostgresPreparedStatement {
    /// Spelled out: the library's default, `String(reflecting:)`, is worked out on every execution.
    static let name = "Calls.JoinRoom"
    static let sql = """
        SELECT outcome, room_call_id, room_mode, room_max_peers, peer_joined_ms, room_version,
            other_user_ids, other_device_ids, other_joined_ms
        FROM calls.join_room($1, $2, $3, $4)
        """
    typealias Row = (String, UUID?, String?, Int?, Int64?, Int64?, [UUID]?, [String]?, [Int64]?)
    var room: UUID
    var device: String
    var user: UUID
    var instance: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(room)
        bindings.append(device)
        bindings.append(user)
        bindings.append(instance)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// A room's version and peers in one snapshot (no row: no such room).
struct RoomMembers: PostgresPreparedStatement {
    /// Spelled out: the library's default, `String(reflecting:)`, is worked out on every execution.
    static let name = "Calls.RoomMembers"
    static let sql = """
        SELECT r.version::bigint,
        """ + CallsStore.peerArrays + """

        FROM calls.rooms r LEFT JOIN calls.room_peers p ON p.room_id = r.id
        WHERE r.id = $1 GROUP BY r.version
        """
    typealias Row = (Int64, [UUID], [String], [Int64])
    var room: UUID

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(room)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}
