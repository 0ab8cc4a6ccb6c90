import Core
import Crypto
import Database
import Foundation
import Logging
import Realtime
import Redis
import ServiceLifecycle

/// A verified access token: whose it is and when it expires (unix seconds).
public struct VerifiedAccessToken: Sendable {
    public var userId: UUID
    public var expiresAt: Int

    public init(userId: UUID, expiresAt: Int) {
        self.userId = userId
        self.expiresAt = expiresAt
    }
}

/// The calls signalling service: device sessions on this instance, rooms in PostgreSQL,
/// device bindings and room membership shared by the instances (in Redis when the server has
/// it, else in PostgreSQL), frames to devices on other instances over the message bus.
public final class CallsService: Service, Sendable {
    let settings: CallsSettings
    let store: CallsStore
    /// Device bindings, live instances and room membership, shared by every instance.
    let live: any CallsLiveState
    let bus: any MessageBus
    let hub: CallsHub
    /// Room membership as this instance knows it (kept current by room changes on the bus).
    let membership = RoomMembership()
    let verify: @Sendable (String) async throws -> VerifiedAccessToken
    let logger: Logger
    /// Where finished 1:1 calls are reported (the chat), and their progress until then.
    let recorder: (any CallEventRecorder)?
    let outcomes: CallOutcomeTracker
    /// This process's id in `calls.instances` and on the bus.
    let instanceId: String
    /// Resume-grace timers of dropped sessions, cancelled when the service stops.
    let graceTimers = GraceTimers()
    private let key = SigningKeyCache()
    /// The operators' switches; `calls` stops new rooms (calls under way go on).
    let killSwitches: any KillSwitches
    /// Group calls' media through Janus (nil without `SFU_NODES`: sfu rooms answer `SFU_UNAVAILABLE`).
    let sfu: SfuCoordinator?

    public init(
        settings: CallsSettings, database: Database, bus: any MessageBus, logger: Logger, recorder: (any CallEventRecorder)? = nil,
        killSwitches: any KillSwitches = NoKillSwitches(), redis: RedisClient? = nil,
        verify: @escaping @Sendable (String) async throws -> VerifiedAccessToken
    ) {
        self.killSwitches = killSwitches
        self.settings = settings
        let store = CallsStore(database: database)
        self.store = store
        self.live = redis.map { RedisCallsLiveState(client: $0, rooms: store) } ?? store
        self.recorder = recorder
        self.outcomes = CallOutcomeTracker(database: database)
        self.bus = bus
        self.verify = verify
        self.logger = logger
        let hub = CallsHub()
        self.hub = hub
        let instance = "calls-" + UUID().uuidString.lowercased().prefix(12)
        self.instanceId = instance
        self.sfu = settings.sfu.map { sfu in
            SfuCoordinator(settings: sfu, store: SfuStore(database: database), instanceId: instance, logger: logger) { device, type, payload in
                await hub.session(for: device)?.send(type: type, payload: payload)
            }
        }
    }

