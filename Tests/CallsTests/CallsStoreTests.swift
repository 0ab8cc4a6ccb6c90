@testable import Calls
import Database
import Foundation
import Testing
import TestSupport

/// Where the live state under test is kept.
enum LiveBackend: String, CaseIterable, Sendable {
    case postgres, redis
}

/// Rooms, peers and presence as every instance sees them: in PostgreSQL, or in Redis (a real
/// `redis-server` per test) with the rooms themselves in PostgreSQL. Every behaviour is
/// checked on both.
@Suite struct CallsStoreTests {
    static func user(_ database: Database) async throws -> UUID {
        try await database.withOwner { connection in
            let phone = TestPhone.unique()
            for try await id in try await connection.rows("INSERT INTO auth.users (phone) VALUES ($1) RETURNING id", [phone]).decode(UUID.self) {
                return id
            }
            throw CallsError(.internal, "no user")
        }
    }

    /// A fresh database, and the live state of `backend` over it.
    static func withLiveState(
        _ backend: LiveBackend, _ body: @escaping @Sendable (Database, CallsStore, any CallsLiveState) async throws -> Void
    ) async throws {
        try await TestDatabase.withDatabase { database in
            let store = CallsStore(database: database)
            switch backend {
            case .postgres:
                try await body(database, store, store)
            case .redis:
                try await withRedisServer { server in
                    try await withClient(server.url) { client in
                        try await body(database, store, RedisCallsLiveState(client: client, rooms: store))
                    }
                }
            }
        }
    }

    static func room(_ store: CallsStore, owner: UUID, allowed: [UUID], maxPeers: Int, mode: String = "p2p", expiresIn: Int = 600) async throws -> UUID {
        let room = UUID()
        try await store.createRoom(
            id: room, callId: UUID(), mode: mode, createdBy: owner, allowed: allowed, conversationId: nil, maxPeers: maxPeers,
            tokenExpiresAt: Int(Date().timeIntervalSince1970) + expiresIn)
        return room
    }

    @Test(arguments: LiveBackend.allCases) func joinLeaveFullAndClose(_ backend: LiveBackend) async throws {
        try await Self.withLiveState(backend) { database, store, live in
            #expect(try await live.heartbeat(instance: "a") == (backend == .postgres))
            let alice = try await Self.user(database)
            let bob = try await Self.user(database)
            let room = try await Self.room(store, owner: alice, allowed: [alice, bob], maxPeers: 2)
            let created = try await live.members(of: room)
            #expect(created?.peers.isEmpty == true)

            let first = try await live.join(roomId: room, deviceId: "a1", userId: alice, instance: "a")
            #expect(first.others.isEmpty)
            #expect(first.room.peers.map(\.deviceId) == ["a1"])
            #expect(first.room.version > created?.version ?? .max)
            let second = try await live.join(roomId: room, deviceId: "b1", userId: bob, instance: "a")
            #expect(second.others.map(\.deviceId) == ["a1"])
            #expect(second.room.peers.map(\.deviceId) == ["a1", "b1"])
            #expect(second.room.version > first.room.version)
            let members = try await live.members(of: room)
            #expect(members?.version == second.room.version)
            #expect(members?.peers == second.room.peers)
            // A rejoin of the same device does not count twice; a third device is refused.
            let rejoined = try await live.join(roomId: room, deviceId: "b1", userId: bob, instance: "a")
            #expect(rejoined.room.peers.count == 2)
            do throws(CallsError) {
                _ = try await live.join(roomId: room, deviceId: "b2", userId: bob, instance: "a")
                Issue.record("a third device joined a room of two")
            } catch {
                #expect(error.code == .roomFull)
            }
            #expect(try await live.rooms(of: "b1", instance: nil) == [room])
            #expect(try await live.rooms(of: "b1", instance: "elsewhere").isEmpty)

            // Every change numbers exactly one peer list: the version read back names the same peers.
            let left = try await live.leave(roomId: room, deviceId: "b1")
            #expect(left?.remaining.map(\.deviceId) == ["a1"])
            let afterLeave = try await live.members(of: room)
            #expect(afterLeave?.version == left?.version)
            #expect(afterLeave?.peers.map(\.deviceId) == ["a1"])
            #expect(try await live.leave(roomId: room, deviceId: "b1") == nil)
            #expect(try await live.members(of: room)?.version == left?.version)
            #expect(try await live.rooms(of: "b1", instance: nil).isEmpty)
            #expect(try await live.leave(roomId: room, deviceId: "a1")?.remaining.isEmpty == true)
            #expect(try await live.members(of: room)?.peers.isEmpty == true)
            #expect(try await live.members(of: UUID()) == nil)
            // Empty and past the linger: closed, in PostgreSQL too (it ends the call), and joining says so.
            _ = try await live.sweep(linger: .zero)
            #expect(try await store.room(room)?.closed == true)
            do throws(CallsError) {
                _ = try await live.join(roomId: room, deviceId: "a1", userId: alice, instance: "a")
                Issue.record("joined a closed room")
            } catch {
                #expect(error.code == .roomClosed)
            }
            do throws(CallsError) {
                _ = try await live.join(roomId: UUID(), deviceId: "a1", userId: alice, instance: "a")
                Issue.record("joined a room that does not exist")
            } catch {
                #expect(error.code == .roomNotFound)
            }
        }
    }

