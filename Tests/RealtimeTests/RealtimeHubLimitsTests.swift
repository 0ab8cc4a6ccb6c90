import Core
import Foundation
import Logging
@testable import Realtime
import Testing

/// The hub's bookkeeping behind the presence caps and the per-user socket cap (issue 11 item 4).
@Suite struct RealtimeHubLimitsTests {
    let hub = RealtimeHub(catalogs: ChangeCatalogs(feed: ChangeCatalog.chatTables), logger: Logger(label: "test"))

    func socket() async -> UUID {
        let id = UUID()
        await hub.connect(id, version: .v1, outbox: SocketOutbox(capacity: 100), budget: OutboxBudget(limit: 1 << 20))
        return id
    }

    func channel(_ topic: String, user: UUID?) -> RealtimeChannel {
        RealtimeChannel(
            topic: topic, room: TopicAccess.room(of: topic), joinRef: "1", caller: Caller(role: user == nil ? .anon : .authenticated, userID: user, claimsJSON: "{}"),
            expiresAt: .max, bindings: [], broadcastSelf: false, broadcastAck: false, presenceEnabled: true,
            presenceKey: user?.uuidString ?? "k", conversation: nil, access: .online)
    }

    @Test func socketsPerUserAreCountedAsChannelsComeAndGo() async {
        let user = UUID()
        let (first, second) = (await socket(), await socket())
        await hub.join(channel("realtime:online", user: user), socket: first)
        await hub.join(channel("realtime:user:x", user: user), socket: first)
        await hub.join(channel("realtime:online", user: user), socket: second)
        #expect(await hub.socketCount(of: user) == 2)
        #expect(await hub.hasChannel(of: user, socket: first))
        _ = await hub.leave("realtime:online", socket: first)
        #expect(await hub.socketCount(of: user) == 2)
        _ = await hub.leave("realtime:user:x", socket: first)
        #expect(await hub.socketCount(of: user) == 1)
        let stillThere = await hub.hasChannel(of: user, socket: first)
        #expect(!stillThere)
        _ = await hub.disconnect(second)
        #expect(await hub.socketCount(of: user) == 0)
    }

    @Test func presenceCapsCountThisInstanceAtOnceAndFreeOnLeave() async throws {
        var limits = RealtimeLimits()
        limits.presencesPerKey = 2
        limits.presencesPerTopic = 3
        let topic = "realtime:online"
        var sockets: [UUID] = []
        for key in ["a", "a", "b"] {
            let id = await socket()
            var joined = channel(topic, user: UUID())
            joined.presenceKey = key
            await hub.join(joined, socket: id)
            _ = try await hub.track(topic, socket: id, key: key, meta: .object([:]), ref: UUID().uuidString, limits: limits)
            sockets.append(id)
        }
        // A re-track replaces the channel's own meta and always fits.
        _ = try await hub.track(topic, socket: sockets[0], key: "a", meta: .object(["n": .number(2)]), ref: "r2", limits: limits)
        #expect(await hub.presenceCount(topic, key: "a") == (3, 2))
        let extra = await socket()
        var joined = channel(topic, user: UUID())
        joined.presenceKey = "a"
        await hub.join(joined, socket: extra)
        await #expect(throws: JoinError.self) { try await hub.track(topic, socket: extra, key: "a", meta: .object([:]), ref: "x", limits: limits) }
        _ = await hub.untrack(topic, socket: sockets[0])
        #expect(await hub.presenceCount(topic, key: "a") == (2, 1))
        _ = try await hub.track(topic, socket: extra, key: "a", meta: .object([:]), ref: "y", limits: limits)
        _ = await hub.disconnect(sockets[1])
        _ = await hub.leave(topic, socket: sockets[2])
        #expect(await hub.presenceCount(topic, key: "a") == (1, 1))
    }
}

/// A client that stops reading is disconnected once its outbox holds more bytes than its
/// budget, long before the frame cap (issue 11 item 4: presence state is large).
@Suite struct OutboxBudgetTests {
    @Test func aSocketOverItsByteBudgetIsDisconnected() async {
        let hub = RealtimeHub(catalogs: ChangeCatalogs(feed: ChangeCatalog.chatTables), logger: Logger(label: "test"))
        let id = UUID()
        let (outbox, sent) = SocketOutbox.recording()
        let budget = OutboxBudget(limit: 1_000)
        await hub.connect(id, version: .v1, outbox: outbox, budget: budget)
        let frame = PhoenixFrame(topic: "realtime:online", event: "presence_state", payload: .object(["k": .string(String(repeating: "x", count: 400))]))
        for _ in 0..<5 { await hub.send(frame, to: id) }
        var delivered = 0
        for await _ in sent { delivered += 1 }  // ends: the hub finished the outbox
        #expect(delivered == 2)
        #expect(budget.bytes > 1_000)
    }

    @Test func writtenBytesFreeTheBudget() {
        let budget = OutboxBudget(limit: 100)
        #expect(budget.add(80))
        budget.remove(80)
        #expect(budget.add(80))
        #expect(!budget.add(80))
    }
}
