@testable import Calls
import Database
import Foundation
import Testing
import TestSupport

/// Rooms, peers and presence as every instance sees them in PostgreSQL.
@Suite struct CallsStoreTests {
    static func user(_ database: Database) async throws -> UUID {
        try await database.withOwner { connection in
            let phone = "1555777\(Int.random(in: 1000...9999))"
            for try await id in try await connection.rows("INSERT INTO auth.users (phone) VALUES ($1) RETURNING id", [phone]).decode(UUID.self) {
                return id
            }
            throw CallsError(.internal, "no user")
        }
    }

    @Test func joinLeaveFullAndClose() async throws {
        try await TestDatabase.withDatabase { database in
            let store = CallsStore(database: database)
            try await store.heartbeat(instance: "a")
            let alice = try await Self.user(database)
            let bob = try await Self.user(database)
            let room = UUID()
            try await store.createRoom(
                id: room, callId: UUID(), mode: "p2p", createdBy: alice, allowed: [alice, bob], conversationId: nil, maxPeers: 2,
                tokenExpiresAt: Int(Date().timeIntervalSince1970) + 600)

            let first = try await store.join(roomId: room, deviceId: "a1", userId: alice, instance: "a")
            #expect(first.others.isEmpty)
            #expect(first.room.peers.map(\.deviceId) == ["a1"])
            let second = try await store.join(roomId: room, deviceId: "b1", userId: bob, instance: "a")
            #expect(second.others.map(\.deviceId) == ["a1"])
            #expect(second.room.peers.map(\.deviceId) == ["a1", "b1"])
            #expect(second.room.version > first.room.version)
            let members = try await store.members(of: room)
            #expect(members?.version == second.room.version)
            #expect(members?.peers == second.room.peers)
            // A rejoin of the same device does not count twice; a third device is refused.
            _ = try await store.join(roomId: room, deviceId: "b1", userId: bob, instance: "a")
            await #expect(throws: CallsError.self) { try await store.join(roomId: room, deviceId: "b2", userId: bob, instance: "a") }

            // Every change numbers exactly one peer list: the version read back names the same peers.
            let left = try await store.leave(roomId: room, deviceId: "b1")
            #expect(left?.remaining.map(\.deviceId) == ["a1"])
            let afterLeave = try await store.members(of: room)
            #expect(afterLeave?.version == left?.version)
            #expect(afterLeave?.peers.map(\.deviceId) == ["a1"])
            #expect(try await store.leave(roomId: room, deviceId: "b1") == nil)
            #expect(try await store.members(of: room)?.version == left?.version)
            #expect(try await store.leave(roomId: room, deviceId: "a1")?.remaining.isEmpty == true)
            #expect(try await store.members(of: room)?.peers.isEmpty == true)
            #expect(try await store.members(of: UUID()) == nil)
            // Empty and past the linger: closed, and joining says so.
            _ = try await store.sweep(linger: .zero)
            do {
                _ = try await store.join(roomId: room, deviceId: "a1", userId: alice, instance: "a")
                Issue.record("joined a closed room")
            } catch let error as CallsError {
                #expect(error.code == .roomClosed)
            }
            do {
                _ = try await store.join(roomId: UUID(), deviceId: "a1", userId: alice, instance: "a")
                Issue.record("joined a room that does not exist")
            } catch let error as CallsError {
                #expect(error.code == .roomNotFound)
            }
        }
    }

    /// `calls.join_room` (migration 0010) under concurrency: joins racing into one room queue
    /// on the room's row lock, exactly `max_peers` of them get in, the rest are told the room
    /// is full, and every successful join numbers its own peer list with its own version.
    @Test func concurrentJoinsToAFullRoomAdmitExactlyTheLimit() async throws {
        try await TestDatabase.withDatabase { database in
            let store = CallsStore(database: database)
            try await store.heartbeat(instance: "a")
            let alice = try await Self.user(database)
            let limit = 3
            let room = UUID()
            try await store.createRoom(
                id: room, callId: UUID(), mode: "sfu", createdBy: alice, allowed: [alice], conversationId: nil, maxPeers: limit,
                tokenExpiresAt: Int(Date().timeIntervalSince1970) + 600)
            let outcomes = await withTaskGroup(of: Result<(RoomState, [RoomPeer], RoomPeer), CallsError>.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        do throws(CallsError) {
                            let joined = try await store.join(roomId: room, deviceId: "d\(index)", userId: alice, instance: "a")
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
            // Each join saw the ones before it: versions 1...limit, each list one longer.
            let byVersion = joined.sorted { $0.0.version < $1.0.version }
            #expect(byVersion.map(\.0.version) == Array(1...Int64(limit)))
            for (index, join) in byVersion.enumerated() {
                #expect(join.1.count == index)
                #expect(join.0.peers.count == index + 1)
                #expect(join.0.peers.contains(join.2))
                if index > 0 { #expect(Set(join.1) == Set(byVersion[index - 1].0.peers)) }
            }
            let members = try await store.members(of: room)
            #expect(members?.version == Int64(limit))
            #expect(members.map { Set($0.peers) } == Set(byVersion[limit - 1].0.peers))
            // A member rejoining a full room replaces its own row: admitted, no extra peer.
            let again = try await store.join(roomId: room, deviceId: byVersion[0].2.deviceId, userId: alice, instance: "a")
            #expect(again.room.peers.count == limit)
            #expect(again.room.version == Int64(limit) + 1)
            // Refusals wrote nothing.
            #expect(try await store.members(of: room)?.peers.count == limit)
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

    @Test func devicesBindToOneUserAndPresenceFollowsInstances() async throws {
        try await TestDatabase.withDatabase { database in
            let store = CallsStore(database: database)
            let alice = try await Self.user(database)
            let bob = try await Self.user(database)
            try await store.heartbeat(instance: "a")
            #expect(try await store.bindDevice("phone", userId: alice, instance: "a"))
            #expect(try await !store.bindDevice("phone", userId: bob, instance: "a"))
            #expect(try await store.onlineDevices(of: alice) == ["phone"])
            try await store.releaseDevice("phone", instance: "other")
            #expect(try await store.onlineDevices(of: alice) == ["phone"])
            try await store.releaseDevice("phone", instance: "a")
            #expect(try await store.onlineDevices(of: alice).isEmpty)
        }
    }

    @Test func peersOfAVanishedInstanceAreSweptOut() async throws {
        try await TestDatabase.withDatabase { database in
            let store = CallsStore(database: database)
            let alice = try await Self.user(database)
            let bob = try await Self.user(database)
            try await store.heartbeat(instance: "live")
            let room = UUID()
            try await store.createRoom(
                id: room, callId: UUID(), mode: "p2p", createdBy: alice, allowed: [alice, bob], conversationId: nil, maxPeers: 8,
                tokenExpiresAt: Int(Date().timeIntervalSince1970) + 600)
            _ = try await store.join(roomId: room, deviceId: "a1", userId: alice, instance: "live")
            _ = try await store.join(roomId: room, deviceId: "b1", userId: bob, instance: "dead")
            let gone = try await store.sweep(linger: .seconds(60))
            #expect(gone.map(\.peer.deviceId) == ["b1"])
            #expect(gone.first?.remaining.map(\.deviceId) == ["a1"])
            #expect(try await store.members(of: room)?.version == gone.first?.version)
        }
    }
}
