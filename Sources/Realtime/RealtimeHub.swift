import Core
import Foundation
import Logging
import NIOCore

/// What a socket's writer task sends: a ready frame, or a change it still has to filter
/// for one of its channels (see ``PreparedChange``).
enum Outbound: Sendable {
    case text(String)
    /// A binary frame (a 2.0.0 user broadcast, ``UserBroadcastFrame``).
    case binary(ByteBuffer)
    case change(PreparedChange, ChangeSubscriber)
}

/// The realtime state of one instance: connected sockets, their channels, presence per
/// topic; and the dispatch of bus events to the channels that may see them.
///
/// Everything here is cheap bookkeeping: the hub is one serial path every socket uses (a
/// heartbeat reply goes through it), so no per-subscriber filtering or encoding runs on it.
actor RealtimeHub {
    typealias SocketID = UUID

    struct Socket {
        var version: PhoenixFrame.Version
        var outbox: SocketOutbox
        var budget: OutboxBudget
        var channels: [String: RealtimeChannel] = [:]
    }

    /// This instance's name on the bus (origin of broadcasts and presence diffs).
    let instanceID = UUID().uuidString.lowercased()
    private var sockets: [SocketID: Socket] = [:]
    /// topic → sockets joined to it.
    private var topics: [String: Set<SocketID>] = [:]
    /// topic → presence key → phx_ref → meta.
    private var presence: [String: [String: [String: JSONValue]]] = [:]
    /// phx_ref → where a replicated presence sits and the instance that tracks it.
    private var presenceOrigins: [String: (topic: String, key: String, origin: String)] = [:]
    /// instance → when the bus last carried a sign of life from it (presence or heartbeat).
    private var lastHeard: [String: ContinuousClock.Instant] = [:]
    /// instance → heartbeats heard from it since it was first heard (or came back).
    private var heartbeats: [String: Int] = [:]
    /// topic → presence key → metas tracked by this instance's channels (kept with `tracked`,
    /// so the presence caps are exact on this instance without a scan).
    private var localPresence: [String: [String: Int]] = [:]
    /// user → sockets with a channel joined as that user, and socket → those users (the
    /// per-user socket cap without a scan).
    private var userSockets: [UUID: Set<SocketID>] = [:]
    private var socketUsers: [SocketID: Set<UUID>] = [:]
    /// Set by ``finishAll()``: the server is shutting down.
    private var finishing = false
    private let logger: Logger
    /// The tables clients may bind `postgres_changes` to.
    nonisolated let catalogs: ChangeCatalogs

    init(catalogs: ChangeCatalogs, logger: Logger) {
        self.catalogs = catalogs
        self.logger = logger
    }

    var socketCount: Int { sockets.count }

    // MARK: Sockets

    func connect(_ id: SocketID, version: PhoenixFrame.Version, outbox: SocketOutbox, budget: OutboxBudget) {
        sockets[id] = Socket(version: version, outbox: outbox, budget: budget)
        // A socket whose upgrade finished while the server shuts down is closed like the others.
        if finishing { outbox.finish() }
    }

    /// Ends every socket's outbox, and those of sockets connecting from now on: what is queued
    /// is written, then the socket is closed.
    func finishAll() {
        finishing = true
        for socket in sockets.values { socket.outbox.finish() }
    }

    /// Forgets a socket; returns the presence diffs its channels leave behind.
    func disconnect(_ id: SocketID) -> [BusEvent] {
        guard let socket = sockets.removeValue(forKey: id) else { return [] }
        socket.outbox.finish()
        indexUsers(of: id)
        return socket.channels.values.compactMap { channel in
            topics[channel.room]?.remove(id)
            if topics[channel.room]?.isEmpty == true { topics[channel.room] = nil }
            return presenceLeave(channel)
        }
    }

    /// Queues a frame for a socket; a client too slow to keep up is disconnected.
    func send(_ frame: PhoenixFrame, to id: SocketID) {
        guard let socket = sockets[id] else { return }
        queue(frame.outbound(socket.version), to: id)
    }

    /// Queues an item on a socket's outbox; a client too slow to keep up (over its frame or
    /// byte budget) is disconnected.
    private func queue(_ item: Outbound, to id: SocketID) {
        guard let socket = sockets[id] else { return }
        guard socket.budget.add(item.byteCount) else {
            logger.warning("realtime client too slow (outbox over its byte budget); disconnecting", metadata: ["socket": "\(id)"])
            socket.outbox.finish()
            return
        }
        if socket.outbox.yield(item) == .full {
            logger.warning("realtime client too slow; disconnecting", metadata: ["socket": "\(id)"])
            socket.outbox.finish()
        }
    }

    // MARK: Channels

    func channel(_ topic: String, of id: SocketID) -> RealtimeChannel? {
        sockets[id]?.channels[topic]
    }

    func channelCount(of id: SocketID) -> Int {
        sockets[id]?.channels.count ?? 0
    }

    /// Adds (or replaces) a joined channel.
    func join(_ channel: RealtimeChannel, socket id: SocketID) {
        sockets[id]?.channels[channel.topic] = channel
        topics[channel.room, default: []].insert(id)
        indexUsers(of: id)
    }

    /// Updates a joined channel in place.
    func update(_ channel: RealtimeChannel, socket id: SocketID) {
        guard sockets[id]?.channels[channel.topic] != nil else { return }
        sockets[id]?.channels[channel.topic] = channel
        indexUsers(of: id)
    }

    /// Removes a channel; returns the presence diff its departure causes, if any.
    func leave(_ topic: String, socket id: SocketID) -> BusEvent? {
        guard let channel = sockets[id]?.channels.removeValue(forKey: topic) else { return nil }
        if channels(in: channel.room, of: id).isEmpty {
            topics[channel.room]?.remove(id)
            if topics[channel.room]?.isEmpty == true { topics[channel.room] = nil }
        }
        indexUsers(of: id)
        return presenceLeave(channel)
    }

    /// Closes a channel from the server side with a system error and phx_close.
    func shut(_ topic: String, socket id: SocketID, reason: String) -> BusEvent? {
        guard let channel = sockets[id]?.channels[topic] else { return nil }
        send(.system(topic: topic, extension: "system", message: reason, ok: false), to: id)
        send(PhoenixFrame(joinRef: channel.joinRef, ref: channel.joinRef, topic: topic, event: "phx_close", payload: .object([:])), to: id)
        return leave(topic, socket: id)
    }

    // MARK: Presence

    /// The presence state of a room, as `presence_state` sends it.
    func presenceState(_ room: String) -> JSONValue {
        .object((presence[room] ?? [:]).mapValues { metas in .object(["metas": .array(Array(metas.values))]) })
    }

    /// Records a tracked meta on a channel (the diff goes out through the bus). A channel
    /// tracks one meta per key: a re-track replaces it.
    /// A new meta is refused when its key or its topic already holds as many presences as
    /// `limits` allow (a re-track of the channel's own meta replaces it and always fits).
    func track(_ topic: String, socket id: SocketID, key: String, meta: JSONValue, ref: String, limits: RealtimeLimits) throws(JoinError) -> BusEvent? {
        guard var channel = sockets[id]?.channels[topic] else { return nil }
        if !channel.tracked.values.contains(where: { $0.key == key }) {
            let (inTopic, underKey) = presenceCount(channel.room, key: key)
            guard underKey < limits.presencesPerKey else {
                throw JoinError("presence limit: at most \(limits.presencesPerKey) presences per key on a topic")
            }
            guard inTopic < limits.presencesPerTopic else {
                throw JoinError("presence limit: at most \(limits.presencesPerTopic) presences on a topic")
            }
        }
        var leaves: [String: [JSONValue]] = [:]
        for (oldRef, old) in channel.tracked where old.key == key {
            leaves[old.key, default: []].append(old.meta)
            channel.tracked[oldRef] = nil
            countLocalPresence(channel.room, key: key, by: -1)
        }
        channel.tracked[ref] = (key, meta)
        countLocalPresence(channel.room, key: key, by: 1)
        sockets[id]?.channels[topic] = channel
        return .presence(topic: channel.room, joins: [key: [meta]], leaves: leaves, origin: instanceID)
    }

    /// Removes everything a channel tracks.
    func untrack(_ topic: String, socket id: SocketID) -> BusEvent? {
        guard var channel = sockets[id]?.channels[topic] else { return nil }
        let event = presenceLeave(channel)
        channel.tracked = [:]
        sockets[id]?.channels[topic] = channel
        return event
    }

    /// Presences on a topic, in all and under one key: the larger of this instance's own
    /// tracked metas (exact at once) and the replicated table (every instance, via the bus).
    func presenceCount(_ topic: String, key: String) -> (topic: Int, key: Int) {
        let local = localPresence[topic] ?? [:]
        let table = presence[topic] ?? [:]
        return (
            max(local.values.reduce(0, +), table.values.reduce(0) { $0 + $1.count }),
            max(local[key] ?? 0, table[key]?.count ?? 0))
    }

    private func countLocalPresence(_ topic: String, key: String, by change: Int) {
        let count = (localPresence[topic]?[key] ?? 0) + change
        localPresence[topic, default: [:]][key] = count > 0 ? count : nil
        if localPresence[topic]?.isEmpty == true { localPresence[topic] = nil }
    }

    /// Sockets of this instance with a channel joined as `user`.
    func socketCount(of user: UUID) -> Int {
        userSockets[user]?.count ?? 0
    }

    /// Whether a socket has a channel joined as `user`.
    func hasChannel(of user: UUID, socket id: SocketID) -> Bool {
        socketUsers[id]?.contains(user) ?? false
    }

    /// Re-reads which users a socket's channels are joined as (after any change to them).
    private func indexUsers(of id: SocketID) {
        let now = Set(sockets[id]?.channels.values.compactMap(\.caller.userID) ?? [])
        let before = socketUsers[id] ?? []
        for user in before.subtracting(now) {
            userSockets[user]?.remove(id)
            if userSockets[user]?.isEmpty == true { userSockets[user] = nil }
        }
        for user in now.subtracting(before) { userSockets[user, default: []].insert(id) }
        socketUsers[id] = now.isEmpty ? nil : now
    }

    /// The leave diff of a channel whose metas go away (left, closed, untracked); takes them
    /// out of the local presence counts.
    private func presenceLeave(_ channel: RealtimeChannel) -> BusEvent? {
        var leaves: [String: [JSONValue]] = [:]
        for (_, tracked) in channel.tracked {
            leaves[tracked.key, default: []].append(tracked.meta)
            countLocalPresence(channel.room, key: tracked.key, by: -1)
        }
        return leaves.isEmpty ? nil : .presence(topic: channel.room, joins: [:], leaves: leaves, origin: instanceID)
    }

    /// Applies a presence diff from the bus (tracked on instance `origin`) and tells the room's
    /// channels (`topic` is the room) what changed: a meta already known is not joined again
    /// (instances re-announce their presences to newcomers), one unknown is not left again.
    func applyPresence(topic: String, joins: [String: [JSONValue]], leaves: [String: [JSONValue]], origin: String) {
        lastHeard[origin] = .now
        var left: [String: [JSONValue]] = [:]
        for (key, metas) in leaves {
            for meta in metas {
                guard case .string(let ref)? = meta.objectValue?["phx_ref"], presence[topic]?[key]?[ref] != nil else { continue }
                presence[topic]?[key]?[ref] = nil
                presenceOrigins[ref] = nil
                left[key, default: []].append(meta)
            }
            if presence[topic]?[key]?.isEmpty == true { presence[topic]?[key] = nil }
        }
        var joined: [String: [JSONValue]] = [:]
        for (key, metas) in joins {
            for meta in metas {
                guard case .string(let ref)? = meta.objectValue?["phx_ref"], presence[topic]?[key]?[ref] == nil else { continue }
                presence[topic, default: [:]][key, default: [:]][ref] = meta
                presenceOrigins[ref] = (topic, key, origin)
                joined[key, default: []].append(meta)
            }
        }
        if presence[topic]?.isEmpty == true { presence[topic] = nil }
        guard !joined.isEmpty || !left.isEmpty else { return }
        sendPresenceDiff(topic: topic, joins: joined, leaves: left)
    }

    /// Notes a heartbeat of instance `origin`; true for its first two heartbeats since it was
    /// first heard or came back (a newcomer, which needs to learn this instance's presences:
    /// the second covers a newcomer whose own subscription to the bus was not yet live at
    /// its first).
    func heard(_ origin: String) -> Bool {
        lastHeard[origin] = .now
        guard origin != instanceID else { return false }
        let count = (heartbeats[origin] ?? 0) + 1
        heartbeats[origin] = min(count, 3)
        return count <= 2
    }

    /// Everything this instance's channels track, as one join diff per room (for newcomers).
    func localPresenceAnnouncements() -> [BusEvent] {
        var joins: [String: [String: [JSONValue]]] = [:]
        for socket in sockets.values {
            for channel in socket.channels.values {
                for tracked in channel.tracked.values {
                    joins[channel.room, default: [:]][tracked.key, default: []].append(tracked.meta)
                }
            }
        }
        return joins.map { .presence(topic: $0.key, joins: $0.value, leaves: [:], origin: instanceID) }
    }

    /// Drops the presences of instances silent for longer than `timeout` (they died without
    /// saying goodbye) and tells the rooms' channels they left.
    func expireSilentInstances(timeout: Duration) {
        let now = ContinuousClock.now
        let silent = Set(lastHeard.filter { $0.key != instanceID && now - $0.value > timeout }.keys)
        guard !silent.isEmpty else { return }
        for origin in silent {
            lastHeard[origin] = nil
            heartbeats[origin] = nil
        }
        var leaves: [String: [String: [JSONValue]]] = [:]
        for (ref, place) in presenceOrigins where silent.contains(place.origin) {
            if let meta = presence[place.topic]?[place.key]?[ref] { leaves[place.topic, default: [:]][place.key, default: []].append(meta) }
        }
        for (topic, left) in leaves {
            for (key, metas) in left {
                for meta in metas {
                    if case .string(let ref)? = meta.objectValue?["phx_ref"] {
                        presence[topic]?[key]?[ref] = nil
                        presenceOrigins[ref] = nil
                    }
                }
                if presence[topic]?[key]?.isEmpty == true { presence[topic]?[key] = nil }
            }
            if presence[topic]?.isEmpty == true { presence[topic] = nil }
            sendPresenceDiff(topic: topic, joins: [:], leaves: left)
        }
        logger.notice("presences of silent instances dropped", metadata: ["instances": "\(silent.count)", "rooms": "\(leaves.count)"])
    }

    private func sendPresenceDiff(topic: String, joins: [String: [JSONValue]], leaves: [String: [JSONValue]]) {
        var diff = PhoenixFrame(topic: topic, event: "presence_diff", payload: .object([
            "joins": .object(joins.mapValues { .object(["metas": .array($0)]) }),
            "leaves": .object(leaves.mapValues { .object(["metas": .array($0)]) }),
        ]))
        for id in topics[topic] ?? [] {
            for channel in channels(in: topic, of: id) {
                diff.topic = channel.topic
                send(diff, to: id)
            }
        }
    }

    // MARK: Broadcast

    /// Delivers a broadcast to the room's channels (the sender only if it asked for `self`);
    /// `topic` is the room, each channel gets the frame under the topic it joined.
    func deliverBroadcast(topic: String, payload: JSONValue, origin: String, userBroadcast: Bool = false) {
        var frame = PhoenixFrame(topic: topic, event: "broadcast", payload: payload)
        frame.isUserBroadcast = userBroadcast
        for id in topics[topic] ?? [] {
            for channel in channels(in: topic, of: id) {
                if origin == "\(instanceID):\(id.uuidString)" && !channel.broadcastSelf { continue }
                frame.topic = channel.topic
                send(frame, to: id)
            }
        }
    }

    /// A socket's channels in a room: normally the one whose topic is the room itself.
    private func channels(in room: String, of id: SocketID) -> [RealtimeChannel] {
        guard let channels = sockets[id]?.channels else { return [] }
        if channels.count == 1, let only = channels[room] { return [only] }
        return channels.values.filter { $0.room == room }
    }

    // MARK: postgres_changes

    /// Queues one committed change for every channel that binds something, may read it and
    /// whose token is current; each socket's writer filters it (``PreparedChange``).
    /// `members` are the users allowed to read the conversation. Returns the channels met on
    /// the way whose access token has expired (to close).
    /// Whether a socket of one of `members` here has a channel bound to changes of this table
    /// and type: when none has, a change that must be read first need not be read.
    func wantsChange(table: String, type: ChangeType, members: Set<UUID>) -> Bool {
        for member in members {
            for id in userSockets[member] ?? [] {
                guard let socket = sockets[id] else { continue }
                for channel in socket.channels.values where channel.caller.userID == member && !channel.bindings.isEmpty {
                    if channel.bindings.contains(where: { $0.wants(table: table, type: type) }) { return true }
                }
            }
        }
        return false
    }

    func deliverChange(_ change: PreparedChange, members: Set<UUID>, now: Int) -> [(SocketID, String)] {
        var expired: [(SocketID, String)] = []
        // Only the sockets with a channel joined as a member: the user index, not a scan.
        for member in members {
            for id in userSockets[member] ?? [] {
                guard let socket = sockets[id] else { continue }
                for channel in socket.channels.values where channel.caller.userID == member && !channel.bindings.isEmpty {
                    if channel.expiresAt <= now {
                        expired.append((id, channel.topic))
                        continue
                    }
                    guard channel.bindings.contains(where: { $0.wants(table: change.table, type: change.type) }) else { continue }
                    queue(.change(change, ChangeSubscriber(topic: channel.topic, userID: member, bindings: channel.bindings)), to: id)
                }
            }
        }
        return expired
    }

    /// The channels bound to changes of a captured table and type whose token is current,
    /// with the claims their row-level security is checked with (a scan of the sockets:
    /// captured tables have no conversation to narrow it by).
    func captureSubscribers(table: String, type: ChangeType, now: Int) -> [(socket: SocketID, subscriber: ChangeSubscriber, claims: String)] {
        var result: [(socket: SocketID, subscriber: ChangeSubscriber, claims: String)] = []
        for (id, socket) in sockets {
            for channel in socket.channels.values where channel.expiresAt > now && !channel.bindings.isEmpty {
                guard let user = channel.caller.userID, channel.bindings.contains(where: { $0.wants(table: table, type: type) }) else { continue }
                result.append((id, ChangeSubscriber(topic: channel.topic, userID: user, bindings: channel.bindings), channel.caller.claimsJSON))
            }
        }
        return result
    }

    /// Queues a prepared change for the given channels (those still connected).
    func deliver(_ change: PreparedChange, to subscribers: [(socket: SocketID, subscriber: ChangeSubscriber)]) {
        for (id, subscriber) in subscribers where sockets[id]?.channels[subscriber.topic] != nil {
            queue(.change(change, subscriber), to: id)
        }
    }

    /// Channels whose access token has expired.
    func expiredChannels(now: Int) -> [(SocketID, String)] {
        sockets.flatMap { id, socket in
            socket.channels.values.filter { $0.expiresAt <= now }.map { (id, $0.topic) }
        }
    }

    /// Conversation channels of a user (to close when they leave the conversation).
    func conversationChannels(of user: UUID, conversation: UUID) -> [(SocketID, String)] {
        var result: [(SocketID, String)] = []
        for (id, socket) in sockets {
            for channel in socket.channels.values where channel.conversation == conversation && channel.caller.userID == user {
                result.append((id, channel.topic))
            }
        }
        return result
    }
}