    @Test(arguments: LiveBackend.allCases) func roomsNobodyJoinedCloseWhenTheirTokenExpires(_ backend: LiveBackend) async throws {
        try await Self.withLiveState(backend) { database, store, live in
            let alice = try await Self.user(database)
            let expired = try await Self.room(store, owner: alice, allowed: [alice], maxPeers: 2, expiresIn: -5)
            let lingering = try await Self.room(store, owner: alice, allowed: [alice], maxPeers: 2, expiresIn: -5)
            _ = try await live.join(roomId: lingering, deviceId: "a1", userId: alice, instance: "a")
            _ = try await live.leave(roomId: lingering, deviceId: "a1")
            _ = try await live.sweep(linger: .seconds(60))
            #expect(try await store.room(expired)?.closed == true)
            // Joined once and empty since less than the linger: still open.
            #expect(try await store.room(lingering)?.closed == false)
        }
    }

    /// Joins racing into one room: exactly `max_peers` of them get in, the rest are told the
    /// room is full, and every successful join numbers its own peer list with its own version.
    @Test(arguments: LiveBackend.allCases) func concurrentJoinsToAFullRoomAdmitExactlyTheLimit(_ backend: LiveBackend) async throws {
        try await Self.withLiveState(backend) { database, store, live in
            _ = try await live.heartbeat(instance: "a")
            let alice = try await Self.user(database)
            let limit = 3
            let room = try await Self.room(store, owner: alice, allowed: [alice], maxPeers: limit, mode: "sfu")
            let outcomes = await withTaskGroup(of: Result<(RoomState, [RoomPeer], RoomPeer), CallsError>.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        do throws(CallsError) {
                            let joined = try await live.join(roomId: room, deviceId: "d\(index)", userId: alice, instance: "a")
                            return .success(joined)
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                var all: [Result<(RoomState, [RoomPeer], RoomPeer), CallsError>] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
            var joined: [(RoomState, [RoomPeer], RoomPeer)] = []
            for outcome in outcomes {
                switch outcome {
                case .success(let join): joined.append(join)
                case .failure(let error): #expect(error.code == .roomFull)
                }
            }
            #expect(joined.count == limit)
            // Each join saw the ones before it: distinct growing versions, each list one longer.
            let byVersion = joined.sorted { $0.0.version < $1.0.version }
            #expect(Set(byVersion.map(\.0.version)).count == limit)
            for (index, join) in byVersion.enumerated() {
                #expect(join.1.count == index)
                #expect(join.0.peers.count == index + 1)
                #expect(join.0.peers.contains(join.2))
                if index > 0 { #expect(Set(join.1) == Set(byVersion[index - 1].0.peers)) }
            }
            let last = byVersion[limit - 1].0.version
            let members = try await live.members(of: room)
            #expect(members?.version == last)
            #expect(members.map { Set($0.peers) } == Set(byVersion[limit - 1].0.peers))
            // A member rejoining a full room replaces its own entry: admitted, no extra peer.
            let again = try await live.join(roomId: room, deviceId: byVersion[0].2.deviceId, userId: alice, instance: "a")
            #expect(again.room.peers.count == limit)
            #expect(again.room.version > last)
            // Refusals wrote nothing.
            #expect(try await live.members(of: room)?.peers.count == limit)
            if backend == .postgres {
                // An acknowledged join is flushed like every other write (review: an asynchronous
                // commit lost acknowledged joins and let a room's version go backwards on a crash).
                let setting = try await database.withOwner { connection in
                    try await connection.execute(
                        "SELECT 1 FROM calls.join_room($1, 'd0', $2, 'a')", [room, alice])
                    return try await connection.scalarText("SELECT current_setting('synchronous_commit')", [])
                }
                #expect(setting == "on")
            }
        }
    }

    @Test(arguments: LiveBackend.allCases) func devicesBindToOneUserAndPresenceFollowsInstances(_ backend: LiveBackend) async throws {
        try await Self.withLiveState(backend) { database, _, live in
            let alice = try await Self.user(database)
            let bob = try await Self.user(database)
            _ = try await live.heartbeat(instance: "a")
            #expect(try await live.bindDevice("phone", userId: alice, instance: "a"))
            #expect(try await !live.bindDevice("phone", userId: bob, instance: "a"))
            #expect(try await live.bindDevice("laptop", userId: alice, instance: "a"))
            #expect(try await live.onlineDevices(of: alice) == ["laptop", "phone"])
            #expect(try await live.onlineDevices(of: bob).isEmpty)
            try await live.releaseDevice("phone", instance: "other")
            #expect(try await live.onlineDevices(of: alice) == ["laptop", "phone"])
            try await live.releaseDevice("phone", instance: "a")
            #expect(try await live.onlineDevices(of: alice) == ["laptop"])
            // A device on an instance that stopped is offline at once.
            try await live.retire(instance: "a")
            #expect(try await live.onlineDevices(of: alice).isEmpty)
            // It is still alice's: bob cannot take its id.
            #expect(try await !live.bindDevice("laptop", userId: bob, instance: "b"))
        }
    }

    @Test(arguments: LiveBackend.allCases) func peersOfAVanishedInstanceAreSweptOut(_ backend: LiveBackend) async throws {
        try await Self.withLiveState(backend) { database, store, live in
            let alice = try await Self.user(database)
            let bob = try await Self.user(database)
            _ = try await live.heartbeat(instance: "live")
            _ = try await live.heartbeat(instance: "dead")
            let room = try await Self.room(store, owner: alice, allowed: [alice, bob], maxPeers: 8)
            _ = try await live.join(roomId: room, deviceId: "a1", userId: alice, instance: "live")
            _ = try await live.join(roomId: room, deviceId: "b1", userId: bob, instance: "dead")
            #expect(try await live.bindDevice("b1", userId: bob, instance: "dead"))
            #expect(try await live.sweep(linger: .seconds(60)).isEmpty)
            try await live.retire(instance: "dead")
            let gone = try await live.sweep(linger: .seconds(60))
            #expect(gone.map(\.peer.deviceId) == ["b1"])
            #expect(gone.first?.peer.userId == bob)
            #expect(gone.first?.remaining.map(\.deviceId) == ["a1"])
            #expect(try await live.members(of: room)?.version == gone.first?.version)
            #expect(try await live.onlineDevices(of: bob).isEmpty)
            // Taken out once: the next sweep (of any instance) finds nothing more.
            #expect(try await live.sweep(linger: .seconds(60)).isEmpty)
        }
    }

    /// Redis forgot everything (a restart without persistence): the next heartbeat says so,
    /// and restoring puts the instance's devices and room peers back with a higher version.
    @Test func anInstanceForgottenByRedisRestoresItsDevicesAndRooms() async throws {
        try await TestDatabase.withDatabase { database in
            let store = CallsStore(database: database)
            try await withRedisServer { server in
                try await withClient(server.url) { client in
                    let live = RedisCallsLiveState(client: client, rooms: store)
                    let alice = try await Self.user(database)
                    let bob = try await Self.user(database)
                    #expect(try await !live.heartbeat(instance: "a"))
                    #expect(try await live.heartbeat(instance: "a"))
                    let room = try await Self.room(store, owner: alice, allowed: [alice, bob], maxPeers: 2)
                    #expect(try await live.bindDevice("a1", userId: alice, instance: "a"))
                    let joined = try await live.join(roomId: room, deviceId: "a1", userId: alice, instance: "a")
                    _ = try await live.join(roomId: room, deviceId: "b1", userId: bob, instance: "a")

                    _ = try await client.send(["FLUSHALL"])
                    #expect(try await live.onlineDevices(of: alice).isEmpty)
                    #expect(try await !live.heartbeat(instance: "a"))
                    try await live.restore(
                        instance: "a", devices: [HeldDevice(deviceId: "a1", userId: alice, rooms: [room])])
                    #expect(try await live.onlineDevices(of: alice) == ["a1"])
                    let members = try await live.members(of: room)
                    #expect(members?.peers.map(\.deviceId) == ["a1"])
                    #expect((members?.version ?? 0) > joined.room.version)
                }
            }
        }
    }

    /// Two instances' sweeps racing over one dead instance announce each departed peer once.
    @Test func racingSweepsTakeEachPeerOutOnce() async throws {
        try await Self.withLiveState(.redis) { database, store, live in
            let alice = try await Self.user(database)
            _ = try await live.heartbeat(instance: "dead")
            let room = try await Self.room(store, owner: alice, allowed: [alice], maxPeers: 50, mode: "sfu")
            for index in 0..<20 {
                _ = try await live.join(roomId: room, deviceId: "d\(index)", userId: alice, instance: "dead")
            }
            try await live.retire(instance: "dead")
            async let first = live.sweep(linger: .seconds(60))
            async let second = live.sweep(linger: .seconds(60))
            let swept = try await first + second
            #expect(swept.count == 20)
            #expect(Set(swept.map(\.peer.deviceId)).count == 20)
            #expect(Set(swept.map(\.version)).count == 20)
        }
    }
}
