import Core
import Foundation
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

/// The realtime server of one instance: accepts WebSocket clients, and turns bus events
/// (committed changes, broadcasts, presence) into frames for the channels allowed to see them.
///
/// Run it as a service: ``run()`` consumes the bus until shutdown.
public final class RealtimeService: Service, ChangePublisher {
    let hub: RealtimeHub
    let bus: any MessageBus
    let membership: MembershipCache
    /// The module that owns the tables whose changes are delivered.
    let feed: any ChangeFeed
    let verify: AccessTokenVerifier
    let limits: RealtimeLimits
    let logger: Logger
    /// The bus subscription, taken at creation so no event published after start-up is missed.
    private let events: AsyncStream<BusEvent>

    public init(
        feed: any ChangeFeed, bus: any MessageBus, verify: @escaping AccessTokenVerifier, limits: RealtimeLimits = RealtimeLimits(),
        logger: Logger
    ) {
        self.hub = RealtimeHub(catalogs: ChangeCatalogs(feed: feed.tables), logger: logger)
        self.bus = bus
        self.membership = MembershipCache(feed: feed)
        self.feed = feed
        self.verify = verify
        self.limits = limits
        self.logger = logger
        self.events = bus.subscribe()
    }

    /// Sockets connected to this instance.
    public var connectionCount: Int {
        get async { await hub.socketCount }
    }

    // MARK: Publishing

    public func publish(_ changes: [ChangeEnvelope]) async {
        for change in changes {
            do {
                try await bus.publish(.change(change))
            } catch {
                logger.error("could not publish a change; subscribers will catch up by seq", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Delivers a change to this instance's subscribers only, never onto the bus: for changes
    /// every instance reads for itself (the feed's writes made outside the server, which
    /// ``ChangeLogReader`` reads from the change log).
    func deliverHere(_ change: ChangeEnvelope) async {
        await dispatch(.change(change))
    }

    // MARK: Dispatch

    /// Dispatches bus events until shutdown, then closes every socket.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                // Events of one conversation (or topic) stay in order in one lane; lanes run in
                // parallel so one conversation's database reads do not hold up the others.
                let lanes = (0..<Self.laneCount).map { _ in AsyncStream<BusEvent>.makeStream(bufferingPolicy: .unbounded) }
                for lane in lanes {
                    group.addTask {
                        for await event in lane.stream { await self.dispatch(event) }
                    }
                }
                group.addTask {
                    for await event in self.events {
                        if case .relay = event { continue }
                        lanes[Self.lane(of: event)].continuation.yield(event)
                    }
                    for lane in lanes { lane.continuation.finish() }
                }
                group.addTask { await self.closeExpiredChannels() }
                group.addTask { await self.keepPresenceAlive() }
                await group.next()
                for lane in lanes { lane.continuation.finish() }
                group.cancelAll()
            }
        }
        await closeSockets()
    }

    /// Closes every socket (normal closure, after what is queued for it) and waits until they
    /// are gone, at most ``closeHandshakeTimeout`` and a second: no task waits on a socket, so
    /// nothing else closes them before the process exits.
    private func closeSockets() async {
        await hub.finishAll()
        let deadline = ContinuousClock.now + .nanoseconds(Self.closeHandshakeTimeout.nanoseconds) + .seconds(1)
        while await hub.socketCount > 0, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Parallel dispatch lanes.
    static let laneCount = 8

    /// The lane of an event: by conversation for changes, by topic otherwise.
    static func lane(of event: BusEvent) -> Int {
        let key: String
        switch event {
        case .change(let change): key = change.conversationID.uuidString
        case .broadcast(let topic, _, _), .userBroadcast(let topic, _, _), .presence(let topic, _, _, _): key = topic
        case .relay(let channel, _): key = channel
        case .instanceAlive(let origin): key = origin
        }
        var hash: UInt32 = 2_166_136_261
        for byte in key.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int(hash % UInt32(laneCount))
    }

    /// How often this instance tells the others that the presences it tracks are live.
    public static let presenceHeartbeat = Duration.seconds(5)
    /// How long an instance may stay silent before its presences are dropped everywhere.
    public static let presenceTimeout = Duration.seconds(15)

    /// Announces this instance every ``presenceHeartbeat`` and drops the presences of
    /// instances silent past ``presenceTimeout``.
    private func keepPresenceAlive() async {
        let origin = hub.instanceID
        while !Task.isCancelled {
            await republish(.instanceAlive(origin: origin))
            try? await Task.sleep(for: Self.presenceHeartbeat)
            await hub.expireSilentInstances(timeout: Self.presenceTimeout)
        }
    }

    /// Closes channels whose access token expired (clients send a fresh one in time).
    private func closeExpiredChannels() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(5))
            for (socket, topic) in await hub.expiredChannels(now: Int(Date().timeIntervalSince1970)) {
                await republish(await hub.shut(topic, socket: socket, reason: "Token has expired; send a fresh access_token"))
            }
        }
    }

    func dispatch(_ event: BusEvent) async {
        switch event {
        case .relay:
            return
        case .broadcast(let topic, let payload, let origin):
            await hub.deliverBroadcast(topic: topic, payload: payload, origin: origin)
        case .userBroadcast(let topic, let payload, let origin):
            await hub.deliverBroadcast(topic: topic, payload: payload, origin: origin, userBroadcast: true)
        case .presence(let topic, let joins, let leaves, let origin):
            await hub.applyPresence(topic: topic, joins: joins, leaves: leaves, origin: origin)
        case .instanceAlive(let origin):
            if await hub.heard(origin) {
                for announcement in await hub.localPresenceAnnouncements() { await republish(announcement) }
            }
        case .change(let change):
            do {
                // Membership first: a new member sees their own addition.
                if let membership = change.membership { await self.membership.apply(membership, in: change.conversationID) }
                var members = try await membership.members(of: change.conversationID)
                if case .left(let user)? = change.membership {
                    // The removed member learns of their own removal, then nothing more.
                    members.insert(user)
                }
                var wanted = true
                if change.type != .delete {
                    // A row nobody here subscribes to is neither read nor encoded (expired
                    // channels close on their timer).
                    wanted = await hub.wantsChange(table: change.table, type: change.type, members: members)
                }
                let record: [String: JSONValue]?
                switch (change.type, change.record) {
                case (.delete, _): record = nil
                case (_, .object(let carried)?): record = carried
                default:
                    if wanted {
                        guard let read = try await feed.record(for: change) else { return }
                        record = read
                    } else {
                        record = nil
                    }
                }
                if wanted {
                    let prepared = PreparedChange(change, record: record, catalog: hub.catalogs.current)
                    let expired = await hub.deliverChange(prepared, members: members, now: Int(Date().timeIntervalSince1970))
                    for (socket, topic) in expired {
                        await republish(await hub.shut(topic, socket: socket, reason: "Token has expired; send a fresh access_token"))
                    }
                }
                if case .left(let user)? = change.membership {
                    for (socket, topic) in await hub.conversationChannels(of: user, conversation: change.conversationID) {
                        await republish(await hub.shut(topic, socket: socket, reason: "Unauthorized: no longer a member of this conversation"))
                    }
                }
            } catch {
                logger.warning("could not deliver a change", metadata: ["error": "\(error)", "table": "\(change.table)"])
            }
        }
    }

    private func republish(_ event: BusEvent?) async {
        guard let event else { return }
        try? await bus.publish(event)
    }
}