    /// Receives relays from the bus, keeps this instance's presence fresh, closes emptied
    /// rooms and reports peers of vanished instances as gone. On graceful shutdown it stops
    /// before the server closes the database pools (see ``stop()``).
    public func run() async throws {
        let events = bus.subscribe()
        await sfu?.start()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events {
                    guard case .relay(let channel, let payload) = event, channel == CallsRelay.channel else { continue }
                    await self.receive(payload)
                }
            }
            group.addTask { await self.maintain() }
            group.addTask {
                try? await gracefulShutdown()
            }
            await group.next()
            group.cancelAll()
        }
        await stop()
    }

    /// Stops this instance's calls work while the database is still open (the server closes
    /// its pools only after every service has returned): pending resume-grace timers are
    /// cancelled, so none wakes up later to clean up rooms on a closed pool, and the instance
    /// retires its presence, so any other instance's sweep (or this one's next start) takes
    /// its peers out of their rooms with PEER_LEFT at once instead of after the heartbeat
    /// timeout.
    func stop() async {
        graceTimers.stop()
        await sfu?.stop()
        do {
            try await live.retire(instance: instanceId)
        } catch {
            if !Task.isCancelled {
                logger.warning(
                    "calls: retiring the instance failed; its peers leave their rooms once its heartbeat is \(CallsStore.instanceTimeoutSeconds) s old",
                    metadata: ["error": "\(error)"])
            }
        }
    }

    private func maintain() async {
        var beats = 0
        // Set when the live state forgot this instance, until its devices are bound again.
        var restoring = false
        while !Task.isCancelled {
            if beats % 5 == 0 {
                do {
                    if try await !live.heartbeat(instance: instanceId), beats > 0 { restoring = true }
                    if restoring { restoring = await !restoreHeldDevices() }
                } catch {
                    // A stopping service's cancelled query is not a failure.
                    if !Task.isCancelled { logger.warning("calls heartbeat failed", metadata: ["error": "\(error)"]) }
                }
            }
            if beats % 2 == 0 {
                do {
                    for (room, peer, version, remaining) in try await live.sweep(linger: settings.roomLinger) {
                        await hub.session(for: peer.deviceId)?.left(room)
                        await sfu?.forget(room: room, device: peer.deviceId)
                        await announcePeerLeft(room: room, peer: peer, version: version, to: remaining, reason: "disconnected")
                    }
                } catch {
                    if !Task.isCancelled { logger.warning("calls sweep failed", metadata: ["error": "\(error)"]) }
                }
            }
            if beats % 10 == 0 {
                await sweepCallOutcomes()
            }
            beats += 1
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Binds this instance's devices again and puts them back into their rooms, after the
    /// live state forgot the instance (Redis lost its data, or the instance stalled past the
    /// heartbeat timeout and was swept); the rooms' other peers get the new membership.
    /// False when it failed (the next heartbeat tries again).
    private func restoreHeldDevices() async -> Bool {
        var held: [HeldDevice] = []
        for session in await hub.allSessions() {
            guard let userId = await session.userId else { continue }
            held.append(HeldDevice(deviceId: session.deviceId, userId: userId, rooms: await session.joinedRooms()))
        }
        logger.warning("calls: the shared state had forgotten this instance; binding its devices again", metadata: ["devices": "\(held.count)"])
        do {
            try await live.restore(instance: instanceId, devices: held)
            for room in Set(held.flatMap(\.rooms)) {
                guard let (version, peers) = try await live.members(of: room) else { continue }
                await deliver(to: [], type: "", payload: JSONObject([:]), from: nil, update: RoomUpdate(room: room, version: version, peers: peers))
            }
            return true
        } catch {
            if !Task.isCancelled { logger.warning("calls: restoring devices failed", metadata: ["error": "\(error)"]) }
            return false
        }
    }

    /// The join-token key, loaded once.
    func signingKey() async throws -> SymmetricKey {
        try await key.get { try await self.store.signingKey() }
    }

    // MARK: Membership

    /// The room's peers: this instance's copy, or read from the live state (also when `fresh`);
    /// nil when there is no such room.
    func members(of room: UUID, fresh: Bool = false) async throws -> [RoomPeer]? {
        if !fresh, let peers = membership.peers(of: room) { return peers }
        let epoch = membership.epoch
        guard let (version, peers) = try await live.members(of: room) else { return nil }
        membership.apply(RoomUpdate(room: room, version: version, peers: peers), readAt: epoch)
        return peers
    }

    // MARK: Delivery

    /// Sends a frame to devices on any instance; `update` (a membership change just
    /// committed) is applied here at once and travels with it to every other instance.
    /// With `room`, a recipient gets the frame only while its session is in that room.
    func deliver(
        to devices: [String], type: String, payload: JSONObject, from: RelaySender?, room: UUID? = nil, update: RoomUpdate? = nil
    ) async {
        if let update { membership.apply(update) }
        guard !devices.isEmpty || update != nil else { return }
        await publish(.deliver(Delivery(
            devices: devices, type: type, payload: JSONText.encode(payload.value), from: from, room: room, update: update)))
    }

    func publish(_ relay: CallsRelay) async {
        do {
            var text = relay.encoded
            if CallsRelay.escapedLength(text) > CallsRelay.inlineLimit, case .deliver(var delivery) = relay, delivery.update?.peers != nil {
                // A large room's peers stay behind: the others drop their copy and read it when needed.
                delivery.update?.peers = nil
                text = CallsRelay.deliver(delivery).encoded
            }
            if CallsRelay.escapedLength(text) > CallsRelay.inlineLimit {
                let id = try await store.spill(text)
                text = CallsRelay.spilled(id).encoded
            }
            try await bus.publish(.relay(channel: CallsRelay.channel, payload: text))
        } catch {
            logger.error("calls relay failed", metadata: ["error": "\(error)"])
        }
    }

    /// One relay from the bus: its header is read once, the payload passed on as JSON text.
    private func receive(_ text: String) async {
        guard var relay = CallsRelay.decode(text) else { return }
        if case .spilled(let id) = relay {
            guard let stored = try? await store.spilled(id), let decoded = CallsRelay.decode(stored) else { return }
            relay = decoded
        }
        switch relay {
        case .deliver(let delivery):
            if let update = delivery.update { membership.apply(update) }
            // A frame within a room from a sender this instance's copy no longer lists (swept
            // out by another instance while its own instance still thought it in) goes nowhere.
            if let room = delivery.room, let sender = delivery.from, let peers = membership.peers(of: room),
                !peers.contains(where: { $0.deviceId == sender.deviceId })
            {
                return
            }
            for device in delivery.devices {
                await hub.session(for: device)?.send(type: delivery.type, payloadJSON: delivery.payload, from: delivery.from, onlyIn: delivery.room)
            }
        case .replace(let device, let keep):
            if let session = await hub.session(for: device), session.id != keep, await hub.remove(session) {
                await session.currentSocket?.close(CallsCloseCode.deviceReplaced.rawValue, reason: "DEVICE_REPLACED")
                await session.end()
                // Its media sessions are let go for the instance it moved to, which takes them
                // over when the device joins their rooms there (docs/sfu.md "Moving between instances").
                for room in await session.joinedRooms() { await sfu?.handOver(room: room, device: device) }
            }
        case .spilled:
            return
        }
    }

    func announcePeerLeft(room: UUID, peer: RoomPeer, version: Int64, to remaining: [RoomPeer], reason: String) async {
        await deliver(
            to: remaining.map(\.deviceId), type: "PEER_LEFT",
            payload: JSONObject(["roomId": room.uuidString.lowercased(), "userId": peer.userId.uuidString.lowercased(), "deviceId": peer.deviceId, "reason": reason]),
            from: nil, update: RoomUpdate(room: room, version: version, peers: remaining))
    }

    /// Takes the device out of every room it is in (only those joined through this
    /// instance when `onlyHere`), telling the remaining peers.
    func leaveAllRooms(deviceId: String, userId: UUID, reason: String, onlyHere: Bool = false) async {
        do {
            for room in try await live.rooms(of: deviceId, instance: onlyHere ? instanceId : nil) {
                await sfuLeave(room: room, device: deviceId)
                if let (version, remaining) = try await live.leave(roomId: room, deviceId: deviceId) {
                    await announcePeerLeft(
                        room: room, peer: RoomPeer(userId: userId, deviceId: deviceId, joinedAt: 0), version: version, to: remaining, reason: reason)
                }
            }
        } catch is CancellationError {
            // The service is stopping (a grace timer that had just fired): `stop()` retires
            // this instance, and the sweep takes its peers out of their rooms with PEER_LEFT.
            logger.debug("calls: leaving rooms interrupted by shutdown", metadata: ["device": "\(deviceId)"])
        } catch {
            logger.error("calls: leaving rooms failed", metadata: ["device": "\(deviceId)", "error": "\(error)"])
        }
    }

    /// Ends a session whose socket dropped, unless it resumed within the grace period. Once
    /// the service has stopped there is no timer: the retired instance's rooms are swept.
    func expireAfterGrace(_ session: DeviceSession) {
        graceTimers.start { [self] in
            let drop = await session.drops
            try? await Task.sleep(for: settings.resumeGrace)
            // Cancelled: the service stopped (see `stop()`).
            guard !Task.isCancelled else { return }
            guard await session.stillDropped(since: drop), await hub.remove(session) else { return }
            await session.end()
            guard let userId = await session.userId else { return }
            // Rooms the device has since joined through another instance are not this session's.
            await leaveAllRooms(deviceId: session.deviceId, userId: userId, reason: "disconnected", onlyHere: true)
            try? await live.releaseDevice(session.deviceId, instance: instanceId)
        }
    }

    // MARK: SFU

    /// Drops the device's media session in the room, if it has one here.
    func sfuLeave(room: UUID, device: String) async {
        await sfu?.leave(room: room, device: device)
    }

    /// `sfu.media` to the room's other devices (Janus tells nobody about a mute), over the
    /// room fan-out; this instance's participants keep the flags for the Streams they describe.
    func announceMute(room: UUID, device: SfuDevice, kind: String, muted: Bool, state: SfuMuteState) async {
        let identity = device.identity
        let others = (try? await members(of: room))?.map(\.deviceId).filter { $0 != identity.device } ?? []
        for local in await sfu?.localDevices(of: room) ?? [] where local !== device { await local.feedMuted(identity.feed, state) }
        await deliver(to: others, type: "sfu.media", payload: JSONObject([
            "roomId": room.uuidString.lowercased(), "epoch": device.placement.epoch, "feedId": identity.feed.uuidString.lowercased(),
            "userId": identity.user.uuidString.lowercased(), "deviceId": identity.device, "kind": kind, "muted": muted,
        ]), from: nil, room: room)
    }

    /// TURN credentials for a user, with the `iceServers` list (nil when TURN is not configured).
    public func turnCredentials(for userId: UUID) -> (credentials: TurnCredentials, iceServers: [[String: Any]], settings: TurnSettings)? {
        guard let turn = settings.turn else { return nil }
        let credentials = TurnCredentials(settings: turn, userID: userId)
        return (credentials, credentials.iceServers(urls: turn.urls), turn)
    }
}

/// Loads the shared signing key once (concurrent callers wait for the same load).
actor SigningKeyCache {
    private var task: Task<SymmetricKey, any Error>?

    func get(_ load: @escaping @Sendable () async throws -> SymmetricKey) async throws -> SymmetricKey {
        let current = task ?? Task { try await load() }
        task = current
        do {
            return try await current.value
        } catch {
            task = nil
            throw error
        }
    }
}
