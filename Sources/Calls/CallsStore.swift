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

/// Everything the calls service keeps in PostgreSQL, so every instance sees the same rooms,
/// device bindings and presence. Works as the owning role (these tables have no grants).
struct CallsStore: Sendable {
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

    func heartbeat(instance: String) async throws {
        try await database.withOwner { connection in
            try await connection.execute(
                "INSERT INTO calls.instances (id, seen_at) VALUES ($1, now()) ON CONFLICT (id) DO UPDATE SET seen_at = now()", [instance])
        }
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
        id: UUID, callId: UUID, mode: String, createdBy: UUID, allowed: [UUID], conversationId: UUID?, maxPeers: Int, tokenExpiresAt: Int
    ) async throws {
        try await database.withOwner { connection in
            try await connection.execute("""
                INSERT INTO calls.rooms (id, call_id, mode, created_by, allowed_user_ids, conversation_id, max_peers, token_expires_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8))
                """, [id, callId, mode, createdBy, allowed, conversationId, maxPeers, tokenExpiresAt])
        }
    }

    /// Adds the device to the room (a rejoin replaces its row) and returns the room with
    /// the peers that were already in it.
    func join(roomId: UUID, deviceId: String, userId: UUID, instance: String) async throws(CallsError) -> (room: RoomState, others: [RoomPeer], me: RoomPeer) {
        do {
            return try await database.withOwner { connection in
                var found: (UUID, String, Int, Bool)?
                for try await row in try await connection.rows(
                    "SELECT call_id, mode, max_peers, closed_at IS NOT NULL FROM calls.rooms WHERE id = $1 FOR UPDATE", [roomId]
                ).decode((UUID, String, Int, Bool).self) { found = row }
                guard let (callId, mode, maxPeers, closed) = found else { throw CallsError(.roomNotFound, "no room \(roomId)") }
                guard !closed else { throw CallsError(.roomClosed, "the room has closed") }
                var others = try await peers(connection, roomId).filter { $0.deviceId != deviceId }
                others.sort { $0.joinedAt < $1.joinedAt }
                guard others.count < maxPeers else { throw CallsError(.roomFull, "the room holds at most \(maxPeers) peers") }
                try await connection.execute("""
                    INSERT INTO calls.room_peers (room_id, device_id, user_id, instance_id) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (room_id, device_id) DO UPDATE SET user_id = EXCLUDED.user_id, instance_id = EXCLUDED.instance_id, joined_at = now()
                    """, [roomId, deviceId, userId, instance])
                let version = try await bump(connection, roomId, empty: false)
                let all = try await peers(connection, roomId)
                let me = all.first { $0.deviceId == deviceId } ?? RoomPeer(userId: userId, deviceId: deviceId, joinedAt: OutboundFrame.now())
                return (RoomState(roomId: roomId, callId: callId, mode: mode, version: version, peers: all), others, me)
            }
        } catch let error as CallsError {
            throw error
        } catch {
            throw CallsError(.internal, "the room could not be joined; retry")
        }
    }

    /// Removes the device from the room; returns the peers that remain (nil if it was not in it).
    func leave(roomId: UUID, deviceId: String) async throws -> [RoomPeer]? {
        try await database.withOwner { connection in
            guard try await connection.exists("DELETE FROM calls.room_peers WHERE room_id = $1 AND device_id = $2 RETURNING 1", [roomId, deviceId]) else {
                return nil
            }
            let remaining = try await peers(connection, roomId)
            _ = try await bump(connection, roomId, empty: remaining.isEmpty)
            return remaining
        }
    }

    func peers(of roomId: UUID) async throws -> [RoomPeer] {
        try await database.withOwner { connection in try await peers(connection, roomId) }
    }

    /// The rooms a device is in (only those it joined through `instance`, when given).
    func rooms(of deviceId: String, instance: String? = nil) async throws -> [UUID] {
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
    /// expired); removes peers of dead instances and returns them for PEER_LEFT.
    func sweep(linger: Duration) async throws -> [(room: UUID, peer: RoomPeer, remaining: [RoomPeer])] {
        try await database.withOwner { connection in
            var gone: [(UUID, RoomPeer)] = []
            let rows = try await connection.rows("""
                DELETE FROM calls.room_peers p
                WHERE NOT EXISTS (SELECT 1 FROM calls.instances i WHERE i.id = p.instance_id AND i.seen_at > now() - make_interval(secs => $1))
                RETURNING p.room_id, p.user_id, p.device_id, (extract(epoch FROM p.joined_at) * 1000)::bigint
                """, [Self.instanceTimeoutSeconds])
            for try await (room, user, device, joined) in rows.decode((UUID, UUID, String, Int64).self) {
                gone.append((room, RoomPeer(userId: user, deviceId: device, joinedAt: joined)))
            }
            var result: [(UUID, RoomPeer, [RoomPeer])] = []
            for (room, peer) in gone {
                let remaining = try await peers(connection, room)
                _ = try await bump(connection, room, empty: remaining.isEmpty)
                result.append((room, peer, remaining))
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

    private func peers(_ connection: PostgresConnection, _ roomId: UUID) async throws -> [RoomPeer] {
        var peers: [RoomPeer] = []
        let rows = try await connection.rows("""
            SELECT user_id, device_id, (extract(epoch FROM joined_at) * 1000)::bigint FROM calls.room_peers
            WHERE room_id = $1 ORDER BY joined_at, device_id
            """, [roomId])
        for try await (user, device, joined) in rows.decode((UUID, String, Int64).self) {
            peers.append(RoomPeer(userId: user, deviceId: device, joinedAt: joined))
        }
        return peers
    }

    /// Increments the room's version and records whether it is now empty.
    private func bump(_ connection: PostgresConnection, _ roomId: UUID, empty: Bool) async throws -> Int64 {
        let text = try await connection.scalarText("""
            UPDATE calls.rooms SET version = version + 1, empty_since = CASE WHEN $2 THEN now() ELSE NULL END
            WHERE id = $1 RETURNING version::text
            """, [roomId, empty])
        return Int64(text ?? "0") ?? 0
    }
}
