import Foundation
import Logging

/// The calls service's side of the SFU (spec sfu-janus.md §3, §4): the Janus nodes with their
/// health, placement of sfu rooms on the least-loaded healthy node, this instance's device
/// participants, and the recovery of rooms whose node died (a new epoch on another node).
actor SfuCoordinator {
    let settings: SfuSettings
    let store: SfuStore
    let instanceId: String
    let logger: Logger
    /// Pushes a frame to a device on this instance.
    let push: @Sendable (String, String, JSONObject) async -> Void
    private var nodes: [String: SfuNode] = [:]
    /// This instance's participants by room, then device.
    private var devices: [UUID: [String: SfuDevice]] = [:]
    /// The placements being replaced, each by one task (a room is moved once per failure).
    private var recoveries: [SfuPlacement: Task<Void, Never>] = [:]
    let metrics = SfuMetrics()
    private var sweeper: Task<Void, Never>?
    /// Nodes whose failure is being handled.
    private var failing: Set<String> = []
    /// A node that fails this many probes in a row is down.
    static let failedProbesForDown = 3
    /// A node that came back must answer this long before it takes rooms again.
    static let recoverySeconds = 30

    init(settings: SfuSettings, store: SfuStore, instanceId: String, logger: Logger, push: @escaping @Sendable (String, String, JSONObject) async -> Void) {
        self.settings = settings
        self.store = store
        self.instanceId = instanceId
        self.logger = logger
        self.push = push
    }

    /// Registers the configured nodes and starts their sockets and probes.
    func start() async {
        do {
            try await store.register(settings.nodes, capacity: settings.capacityStreams)
        } catch {
            logger.error("sfu: registering the Janus nodes failed", metadata: ["error": "\(error)"])
        }
        for entry in settings.nodes {
            let node = SfuNode(id: entry.id, url: entry.url, settings: settings, instanceId: instanceId, logger: logger)
            nodes[entry.id] = node
            await node.start(
                health: { [weak self] node, ok in await self?.probed(node, ok: ok) },
                unreachable: { [weak self] node in await self?.nodeFailed(node) })
        }
        let interval = settings.sweepInterval
        sweeper = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.sweep()
            }
        }
    }

    // MARK: Sweep

    /// Compares each reachable node's Janus rooms (`list` with the admin key, which shows
    /// private rooms) with `calls.sfu_rooms` (§3.4 "Sweeper"): a Janus room of this service
    /// that no row names is destroyed (left by a failed close or a node declared dead while it
    /// lived); a ready row whose Janus room is gone is recovered, as if Janus had said
    /// `destroyed`, by the instance with members in it.
    func sweep() async {
        for (id, node) in nodes where await node.connection.isConnected && !failing.contains(id) {
            do {
                let listed = try await node.admin(JSONObject(["request": "list"])).value["list"] as? [[String: Any]] ?? []
                let placements = try await store.rooms(on: id)
                let known = Set(placements.map(\.janusRoomId))
                var present: Set<Int64> = []
                for entry in listed {
                    guard let janusRoom = JanusMessage.id(entry["room"]) else { continue }
                    present.insert(janusRoom)
                    guard !known.contains(janusRoom), let (room, epoch) = SfuWire.parseRoomDescription(entry["description"] as? String) else { continue }
                    // Only a room made with this deployment's key opens to the derived secret.
                    let secret = SfuWire.roomSecret(key: settings.roomKey, room: room, epoch: epoch)
                    do {
                        try await node.admin(JSONObject(["request": "destroy", "room": janusRoom, "secret": secret]))
                        logger.info("sfu: destroyed a Janus room no placement names", metadata: ["node": "\(id)", "room": "\(room)"])
                    } catch {
                        logger.debug("sfu: a Janus room no placement names is not ours to destroy", metadata: ["node": "\(id)", "error": "\(error)"])
                    }
                }
                for placement in placements where placement.state == "ready" && !present.contains(placement.janusRoomId) {
                    guard let member = devices[placement.roomId]?.values.first(where: { $0.placement.epoch == placement.epoch }) else { continue }
                    logger.warning("sfu: a placed room's Janus room is gone", metadata: ["node": "\(id)", "room": "\(placement.roomId)"])
                    await lost(member, .room)
                }
            } catch {
                if !Task.isCancelled { logger.warning("sfu: sweeping a node failed", metadata: ["node": "\(id)", "error": "\(error)"]) }
            }
        }
        await sweepParticipants()
    }

    /// This instance's participants against their rows (§3.4 "Sweeper"): one whose row is
    /// gone (another instance forgot it, taking this one for dead) leaves Janus, ending its
    /// session; one another instance holds now (it took it over) is only dropped here.
    private func sweepParticipants() async {
        for (room, members) in devices {
            for (device, participant) in members {
                let holder: String?
                do {
                    holder = try await store.holder(room: room, device: device)
                } catch {
                    continue
                }
                guard holder != instanceId, devices[room]?[device] === participant else { continue }
                devices[room]?[device] = nil
                if let holder {
                    logger.info("sfu: another instance took a participant over", metadata: ["room": "\(room)", "holder": "\(holder)"])
                    await participant.abandon()
                } else {
                    logger.warning("sfu: a participant's row is gone; ending its Janus session", metadata: ["room": "\(room)"])
                    try? await end(participant)
                }
            }
            if devices[room]?.isEmpty == true { devices[room] = nil }
        }
        countParticipants()
    }

    /// Leaves every participant of this instance (their rows and emptied rooms go too) and
    /// closes the nodes' sockets; recoveries under way stop.
    func stop() async {
        sweeper?.cancel()
        for task in recoveries.values { task.cancel() }
        for (room, members) in devices { for device in members.keys { await leave(room: room, device: device) } }
        devices = [:]
        for node in nodes.values { await node.stop() }
    }

    // MARK: Health

    private func probed(_ node: SfuNode, ok: Bool) async {
        do {
            metrics.node(node.id, up: ok)
            if ok {
                failing.remove(node.id)
                try await store.nodeAnswered(node.id, recoverySeconds: Self.recoverySeconds)
            } else if await node.consecutiveFailures >= Self.failedProbesForDown || failing.contains(node.id) {
                await nodeFailed(node)
            }
        } catch {
            if !Task.isCancelled { logger.warning("sfu: recording a node's health failed", metadata: ["node": "\(node.id)", "error": "\(error)"]) }
        }
    }

    /// Marks the node down (again: a failing node's `down_since` follows its last failure)
    /// and, once per failure, moves the rooms this instance has members in.
    private func nodeFailed(_ node: SfuNode) async {
        let first = !failing.contains(node.id)
        failing.insert(node.id)
        metrics.node(node.id, up: false)
        if first {
            logger.warning("sfu: Janus node is down; moving its rooms", metadata: ["node": "\(node.id)"])
            metrics.nodeFailed(node.id)
        }
        do {
            _ = try await store.nodeFailed(node.id)
        } catch {
            logger.warning("sfu: recording a node's failure failed", metadata: ["node": "\(node.id)", "error": "\(error)"])
        }
        if first { await recoverRooms(of: node.id) }
    }

    /// Moves every room of a failed node that has members here: tells them the media path is
    /// lost, places the room again (or waits for the instance that does), re-creates each
    /// participant there and tells the device to renegotiate (§4.3).
    private func recoverRooms(of nodeId: String) async {
        for (room, members) in devices {
            let affected = members.values
            var old: SfuPlacement?
            for device in affected where device.placement.nodeId == nodeId {
                old = device.placement
                await push(device.identity.device, "sfu.interrupted", JSONObject(["roomId": room.uuidString.lowercased(), "epoch": device.placement.epoch, "reason": "node_failed"]))
            }
            guard let old, recoveries[old] == nil else { continue }
            metrics.recovered("node_failed")
            recoveries[old] = Task { await self.recover(room: room, from: old) }
        }
    }

    /// A participant's Janus room or session vanished while its node lives on: the room is
    /// placed again (every member told, as for a failed node), or the one participant made
    /// again and its device told to renegotiate (`session_lost`).
    private func lost(_ device: SfuDevice, _ loss: SfuLoss) async {
        let identity = device.identity
        let room = identity.room
        guard devices[room]?[identity.device] === device else { return }
        let roomText = room.uuidString.lowercased()
        switch loss {
        case .room:
            let old = device.placement
            guard recoveries[old] == nil else { return }
            for member in devices[room]?.values ?? [:].values where member.placement.epoch == old.epoch {
                await push(member.identity.device, "sfu.interrupted", JSONObject(["roomId": roomText, "epoch": old.epoch, "reason": "node_failed"]))
            }
            recoveries[old] = Task { await self.recover(room: room, from: old) }
            metrics.recovered("room_lost")
        case .session:
            metrics.recovered("session_lost")
            await device.abandon()
            await push(identity.device, "sfu.interrupted", JSONObject(["roomId": roomText, "epoch": device.placement.epoch, "reason": "session_lost"]))
            do {
                let fresh = try await participant(identity, placement: device.placement)
                devices[room, default: [:]][identity.device] = fresh
                await push(identity.device, "sfu.restart", JSONObject(["roomId": roomText, "epoch": device.placement.epoch, "reason": "session_lost"]))
                await push(identity.device, "sfu.feeds", await fresh.snapshot())
            } catch {
                logger.warning("sfu: re-creating a lost participant failed", metadata: ["room": "\(room)", "error": "\(error)"])
                devices[room]?[identity.device] = nil
                if devices[room]?.isEmpty == true { devices[room] = nil }
                countParticipants()
                _ = try? await store.deleteParticipant(room: room, device: identity.device)
                try? await closeEmptied(room)
            }
        }
    }

    private func recover(room: UUID, from old: SfuPlacement) async {
        defer { recoveries[old] = nil }
        let started = ContinuousClock.now
        var warned = false
        while !Task.isCancelled {
            // Everyone left meanwhile: nothing to move (the room closed with its last member).
            guard devices[room]?.values.contains(where: { $0.placement.epoch == old.epoch }) == true else { return }
            do {
                if try await store.beginRecovery(old) {
                    logger.info("sfu: re-placing a room", metadata: ["room": "\(room)", "from": "\(old.nodeId)"])
                }
                let placement = try await place(room, replacing: old)
                for (_, device) in devices[room] ?? [:] where device.placement.epoch == old.epoch {
                    await device.abandon()
                    let identity = device.identity
                    let fresh = try await participant(identity, placement: placement)
                    devices[room, default: [:]][identity.device] = fresh
                    let epoch = placement.epoch
                    await push(identity.device, "sfu.restart", JSONObject(["roomId": room.uuidString.lowercased(), "epoch": epoch, "reason": "node_failed"]))
                    await push(identity.device, "sfu.feeds", await fresh.snapshot())
                }
                return
            } catch {
                if !warned, ContinuousClock.now - started > .seconds(60) {
                    warned = true
                    for (_, device) in devices[room] ?? [:] {
                        await push(device.identity.device, "sfu.interrupted", JSONObject(["roomId": room.uuidString.lowercased(), "epoch": old.epoch, "reason": "no_capacity"]))
                    }
                }
                logger.warning("sfu: recovering a room failed; retrying in 5 s", metadata: ["room": "\(room)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(5))
            }
        }
    }

    // MARK: Placement

    /// The room's ready placement: placed now (on the least-loaded healthy node) if it has
    /// none, or waited for (5 s at most) while another instance places it.
    func place(_ room: UUID, replacing old: SfuPlacement? = nil) async throws -> SfuPlacement {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            var claimable = false
            var replacing: SfuPlacement?
            if let current = try await store.placement(of: room) {
                if current.state == "ready", current.epoch > (old?.epoch ?? 0) {
                    guard try await store.nodeState(current.nodeId) == "down" else { return current }
                    // Placed on a node that has died since, and nobody has moved it yet.
                    if try await store.beginRecovery(current) {
                        replacing = current
                        claimable = true
                    }
                } else if current.state == "recovering", old == nil || current.epoch == old?.epoch {
                    replacing = current
                    claimable = true
                } else if current.stale, current.state == "creating", try await store.beginRecovery(current) {
                    // Left half-placed by an instance that died: placed again, a new epoch.
                    replacing = current
                    claimable = true
                }
            } else {
                claimable = true
            }
            if claimable {
                let (claimed, noNode) = try await store.claimPlacement(of: room, replacing: replacing)
                if noNode { throw CallsError(.sfuUnavailable, "no media server can take the call now", details: ["retryAfterMs": 5000]) }
                if let claimed { return try await create(claimed) }
            }
            guard ContinuousClock.now < deadline else {
                throw CallsError(.sfuUnavailable, "the call's media server is not ready yet", details: ["retryAfterMs": 1000])
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The room's video codecs as Janus's `create` takes them: VP8, or H.264 (constrained
    /// baseline 3.1) with VP8 for publishers that offer only that (§5).
    static func codecFields(_ codec: String) -> [String: Any] {
        codec == "h264" ? ["videocodec": "h264,vp8", "h264_profile": "42e01f"] : ["videocodec": "vp8"]
    }

    /// The video codecs clients may send in a room, preferred first.
    static func videoCodecs(_ codec: String) -> [String] { codec == "h264" ? ["h264", "vp8"] : ["vp8"] }

    /// Creates the Janus room of a claimed placement and marks it ready.
    private func create(_ claimed: SfuPlacement) async throws -> SfuPlacement {
        var placement = claimed
        do {
            guard let node = nodes[claimed.nodeId] else { throw JanusUnavailable(reason: "node \(claimed.nodeId) is not in this instance's SFU_NODES") }
            try await node.admin(JSONObject([
                "request": "create", "room": placement.janusRoomId, "permanent": false, "is_private": true,
                "description": SfuWire.roomDescription(room: placement.roomId, epoch: placement.epoch),
                "secret": SfuWire.roomSecret(key: settings.roomKey, room: placement.roomId, epoch: placement.epoch),
                "allowed": [String](), "require_pvtid": true, "publishers": settings.maximumPublishers, "bitrate": settings.maximumBitrate,
                "bitrate_cap": true, "fir_freq": 10, "audiocodec": "opus", "opus_fec": true, "opus_dtx": false,
                "audiolevel_ext": true, "audiolevel_event": true, "audio_active_packets": 50, "audio_level_average": 40,
                "notify_joining": false, "record": false,
            ].merging(Self.codecFields(placement.videoCodec)) { _, codec in codec }))
            try await store.markReady(placement)
            placement.state = "ready"
            return placement
        } catch {
            try? await store.dropPlacement(placement)
            logger.warning("sfu: creating a Janus room failed", metadata: ["node": "\(placement.nodeId)", "error": "\(error)"])
            throw CallsError(.sfuUnavailable, "the media server did not take the call", details: ["retryAfterMs": 1000])
        }
    }

    // MARK: Participants

    /// Creates the device's participant in the room (placing the room first if needed), or
    /// takes over the one another instance holds for it (`resumed`: its PeerConnections go on).
    func join(room: UUID, device: String, user: UUID) async throws -> (participant: SfuDevice, resumed: Bool) {
        // A device joining again here leaves its previous participant first (token, row and all).
        if devices[room]?[device] != nil { await leave(room: room, device: device) }
        let placement = try await place(room)
        if let taken = await takeOver(room: room, device: device, user: user, placement: placement) {
            devices[room, default: [:]][device] = taken
            countParticipants()
            return (taken, true)
        }
        let identity = SfuDevice.Identity(room: room, device: device, user: user, feed: UUID())
        let participant = try await participant(identity, placement: placement)
        devices[room, default: [:]][device] = participant
        countParticipants()
        return (participant, false)
    }

    /// §3.4 "Resume elsewhere": a device that comes back through this instance while another
    /// holds its participant (that instance died, or the device left it) gets it back as it
    /// was: the row taken by compare-and-set on `instance_id`, then its Janus session claimed,
    /// so its events come here and its PeerConnections keep their media. Nil when there is
    /// nothing to take (no row, another epoch or user, the race lost, or the session gone:
    /// the device then gets a fresh participant).
    private func takeOver(room: UUID, device: String, user: UUID, placement: SfuPlacement) async -> SfuDevice? {
        guard let node = nodes[placement.nodeId] else { return nil }
        do {
            guard let held = try await store.heldParticipant(room: room, device: device), held.instanceId != instanceId,
                held.row.userId == user, held.row.epoch == placement.epoch,
                try await store.takeOver(room: room, device: device, from: held.instanceId, to: instanceId)
            else { return nil }
            let row = held.row
            // Streams first, so no event after the claim is missed.
            let sessionEvents = await node.connection.events(of: row.sessionId)
            let publisherEvents = await node.connection.events(of: row.publisherHandle)
            let subscriberEvents: AsyncStream<JanusMessage>? = if let handle = held.subscriberHandle { await node.connection.events(of: handle) } else { nil }
            do {
                try await node.claim(row.sessionId)
            } catch {
                for id in [row.sessionId, row.publisherHandle] + (held.subscriberHandle.map { [$0] } ?? []) { await node.connection.stopEvents(of: id) }
                logger.info("sfu: a participant to take over had lost its Janus session", metadata: ["room": "\(room)", "error": "\(error)"])
                return nil
            }
            let identity = SfuDevice.Identity(room: room, device: device, user: user, feed: row.feedId)
            let token = SfuWire.participantToken(key: settings.roomKey, room: room, epoch: placement.epoch, device: device, janusFeed: row.janusFeedId)
            let push = self.push
            let participant = SfuDevice(
                identity: identity, node: node, placement: placement, session: row.sessionId, publisher: row.publisherHandle,
                janusFeed: row.janusFeedId, privateId: row.privateId, token: token, settings: settings, store: store, logger: logger,
                push: { type, payload in await push(device, type, payload) })
            await participant.restore(publishing: held.publishing, streams: held.streams, subscriber: held.subscriberHandle, subscription: held.subscription)
            let store = self.store
            await participant.listen(
                to: publisherEvents, sessionEvents: sessionEvents, subscriberEvents: subscriberEvents,
                initial: try await store.publishedFeeds(room: room, epoch: placement.epoch, except: device),
                mutes: try await store.muteStates(room: room), own: try await store.muteState(room: room, device: device),
                readMutes: { try? await store.muteStates(room: room) },
                lost: { [weak self] device, loss in await self?.lost(device, loss) })
            await participant.settle()
            metrics.takenOver()
            logger.info("sfu: took a participant over from another instance", metadata: ["room": "\(room)", "from": "\(held.instanceId)"])
            return participant
        } catch {
            logger.warning("sfu: taking a participant over failed", metadata: ["room": "\(room)", "error": "\(error)"])
            return nil
        }
    }

    /// The device now talks to another instance (`DEVICE_REPLACED`): its participant is let go
    /// without leaving Janus, for that instance to take over when the device joins the room
    /// there. One not taken over within ``handOverSeconds`` leaves Janus from here.
    func handOver(room: UUID, device: String) {
        guard let participant = devices[room]?[device] else { return }
        devices[room]?[device] = nil
        if devices[room]?.isEmpty == true { devices[room] = nil }
        countParticipants()
        Task {
            await participant.release()
            try? await Task.sleep(for: .seconds(Self.handOverSeconds))
            await self.endHandOver(participant)
        }
    }

    /// How long a participant let go waits for another instance to take it over.
    static let handOverSeconds = 10

    private func endHandOver(_ participant: SfuDevice) async {
        do {
            guard try await isOurs(participant) else { return await participant.abandon() }
            try await end(participant)
        } catch {
            logger.warning("sfu: ending a participant let go failed", metadata: ["room": "\(participant.identity.room)", "error": "\(error)"])
        }
    }

    /// Ends a participant this instance holds: it leaves Janus (§3.2 order), its token leaves
    /// the room's ACL, and the Janus room goes with the room's last participant.
    private func end(_ participant: SfuDevice) async throws {
        await participant.leave()
        let placement = participant.placement
        if let node = nodes[placement.nodeId] {
            let secret = SfuWire.roomSecret(key: settings.roomKey, room: placement.roomId, epoch: placement.epoch)
            _ = try? await node.admin(JSONObject(["request": "allowed", "room": placement.janusRoomId, "secret": secret, "action": "remove", "allowed": [participant.token]]))
        }
        try await closeEmptied(placement.roomId)
    }

    /// Deletes the participant's row if this instance still holds it, and says whether its
    /// Janus session is this instance's to end: false only when another instance has taken it
    /// over (Janus does not fence a claimed session, so the old holder must leave it alone).
    private func isOurs(_ participant: SfuDevice) async throws -> Bool {
        let identity = participant.identity
        if try await store.deleteParticipant(room: identity.room, device: identity.device, heldBy: (instanceId, participant.session)) { return true }
        let holder = try await store.holder(room: identity.room, device: identity.device, session: participant.session)
        return holder == nil || holder == instanceId
    }

    /// §3.2 "Device participant": the token admitted to the room's ACL, a session, a
    /// publisher handle joined with a feed id of this service's choosing.
    private func participant(_ identity: SfuDevice.Identity, placement: SfuPlacement) async throws -> SfuDevice {
        guard let node = nodes[placement.nodeId] else { throw CallsError(.sfuUnavailable, "unknown media server", details: ["retryAfterMs": 1000]) }
        let secret = SfuWire.roomSecret(key: settings.roomKey, room: placement.roomId, epoch: placement.epoch)
        var session: Int64?
        do {
            let createdSession = try await node.createSession()
            session = createdSession
            let sessionEvents = await node.connection.events(of: createdSession)
            let handle = try await node.attach(session: createdSession)
            let publisherEvents = await node.connection.events(of: handle)
            var attempts = 0
            while true {
                attempts += 1
                let janusFeed = SfuStore.randomJanusId()
                let token = SfuWire.participantToken(key: settings.roomKey, room: placement.roomId, epoch: placement.epoch, device: identity.device, janusFeed: janusFeed)
                try await node.admin(JSONObject(["request": "allowed", "room": placement.janusRoomId, "secret": secret, "action": "add", "allowed": [token]]))
                let joined: JanusMessage
                do {
                    joined = try await node.pluginRequest(session: createdSession, handle: handle, JSONObject([
                        "request": "join", "ptype": "publisher", "room": placement.janusRoomId, "id": janusFeed,
                        "display": SfuWire.display(user: identity.user, device: identity.device, feed: identity.feed), "token": token,
                    ]))
                } catch let error as JanusError where error.code == 436 && attempts < 3 {
                    continue
                }
                guard let privateId = JanusMessage.id(joined.plugin["private_id"]) else {
                    throw JanusUnavailable(reason: "join answered without a private id")
                }
                let initial = (joined.plugin["publishers"] as? [[String: Any]] ?? []).compactMap(SfuFeed.init(janus:))
                let mutes = try await store.muteStates(room: placement.roomId)
                try await store.saveParticipant(SfuParticipantRow(
                    roomId: placement.roomId, deviceId: identity.device, userId: identity.user, epoch: placement.epoch, feedId: identity.feed,
                    janusFeedId: janusFeed, sessionId: createdSession, publisherHandle: handle, privateId: privateId), instance: instanceId)
                let push = self.push
                let device = SfuDevice(
                    identity: identity, node: node, placement: placement, session: createdSession, publisher: handle, janusFeed: janusFeed,
                    privateId: privateId, token: token, settings: settings, store: store, logger: logger,
                    push: { type, payload in await push(identity.device, type, payload) })
                let own = try await store.muteState(room: placement.roomId, device: identity.device)
                let store = self.store
                let room = placement.roomId
                await device.listen(
                    to: publisherEvents, sessionEvents: sessionEvents, initial: initial, mutes: mutes, own: own,
                    readMutes: { try? await store.muteStates(room: room) },
                    lost: { [weak self] device, loss in await self?.lost(device, loss) })
                return device
            }
        } catch {
            if let session { await node.destroySession(session) }
            logger.warning("sfu: creating a participant failed", metadata: ["node": "\(placement.nodeId)", "error": "\(error)"])
            throw SfuDevice.clientError(error, logger: logger)
        }
    }

    private func countParticipants() { metrics.participants(devices.values.reduce(0) { $0 + $1.count }) }

    /// The device's participant in the room on this instance.
    func device(room: UUID, device: String) -> SfuDevice? { devices[room]?[device] }

    /// The devices of the room on this instance.
    func localDevices(of room: UUID) -> [SfuDevice] { Array((devices[room] ?? [:]).values) }

    /// Forgets the participant of a device whose instance vanished (the calls sweep took it
    /// out of the room): its row goes, and the Janus room with the room's last member. Its
    /// Janus session ends by itself (`session_timeout`), which the others see as `leaving`.
    func forget(room: UUID, device: String) async {
        if devices[room]?[device] != nil { return await leave(room: room, device: device) }
        do {
            try await store.deleteParticipant(room: room, device: device)
            try await closeEmptied(room)
        } catch {
            logger.warning("sfu: forgetting a vanished participant failed", metadata: ["room": "\(room)", "error": "\(error)"])
        }
    }

    /// Destroys the room's Janus room when its last participant is gone.
    private func closeEmptied(_ room: UUID) async throws {
        if let closed = try await store.closeIfEmpty(room), let node = nodes[closed.nodeId] {
            let secret = SfuWire.roomSecret(key: settings.roomKey, room: room, epoch: closed.epoch)
            _ = try? await node.admin(JSONObject(["request": "destroy", "room": closed.janusRoomId, "secret": secret]))
        }
    }

    /// Drops the device's SFU state (§3.2 "sfu.leave"); the room's Janus room goes with its
    /// last member. A participant another instance has taken over meanwhile is only dropped
    /// here: Janus does not fence, so this instance must not end a session it no longer holds.
    func leave(room: UUID, device: String) async {
        guard let participant = devices[room]?[device] else { return }
        devices[room]?[device] = nil
        if devices[room]?.isEmpty == true { devices[room] = nil }
        countParticipants()
        do {
            guard try await isOurs(participant) else { return await participant.abandon() }
            try await end(participant)
        } catch {
            logger.warning("sfu: recording a leave failed", metadata: ["room": "\(room)", "error": "\(error)"])
            await participant.leave()
        }
    }

    /// Records publishing (the streams, for the node's load estimate and for an instance
    /// taking the participant over).
    func published(_ participant: SfuDevice) async {
        let streams = await participant.publishing ? await participant.ownStreams : nil
        do {
            try await store.setPublishing(room: participant.identity.room, device: participant.identity.device, streams: streams, node: participant.placement.nodeId)
        } catch {
            logger.warning("sfu: recording publishing failed", metadata: ["error": "\(error)"])
        }
    }
}
