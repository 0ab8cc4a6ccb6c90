@testable import Calls
import Database
import Foundation
import Testing
import TestSupport

/// Placement of sfu rooms on Janus nodes (migrations 0041 and 0042, docs/sfu.md "Placement"):
/// the least-loaded `up` node, nodes down and back, recovery won once with a new epoch, rooms
/// closed with their last participant, the load estimate, and participants taken over by
/// another instance.
@Suite struct SfuStoreTests {
    static let nodes = [SfuSettings.Node(id: "janus-a", url: "ws://10.0.0.5:8188"), SfuSettings.Node(id: "janus-b", url: "ws://10.0.0.6:8188")]

    /// A fresh database with both nodes registered (capacity 100 each), its stores and a user.
    static func withNodes(_ body: @escaping @Sendable (Database, SfuStore, CallsStore, UUID) async throws -> Void) async throws {
        try await TestDatabase.withDatabase { database in
            let store = SfuStore(database: database)
            try await store.register(nodes, capacity: 100)
            let calls = CallsStore(database: database)
            try await body(database, store, calls, try await CallsStoreTests.user(database))
        }
    }

    /// An sfu room in `calls.rooms` (which `calls.sfu_rooms` references).
    static func room(_ calls: CallsStore, _ owner: UUID) async throws -> UUID {
        try await CallsStoreTests.room(calls, owner: owner, allowed: [owner], maxPeers: 50, mode: "sfu")
    }

    static func node(_ database: Database, _ id: String) async throws -> (state: String, load: Int, downSince: Bool, lastOk: Bool) {
        try await database.withOwner { connection in
            let rows = try await connection.rows(
                "SELECT state, load_streams, down_since IS NOT NULL, last_ok_at IS NOT NULL FROM calls.sfu_nodes WHERE node_id = $1", [id])
            for try await row in rows.decode((String, Int, Bool, Bool).self) { return row }
            throw CallsError(.internal, "no node \(id)")
        }
    }

    static func sql(_ database: Database, _ statement: String) async throws {
        try await database.withOwner { connection in try await connection.execute(statement, []) }
    }

    /// Published streams: a microphone and `video` cameras.
    static func streams(video: Int) -> [SfuStream] {
        ([["mid": "0", "type": "audio"]] + (0..<video).map { ["mid": "\($0 + 1)", "type": "video", "codec": "vp8"] }).compactMap(SfuStream.init(janus:))
    }

    static func participant(_ room: SfuPlacement, _ device: String, _ user: UUID) -> SfuParticipantRow {
        SfuParticipantRow(
            roomId: room.roomId, deviceId: device, userId: user, epoch: room.epoch, feedId: UUID(), janusFeedId: SfuStore.randomJanusId(),
            sessionId: SfuStore.randomJanusId(), publisherHandle: SfuStore.randomJanusId(), privateId: SfuStore.randomJanusId())
    }

    @Test func registeringKeepsAKnownNodesStateAndTakesItsNewAddress() async throws {
        try await Self.withNodes { database, store, _, _ in
            #expect(try await store.nodeState("janus-a") == "up")
            #expect(try await store.nodeState("janus-c") == nil)
            _ = try await store.nodeFailed("janus-a")
            try await store.register([SfuSettings.Node(id: "janus-a", url: "ws://10.0.0.9:8188")], capacity: 300)
            #expect(try await store.nodeState("janus-a") == "down")
            let row = try await database.withOwner { connection in
                try await connection.scalarText("SELECT api_url || ' ' || capacity_streams FROM calls.sfu_nodes WHERE node_id = 'janus-a'", [])
            }
            #expect(row == "ws://10.0.0.9:8188 300")
        }
    }

