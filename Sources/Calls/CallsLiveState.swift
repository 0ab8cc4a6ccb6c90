import Foundation

/// A peer taken out of a room by the sweep (its instance vanished): the room's new version and
/// the peers that remain, for PEER_LEFT.
typealias SweptPeer = (room: UUID, peer: RoomPeer, version: Int64, remaining: [RoomPeer])

/// What the calls service keeps only while devices are connected, shared by every instance:
/// which instance holds each device (so an invite reaches it), which instances are alive,
/// and who is in each room with the room's version. Kept in PostgreSQL (``CallsStore``) or,
/// when the server has Redis, in Redis (``RedisCallsLiveState``); the rooms themselves, the
/// join-token key and call outcomes stay in PostgreSQL either way.
protocol CallsLiveState: Sendable {
    /// Marks `instance` alive for ``CallsStore/instanceTimeoutSeconds``. Returns false when the
    /// store had forgotten it (it was taken for dead, or the store lost its data): the caller
    /// then binds its devices and rooms again with ``restore(instance:devices:)``.
    func heartbeat(instance: String) async throws -> Bool

    /// Binds `deviceId` to `userId` on `instance`; false when the device belongs to another user.
    func bindDevice(_ deviceId: String, userId: UUID, instance: String) async throws -> Bool

    /// Marks the device offline unless another instance has taken it over meanwhile.
    func releaseDevice(_ deviceId: String, instance: String) async throws

    /// Takes a stopping instance out at once: its devices go offline, and the next sweep of
    /// any instance takes its peers out of their rooms.
    func retire(instance: String) async throws

    /// The devices of `userId` held by a live instance, sorted.
    func onlineDevices(of userId: UUID) async throws -> [String]

    /// Adds the device to an open room (a rejoin replaces its entry and a new joined time),
    /// unless the room is full; returns the room with every peer, the others and the device.
    func join(roomId: UUID, deviceId: String, userId: UUID, instance: String) async throws(CallsError)
        -> (room: RoomState, others: [RoomPeer], me: RoomPeer)

    /// Removes the device from the room: the room's new version and the peers that remain
    /// (nil when it was not in it).
    func leave(roomId: UUID, deviceId: String) async throws -> (version: Int64, remaining: [RoomPeer])?

    /// The room's version and peers in one snapshot (nil: no such room).
    func members(of roomId: UUID) async throws -> (version: Int64, peers: [RoomPeer])?

    /// The rooms a device is in (only those it joined through `instance`, when given).
    func rooms(of deviceId: String, instance: String?) async throws -> [UUID]

    /// Closes rooms empty for longer than `linger` (and never-joined rooms whose join token
    /// expired), and takes the peers of vanished instances out of their rooms, returning them.
    func sweep(linger: Duration) async throws -> [SweptPeer]

    /// Binds the devices `instance` holds again, and puts them back into the open rooms their
    /// sessions are in, after ``heartbeat(instance:)`` said the store had forgotten them.
    func restore(instance: String, devices: [HeldDevice]) async throws
}

extension CallsLiveState {
    /// A store that never forgets (PostgreSQL) has nothing to restore.
    func restore(instance: String, devices: [HeldDevice]) async throws {}
}

/// A device an instance holds, with the rooms its session is in, for ``CallsLiveState``
/// implementations that can lose what they keep (Redis without persistence).
struct HeldDevice: Sendable {
    var deviceId: String
    var userId: UUID
    var rooms: [UUID]
}
