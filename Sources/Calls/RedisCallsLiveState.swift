import Foundation
import Redis
import Synchronization

/// The calls service's live state in Redis, shared by every instance on it (the server has
/// `REDIS_URL`): instances alive by a key that expires unless heartbeats renew it, device →
/// instance bindings, and rooms' peers with their version. Each change is one Lua script, so
/// it is atomic across instances as `calls.join_room` is in PostgreSQL; the rooms themselves
/// (call, mode, size limit, closed) stay in PostgreSQL (``CallsStore``), which is told when a
/// room closes here.
///
/// Keys, all under `ecomansoni:calls:` (docs/calls.md, "State in Redis"):
/// - `instance:<id>` a live instance (expires after ``CallsStore/instanceTimeoutSeconds``);
///   `instances` a sorted set of every instance by its last heartbeat (ms), for the sweep;
/// - `device:<id>` hash `user`, `instance` (kept 30 days from the last bind: a device id stays
///   its user's); `user-devices:<user>`, `instance-devices:<id>` sets of device ids;
/// - `room:<id>` hash `version`, `empty_since` (ms), `closed`; `room-peers:<id>` hash device →
///   `user|joined ms|instance`; `device-rooms:<device>` and `instance-peers:<id>`
///   (`room|device`) for leaving and sweeping; `empty-rooms` (by when they emptied) and
///   `closing` (closed here, not yet recorded in PostgreSQL) sorted sets.
///
/// A version is one more than the last and never below Redis's clock in microseconds, so
/// versions keep growing even when Redis lost a room (a restart without persistence). The
/// scripts reach keys they do not declare: one Redis server (a primary and its replicas),
/// not Redis Cluster.
struct RedisCallsLiveState: CallsLiveState {
    let client: RedisClient
    /// The rooms themselves.
    let rooms: CallsStore
    static let prefix = "ecomansoni:calls:"
    /// How long a device id stays bound to its user after its last connection.
    static let deviceKeepSeconds = 30 * 86_400
    /// Rooms at most handled by one sweep step (the rest wait for the next sweep).
    static let sweepBatch = 100
    /// How long a closed room's key stays to refuse late joins (PostgreSQL refuses them too).
    static let closedRoomKeepSeconds = 86_400
    /// Where the next sweep goes on through the open rooms whose token expired (by id), so
    /// rooms of long calls do not keep never-joined ones from being looked at.
    private let expiredRoomsCursor = ExpiredRoomsCursor()

    init(client: RedisClient, rooms: CallsStore) {
        self.client = client
        self.rooms = rooms
    }

    func heartbeat(instance: String) async throws -> Bool {
        let reply = try await client.evaluate(
            Self.heartbeatScript, keys: [], arguments: [Self.prefix, instance, String(CallsStore.instanceTimeoutSeconds * 1000)])
        return reply.int == 1
    }

    func bindDevice(_ deviceId: String, userId: UUID, instance: String) async throws -> Bool {
        let reply = try await client.evaluate(
            Self.bindScript, keys: [], arguments: [Self.prefix, deviceId, Self.text(userId), instance, String(Self.deviceKeepSeconds)])
        return reply.int == 1
    }

    func releaseDevice(_ deviceId: String, instance: String) async throws {
        _ = try await client.evaluate(Self.releaseScript, keys: [], arguments: [Self.prefix, deviceId, instance])
    }

    func retire(instance: String) async throws {
        _ = try await client.evaluate(Self.retireScript, keys: [], arguments: [Self.prefix, instance])
    }

    func onlineDevices(of userId: UUID) async throws -> [String] {
        let reply = try await client.evaluate(Self.onlineScript, keys: [], arguments: [Self.prefix, Self.text(userId)])
        return (reply.array ?? []).compactMap(\.string).sorted()
    }

    func join(roomId: UUID, deviceId: String, userId: UUID, instance: String) async throws(CallsError)
        -> (room: RoomState, others: [RoomPeer], me: RoomPeer)
    {
        let retry = CallsError(.internal, "the room could not be joined; retry")
        let found: (callId: UUID, mode: String, maxPeers: Int, closed: Bool)?
        do {
            found = try await rooms.room(roomId)
        } catch {
            throw retry
        }
        guard let room = found else { throw CallsError(.roomNotFound, "no room \(roomId)") }
        guard !room.closed else { throw CallsError(.roomClosed, "the room has closed") }
        let reply: RESPValue
        do {
            reply = try await client.evaluate(
                Self.joinScript, keys: [],
                arguments: [Self.prefix, Self.text(roomId), deviceId, Self.text(userId), instance, String(room.maxPeers)])
        } catch {
            throw retry
        }
        guard let parts = reply.array, let outcome = parts.first?.string else { throw retry }
        switch outcome {
        case "closed": throw CallsError(.roomClosed, "the room has closed")
        case "full": throw CallsError(.roomFull, "the room holds at most \(room.maxPeers) peers")
        case "ok": break
        default: throw retry
        }
        guard parts.count >= 3, let joined = parts[1].int, let version = parts[2].int, let others = Self.peers(parts.dropFirst(3))
        else { throw retry }
        let me = RoomPeer(userId: userId, deviceId: deviceId, joinedAt: joined)
        let all = Self.ordered(others + [me])
        return (RoomState(roomId: roomId, callId: room.callId, mode: room.mode, version: version, peers: all), others, me)
    }