    @Test func placementTakesTheLeastLoadedUpNodeOnce() async throws {
        try await Self.withNodes { database, store, calls, owner in
            let first = try await Self.room(calls, owner)
            let (placed, noNode) = try await store.claimPlacement(of: first, replacing: nil)
            let placement = try #require(placed)
            #expect(!noNode)
            // Both empty: the tie goes to the first node id.
            #expect(placement.nodeId == "janus-a")
            #expect(placement.epoch == 1)
            #expect(placement.state == "creating")
            #expect((1...9_007_199_254_740_991).contains(placement.janusRoomId))
            #expect(try await store.placement(of: first) == placement)
            // Four streams reserved for the room until someone publishes.
            #expect(try await Self.node(database, "janus-a").load == 4)

            // A second claim of the same room finds it placed: nothing to do, and nothing reserved.
            let (again, againNoNode) = try await store.claimPlacement(of: first, replacing: nil)
            #expect(again == nil)
            #expect(!againNoNode)
            #expect(try await Self.node(database, "janus-a").load == 4)

            // The next room goes to the less loaded node.
            let second = try await Self.room(calls, owner)
            #expect(try await store.claimPlacement(of: second, replacing: nil).0?.nodeId == "janus-b")
            // Load is compared relative to capacity.
            try await Self.sql(database, "UPDATE calls.sfu_nodes SET capacity_streams = 1000 WHERE node_id = 'janus-a'")
            try await Self.sql(database, "UPDATE calls.sfu_nodes SET load_streams = 30 WHERE node_id = 'janus-a'")
            let third = try await Self.room(calls, owner)
            #expect(try await store.claimPlacement(of: third, replacing: nil).0?.nodeId == "janus-a")

            try await store.markReady(placement)
            #expect(try await store.placement(of: first)?.state == "ready")
            #expect(try await store.rooms(on: "janus-a").map(\.roomId).sorted { $0.uuidString < $1.uuidString }
                == [first, third].sorted { $0.uuidString < $1.uuidString })
            #expect(try await store.placement(of: UUID()) == nil)
        }
    }

    @Test func fullAndDownNodesAreNeverPicked() async throws {
        try await Self.withNodes { database, store, calls, owner in
            // A node at its capacity takes no new room.
            try await Self.sql(database, "UPDATE calls.sfu_nodes SET load_streams = capacity_streams WHERE node_id = 'janus-a'")
            #expect(try await store.claimPlacement(of: try await Self.room(calls, owner), replacing: nil).0?.nodeId == "janus-b")
            try await Self.sql(database, "UPDATE calls.sfu_nodes SET load_streams = 0")

            #expect(try await store.nodeFailed("janus-a"))
            #expect(try await store.nodeState("janus-a") == "down")
            for _ in 0..<3 {
                #expect(try await store.claimPlacement(of: try await Self.room(calls, owner), replacing: nil).0?.nodeId == "janus-b")
            }
            // A draining node takes none either.
            try await Self.sql(database, "UPDATE calls.sfu_nodes SET state = 'draining' WHERE node_id = 'janus-b'")
            let room = try await Self.room(calls, owner)
            let (none, noNode) = try await store.claimPlacement(of: room, replacing: nil)
            #expect(none == nil)
            #expect(noNode)
            #expect(try await store.nodeFailed("janus-b"))
            let (stillNone, stillNoNode) = try await store.claimPlacement(of: room, replacing: nil)
            #expect(stillNone == nil)
            #expect(stillNoNode)
            // Nothing was written for the room that found no node.
            #expect(try await store.placement(of: room) == nil)
            #expect(try await store.nodeFailed("unknown-node") == false)
        }
    }

    @Test func nodeFailedIsTrueOnlyOnTheTransitionAndANodeComesBackAfterThirtySeconds() async throws {
        try await Self.withNodes { database, store, _, _ in
            #expect(try await store.nodeFailed("janus-a"))
            #expect(try await !store.nodeFailed("janus-a"))
            #expect(try await !store.nodeFailed("janus-a"))
            let down = try await Self.node(database, "janus-a")
            #expect(down.state == "down" && down.downSince)

            // Answering again right away is recorded but does not bring it back.
            try await store.nodeAnswered("janus-a", recoverySeconds: 30)
            let answered = try await Self.node(database, "janus-a")
            #expect(answered.state == "down" && answered.downSince && answered.lastOk)
            try await Self.sql(database, "UPDATE calls.sfu_nodes SET down_since = now() - interval '29 seconds' WHERE node_id = 'janus-a'")
            try await store.nodeAnswered("janus-a", recoverySeconds: 30)
            #expect(try await store.nodeState("janus-a") == "down")

            // Thirty seconds after its last failure it is up again, and may fail anew.
            try await Self.sql(database, "UPDATE calls.sfu_nodes SET down_since = now() - interval '31 seconds' WHERE node_id = 'janus-a'")
            try await store.nodeAnswered("janus-a", recoverySeconds: 30)
            let back = try await Self.node(database, "janus-a")
            #expect(back.state == "up" && !back.downSince)
            #expect(try await store.nodeFailed("janus-a"))

            // A failure while down starts the thirty seconds again.
            try await Self.sql(database, "UPDATE calls.sfu_nodes SET down_since = now() - interval '31 seconds' WHERE node_id = 'janus-a'")
            #expect(try await !store.nodeFailed("janus-a"))
            try await store.nodeAnswered("janus-a", recoverySeconds: 30)
            #expect(try await store.nodeState("janus-a") == "down")

            // An up node that answers stays up; a draining one stays draining.
            try await store.nodeAnswered("janus-b", recoverySeconds: 30)
            #expect(try await Self.node(database, "janus-b").state == "up")
            try await Self.sql(database, "UPDATE calls.sfu_nodes SET state = 'draining' WHERE node_id = 'janus-b'")
            try await store.nodeAnswered("janus-b", recoverySeconds: 30)
            #expect(try await store.nodeState("janus-b") == "draining")
        }
    }

    @Test func recoveryIsWonOnceAndMovesTheRoomToAnotherNodeWithTheNextEpoch() async throws {
        try await Self.withNodes { database, store, calls, owner in
            let room = try await Self.room(calls, owner)
            var placement = try #require(try await store.claimPlacement(of: room, replacing: nil).0)
            #expect(placement.nodeId == "janus-a")
            try await store.markReady(placement)
            placement.state = "ready"
            try await store.saveParticipant(Self.participant(placement, "phone", owner), instance: "calls-1")

            #expect(try await store.nodeFailed("janus-a"))
            // Two instances see the failure; one of them takes the room.
            #expect(try await store.beginRecovery(placement))
            #expect(try await !store.beginRecovery(placement))
            let recovering = try #require(try await store.placement(of: room))
            #expect(recovering.state == "recovering" && recovering.epoch == 1 && recovering.nodeId == "janus-a")

            let (moved, noNode) = try await store.claimPlacement(of: room, replacing: recovering)
            let next = try #require(moved)
            #expect(!noNode)
            #expect(next.nodeId == "janus-b")
            #expect(next.epoch == 2)
            #expect(next.state == "creating")
            #expect(next.janusRoomId != placement.janusRoomId)
            #expect(try await store.placement(of: room) == next)
            // The loser of the race finds the room moved already.
            let (late, lateNoNode) = try await store.claimPlacement(of: room, replacing: recovering)
            #expect(late == nil && !lateNoNode)
            #expect(try await store.placement(of: room)?.epoch == 2)
            // A recovery of an epoch that is gone wins nothing.
            #expect(try await !store.beginRecovery(placement))
            #expect(try await store.rooms(on: "janus-a").isEmpty)
            #expect(try await store.rooms(on: "janus-b").map(\.epoch) == [2])
        }
    }

    /// A room whose Janus room was lost on a node that is still up may be placed on it again
    /// (a deployment with one node recovers); a down node is never picked.
    @Test func replacingPicksTheLeastLoadedUpNodeTheOldOneIncluded() async throws {
        try await Self.withNodes { database, store, calls, owner in
            let room = try await Self.room(calls, owner)
            let placement = try #require(try await store.claimPlacement(of: room, replacing: nil).0)
            #expect(placement.nodeId == "janus-a")
            try await store.markReady(placement)
            try await Self.sql(database, "UPDATE calls.sfu_nodes SET load_streams = 90 WHERE node_id = 'janus-b'")
            #expect(try await store.beginRecovery(placement))
            let recovering = try #require(try await store.placement(of: room))
            let again = try #require(try await store.claimPlacement(of: room, replacing: recovering).0)
            #expect(again.nodeId == "janus-a")
            #expect(again.epoch == 2)
            #expect(again.janusRoomId != placement.janusRoomId)

            // With every node down there is no node to move to: the room stays recovering.
            let other = try await Self.room(calls, owner)
            let onA = try #require(try await store.claimPlacement(of: other, replacing: nil).0)
            #expect(try await store.nodeFailed("janus-a"))
            #expect(try await store.nodeFailed("janus-b"))
            #expect(try await store.beginRecovery(onA))
            let stuck = try #require(try await store.placement(of: other))
            let (none, noNode) = try await store.claimPlacement(of: other, replacing: stuck)
            #expect(none == nil && noNode)
            #expect(try await store.placement(of: other)?.state == "recovering")
        }
    }

    @Test func aRoomClosesOnlyWithoutParticipants() async throws {
        try await Self.withNodes { database, store, calls, owner in
            let room = try await Self.room(calls, owner)
            let placement = try #require(try await store.claimPlacement(of: room, replacing: nil).0)
            try await store.markReady(placement)
            try await store.saveParticipant(Self.participant(placement, "phone", owner), instance: "calls-1")
            try await store.saveParticipant(Self.participant(placement, "laptop", owner), instance: "calls-2")

            #expect(try await store.closeIfEmpty(room) == nil)
            #expect(try await store.placement(of: room) != nil)
            try await store.deleteParticipant(room: room, device: "phone")
            #expect(try await store.closeIfEmpty(room) == nil)
            try await store.deleteParticipant(room: room, device: "laptop")

            let closed = try #require(try await store.closeIfEmpty(room))
            #expect(closed.nodeId == placement.nodeId && closed.janusRoomId == placement.janusRoomId && closed.epoch == 1)
            #expect(try await store.placement(of: room) == nil)
            #expect(try await Self.node(database, placement.nodeId).load == 0)
            #expect(try await store.closeIfEmpty(room) == nil)

            // A placement whose Janus room could not be made is forgotten, and its reservation with it.
            let failed = try #require(try await store.claimPlacement(of: room, replacing: nil).0)
            #expect(try await Self.node(database, failed.nodeId).load == 4)
            try await store.dropPlacement(failed)
            #expect(try await store.placement(of: room) == nil)
            #expect(try await Self.node(database, failed.nodeId).load == 0)
        }
    }

    @Test func publishingRecomputesTheNodesLoad() async throws {
        try await Self.withNodes { database, store, calls, owner in
            #expect(try await store.nodeFailed("janus-b"))
            let room = try await Self.room(calls, owner)
            let placement = try #require(try await store.claimPlacement(of: room, replacing: nil).0)
            try await store.markReady(placement)
            let quiet = try await Self.room(calls, owner)
            _ = try #require(try await store.claimPlacement(of: quiet, replacing: nil).0)
            #expect(try await Self.node(database, "janus-a").load == 8)
            for device in ["d1", "d2", "d3"] {
                try await store.saveParticipant(Self.participant(placement, device, owner), instance: "calls-1")
            }

            // Σ published video streams × (members − 1) per room, 4 for a room without any.
            try await store.setPublishing(room: room, device: "d1", streams: Self.streams(video: 1), node: "janus-a")
            #expect(try await Self.node(database, "janus-a").load == 1 * 2 + 4)
            try await store.setPublishing(room: room, device: "d2", streams: Self.streams(video: 2), node: "janus-a")
            #expect(try await Self.node(database, "janus-a").load == 3 * 2 + 4)
            try await store.deleteParticipant(room: room, device: "d3")
            #expect(try await Self.node(database, "janus-a").load == 3 * 1 + 4)
            try await store.setPublishing(room: room, device: "d1", streams: nil, node: "janus-a")
            #expect(try await Self.node(database, "janus-a").load == 2 * 1 + 4)
            let flags = try await database.withOwner { connection in
                try await connection.scalarText(
                    "SELECT string_agg(device_id || ':' || publishing || ':' || video_streams, ',' ORDER BY device_id) FROM calls.sfu_participants WHERE room_id = $1",
                    [room])
            }
            #expect(flags == "d1:false:0,d2:true:2")
            // Audio only counts as no video: the room is back to its reservation.
            try await store.setPublishing(room: room, device: "d2", streams: Self.streams(video: 0), node: "janus-a")
            #expect(try await Self.node(database, "janus-a").load == 4 + 4)

            // A participant saved again (a new epoch, another instance) starts unpublished; its mute flags stay.
            _ = try await store.setMuted(room: room, device: "d2", audio: true, video: nil)
            try await store.setPublishing(room: room, device: "d2", streams: Self.streams(video: 1), node: "janus-a")
            try await store.saveParticipant(Self.participant(placement, "d2", owner), instance: "calls-2")
            #expect(try await store.muteState(room: room, device: "d2") == SfuMuteState(audio: true, video: false))
            try await store.setPublishing(room: room, device: "d1", streams: nil, node: "janus-a")
            #expect(try await Self.node(database, "janus-a").load == 4 + 4)
        }
    }

    @Test func aParticipantIsTakenOverOnceAndOnlyItsHolderMayDeleteIt() async throws {
        try await Self.withNodes { database, store, calls, owner in
            let room = try await Self.room(calls, owner)
            let placement = try #require(try await store.claimPlacement(of: room, replacing: nil).0)
            try await store.markReady(placement)
            let row = Self.participant(placement, "d1", owner)
            try await store.saveParticipant(row, instance: "calls-1")
            try await store.saveParticipant(Self.participant(placement, "d2", owner), instance: "calls-1")
            try await store.setPublishing(room: room, device: "d1", streams: Self.streams(video: 1), node: placement.nodeId)
            try await store.setSubscriberHandle(room: room, device: "d1", handle: 77)
            try await store.setSubscription(room: room, device: "d1", #"{"offerId":3,"all":true}"#)

            let held = try #require(try await store.heldParticipant(room: room, device: "d1"))
            #expect(held.instanceId == "calls-1" && held.row.sessionId == row.sessionId && held.row.privateId == row.privateId)
            #expect(held.publishing && held.streams.map(\.mid) == ["0", "1"] && held.subscriberHandle == 77)
            #expect(held.subscription?.contains("\"offerId\": 3") == true)
            // The others see d1's streams as its feed; d2 publishes nothing.
            let feeds = try await store.publishedFeeds(room: room, epoch: placement.epoch, except: "d2")
            #expect(feeds.map(\.feedId) == [row.feedId] && feeds.first?.janusId == row.janusFeedId && feeds.first?.streams.count == 2)
            #expect(try await store.publishedFeeds(room: room, epoch: placement.epoch, except: "d1").isEmpty)

            // Compare-and-set: the first instance to take it wins; the old holder cannot delete it.
            #expect(try await store.takeOver(room: room, device: "d1", from: "calls-1", to: "calls-2"))
            #expect(try await !store.takeOver(room: room, device: "d1", from: "calls-1", to: "calls-3"))
            #expect(try await store.holder(room: room, device: "d1") == "calls-2")
            #expect(try await !store.deleteParticipant(room: room, device: "d1", heldBy: ("calls-1", row.sessionId)))
            #expect(try await store.heldParticipant(room: room, device: "d1") != nil)
            // Nor may its new holder delete a row of another Janus session (one made after it).
            #expect(try await !store.deleteParticipant(room: room, device: "d1", heldBy: ("calls-2", row.sessionId + 1)))
            #expect(try await store.holder(room: room, device: "d1", session: row.sessionId) == "calls-2")
            #expect(try await store.holder(room: room, device: "d1", session: row.sessionId + 1) == nil)
            #expect(try await store.deleteParticipant(room: room, device: "d1", heldBy: ("calls-2", row.sessionId)))
            #expect(try await store.holder(room: room, device: "d1") == nil)

            // A subscriber handle gone takes its recorded state with it.
            try await store.setSubscription(room: room, device: "d2", #"{"offerId":1}"#)
            try await store.setSubscriberHandle(room: room, device: "d2", handle: nil)
            #expect(try await store.heldParticipant(room: room, device: "d2")?.subscription == nil)
        }
    }
}
