import Core
import Foundation
import Logging
@testable import Realtime
import Testing

/// Presence replicated between instances: re-announcements change nothing a client sees,
/// and the presences of an instance that went silent are dropped with a `leaves` diff.
@Suite struct RealtimeHubPresenceReplicationTests {
    let hub = RealtimeHub(catalogs: ChangeCatalogs(feed: ChangeCatalog.chatTables), logger: Logger(label: "test"))
    let room = "online"

    func meta(_ ref: String) -> JSONValue { .object(["phx_ref": .string(ref)]) }

    /// A socket joined to the room; its outbox, and the stream of what it is sent (finish the
    /// outbox first).
    func watcher() async -> (SocketOutbox, AsyncStream<Outbound>) {
        let (_, outbox, stream) = await joined(key: "w")
        return (outbox, stream)
    }

    /// A socket joined to the room with presence key `key`.
    func joined(key: String) async -> (UUID, SocketOutbox, AsyncStream<Outbound>) {
        let id = UUID()
        let (outbox, stream) = SocketOutbox.recording()
        await hub.connect(id, version: .v1, outbox: outbox, budget: OutboxBudget(limit: 1 << 20))
        let channel = RealtimeChannel(
            topic: "realtime:online", room: room, joinRef: "1", caller: Caller(role: .authenticated, userID: UUID(), claimsJSON: "{}"),
            expiresAt: .max, bindings: [], broadcastSelf: false, broadcastAck: false, presenceEnabled: true,
            presenceKey: key, conversation: nil, access: .online)
        await hub.join(channel, socket: id)
        return (id, outbox, stream)
    }

    func keys(_ state: JSONValue) -> Set<String> {
        Set(state.objectValue?.keys.map { $0 } ?? [])
    }

    @Test func aKnownMetaIsNotJoinedAgainAndAnUnknownOneNotLeft() async {
        await hub.applyPresence(topic: room, joins: ["alice": [meta("F1")]], leaves: [:], origin: "a")
        await hub.applyPresence(topic: room, joins: ["alice": [meta("F1")]], leaves: [:], origin: "a")
        #expect(await hub.presenceCount(room, key: "alice") == (1, 1))
        await hub.applyPresence(topic: room, joins: [:], leaves: ["bob": [meta("F9")]], origin: "a")
        #expect(keys(await hub.presenceState(room)) == ["alice"])
    }

    @Test func aSilentInstanceLosesItsPresencesAndTheRoomIsTold() async throws {
        let (outbox, sent) = await watcher()
        await hub.applyPresence(topic: room, joins: ["alice": [meta("F1")]], leaves: [:], origin: "dead")
        await hub.applyPresence(topic: room, joins: ["bob": [meta("F2")]], leaves: [:], origin: "alive")
        try await Task.sleep(for: .milliseconds(50))
        _ = await hub.heard("alive")
        await hub.expireSilentInstances(timeout: .milliseconds(20))
        #expect(keys(await hub.presenceState(room)) == ["bob"])

        outbox.finish()
        var frames: [String] = []
        for await case .text(let text) in sent { frames.append(text) }
        let last = frames.last ?? ""
        #expect(last.contains("presence_diff") && last.contains("F1") && !last.contains("F2"), "\(frames)")
        // Heard again after the silence: a newcomer, so this instance re-announces its own, at
        // its first two heartbeats (in case it was not yet listening at the first).
        #expect(await hub.heard("dead"))
        #expect(await hub.heard("dead"))
        #expect(!(await hub.heard("dead")))
        #expect(!(await hub.heard(hub.instanceID)), "never to itself")
    }

    @Test func aNewcomerIsToldWhatThisInstanceTracks() async throws {
        let (id, _, _) = await joined(key: "carol")
        _ = try await hub.track("realtime:online", socket: id, key: "carol", meta: meta("F7"), ref: "F7", limits: RealtimeLimits())
        let announcements = await hub.localPresenceAnnouncements()
        #expect(announcements.count == 1)
        guard case .presence(let topic, let joins, let leaves, _)? = announcements.first else {
            Issue.record("not a presence diff: \(announcements)")
            return
        }
        #expect(topic == room && leaves.isEmpty && joins["carol"] == [meta("F7")])
    }
}