    func leave(roomId: UUID, deviceId: String) async throws -> (version: Int64, remaining: [RoomPeer])? {
        let reply = try await client.evaluate(Self.leaveScript, keys: [], arguments: [Self.prefix, Self.text(roomId), deviceId])
        guard let parts = reply.array, let version = parts.first?.int else { return nil }
        guard let remaining = Self.peers(parts.dropFirst()) else { throw RedisError.protocolViolation("calls leave answered \(reply)") }
        return (version, remaining)
    }

    func members(of roomId: UUID) async throws -> (version: Int64, peers: [RoomPeer])? {
        let reply = try await client.evaluate(Self.membersScript, keys: [], arguments: [Self.prefix, Self.text(roomId)])
        guard let parts = reply.array, let version = parts.first?.int else {
            // Nobody has joined it yet (or Redis lost it): as created, when it exists.
            return try await rooms.room(roomId) == nil ? nil : (0, [])
        }
        guard let peers = Self.peers(parts.dropFirst()) else { throw RedisError.protocolViolation("calls members answered \(reply)") }
        return (version, peers)
    }

    func rooms(of deviceId: String, instance: String?) async throws -> [UUID] {
        let reply = try await client.evaluate(Self.roomsOfScript, keys: [], arguments: [Self.prefix, deviceId, instance ?? ""])
        return (reply.array ?? []).compactMap { $0.string.flatMap(UUID.init(uuidString:)) }
    }

    func sweep(linger: Duration) async throws -> [SweptPeer] {
        // Peers of instances whose key expired (or that retired).
        let reply = try await client.evaluate(
            Self.sweepInstancesScript, keys: [],
            arguments: [Self.prefix, String(CallsStore.instanceTimeoutSeconds * 1000), String(Self.sweepBatch)])
        var swept: [SweptPeer] = []
        for entry in reply.array ?? [] {
            guard let parts = entry.array, parts.count >= 5, let room = parts[0].string.flatMap(UUID.init(uuidString:)),
                let device = parts[1].string, let user = parts[2].string.flatMap(UUID.init(uuidString:)), let joined = parts[3].int,
                let version = parts[4].int, let remaining = Self.peers(parts.dropFirst(5))
            else { throw RedisError.protocolViolation("calls sweep answered \(entry)") }
            swept.append((room, RoomPeer(userId: user, deviceId: device, joinedAt: joined), version, remaining))
        }

        // Rooms nobody ever joined whose token expired, then rooms empty past the linger: closed
        // here first (joins check it atomically), then in PostgreSQL.
        let expired = try await rooms.openRoomsWithExpiredTokens(after: expiredRoomsCursor.position, limit: Self.sweepBatch)
        expiredRoomsCursor.position = expired.count < Self.sweepBatch ? nil : expired.last
        if !expired.isEmpty {
            _ = try await client.evaluate(
                Self.closeUnjoinedScript, keys: [], arguments: [Self.prefix, String(Self.closedRoomKeepSeconds)] + expired.map(Self.text))
        }
        let lingerMs = linger.components.seconds * 1000 + linger.components.attoseconds / 1_000_000_000_000_000
        let closing = try await client.evaluate(
            Self.closeIdleScript, keys: [],
            arguments: [Self.prefix, String(max(0, lingerMs)), String(Self.sweepBatch), String(Self.closedRoomKeepSeconds)])
        var closed: [(id: UUID, emptySinceMs: Int64?)] = []
        var names: [String] = []
        let pairs = closing.array ?? []
        for index in stride(from: 0, to: pairs.count - 1, by: 2) {
            guard let name = pairs[index].string, let room = UUID(uuidString: name) else { continue }
            // The score is when it emptied (ms), -1 for a room nobody joined.
            let since = pairs[index + 1].int
            closed.append((room, since.flatMap { $0 >= 0 ? $0 : nil }))
            names.append(name)
        }
        if !closed.isEmpty {
            try await rooms.close(rooms: closed)
            _ = try await client.send(["ZREM", Self.prefix + "closing"] + names)
        }
        return swept
    }

    func restore(instance: String, devices: [HeldDevice]) async throws {
        var arguments = [Self.prefix, instance, String(Self.deviceKeepSeconds)]
        for device in devices {
            arguments += [device.deviceId, Self.text(device.userId), String(device.rooms.count)] + device.rooms.map(Self.text)
        }
        _ = try await client.evaluate(Self.restoreScript, keys: [], arguments: arguments)
    }

    // MARK: Replies

    private static func text(_ id: UUID) -> String { id.uuidString.lowercased() }

    /// Peers from flattened `device, user, joined ms` triples, in the order of the room; nil
    /// when the reply is malformed.
    private static func peers(_ values: ArraySlice<RESPValue>) -> [RoomPeer]? {
        guard values.count % 3 == 0 else { return nil }
        var peers: [RoomPeer] = []
        var index = values.startIndex
        while index < values.endIndex {
            guard let device = values[index].string, let user = values[index + 1].string.flatMap(UUID.init(uuidString:)),
                let joined = values[index + 2].int
            else { return nil }
            peers.append(RoomPeer(userId: user, deviceId: device, joinedAt: joined))
            index += 3
        }
        return ordered(peers)
    }

    /// The order of a room: by joined time, then device id (as PostgreSQL orders them).
    private static func ordered(_ peers: [RoomPeer]) -> [RoomPeer] {
        peers.sorted { ($0.joinedAt, $0.deviceId) < ($1.joinedAt, $1.deviceId) }
    }
}

/// The last room id one sweep looked at (nil: start from the first).
final class ExpiredRoomsCursor: Sendable {
    private let value = Mutex<UUID?>(nil)

    var position: UUID? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
