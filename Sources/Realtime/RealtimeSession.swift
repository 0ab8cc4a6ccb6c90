import Core
import Foundation
import Logging

/// Verifies an access token (anon key or user JWT) and returns who it stands for.
public typealias AccessTokenVerifier = @Sendable (String) async throws -> Caller

/// Handles the frames of one WebSocket connection.
struct RealtimeSession: Sendable {
    let id: RealtimeHub.SocketID
    let hub: RealtimeHub
    let bus: any MessageBus
    let membership: MembershipCache
    let verify: AccessTokenVerifier
    let limits: RealtimeLimits
    /// The token from the socket URL (`apikey`), used when a join carries none.
    let socketToken: String
    let logger: Logger

    /// Handles one inbound frame.
    func handle(_ frame: PhoenixFrame) async {
        if let problem = frame.fieldError {
            await hub.send(.error(to: frame, reason: problem), to: id)
            return
        }
        switch (frame.topic, frame.event) {
        case ("phoenix", "heartbeat"):
            await hub.send(.ok(to: frame), to: id)
        case (_, "phx_join"):
            await join(frame)
        case (_, "phx_leave"):
            await hub.send(.ok(to: frame), to: id)
            await hub.send(PhoenixFrame(joinRef: frame.joinRef, ref: frame.joinRef, topic: frame.topic, event: "phx_close", payload: .object([:])), to: id)
            await publish(await hub.leave(frame.topic, socket: id))
        case (_, "broadcast"):
            await broadcast(frame)
        case (_, "presence"):
            await presence(frame)
        case (_, "access_token"):
            await refreshToken(frame)
        default:
            await hub.send(.error(to: frame, reason: "unknown event \(frame.event)"), to: id)
        }
    }

    /// Cleans up after the socket closed.
    func disconnected() async {
        for event in await hub.disconnect(id) { await publish(event) }
    }

    // MARK: Join

    private func join(_ frame: PhoenixFrame) async {
        do {
            let channel = try await authorisedChannel(frame)
            if await hub.channel(frame.topic, of: id) == nil, await hub.channelCount(of: id) >= limits.channelsPerSocket {
                throw JoinError("ClientJoinRateLimitReached: at most \(limits.channelsPerSocket) channels per connection")
            }
            if await hub.channel(frame.topic, of: id) != nil {
                await publish(await hub.leave(frame.topic, socket: id))
            }
            await hub.join(channel, socket: id)
            let echoed = channel.bindings.map { binding -> JSONValue in
                var object = binding.original
                object["id"] = .number(Double(binding.id))
                return .object(object)
            }
            await hub.send(.ok(to: frame, response: .object(["postgres_changes": .array(echoed)])), to: id)
            if !channel.bindings.isEmpty {
                await hub.send(.system(topic: frame.topic, extension: "postgres_changes", message: "Subscribed to PostgreSQL", ok: true), to: id)
            }
            if channel.presenceEnabled {
                await hub.send(PhoenixFrame(topic: frame.topic, event: "presence_state", payload: await hub.presenceState(channel.room)), to: id)
            }
        } catch let error as JoinError {
            await hub.send(.error(to: frame, reason: error.description), to: id)
        } catch {
            logger.error("realtime join failed", metadata: ["error": "\(error)", "topic": "\(frame.topic)"])
            await hub.send(.error(to: frame, reason: "Internal error: the join could not be checked; retry"), to: id)
        }
    }

    /// Reads and authorises a join; the error text is the reply's reason.
    private func authorisedChannel(_ frame: PhoenixFrame) async throws -> RealtimeChannel {
        let name = PhoenixFrame.channelName(frame.topic)
        guard frame.topic.hasPrefix("realtime:"), !name.isEmpty else { throw JoinError("TopicNameRequired: the topic must be realtime:<name>") }
        let payload = frame.payload.objectValue ?? [:]
        let config = payload["config"]?.objectValue ?? [:]
        let presence = config["presence"]?.objectValue ?? [:]
        let requestedToken, requestedKey: String?
        do {
            requestedToken = try FrameField.string(payload["access_token"], "access_token")
            requestedKey = try FrameField.string(presence["key"], "config.presence.key")
        } catch {
            throw JoinError(error.description)
        }
        let (caller, expiresAt) = try await authenticate(requestedToken ?? socketToken)
        if config["private"] == .bool(true) {
            throw JoinError("Unauthorized: private channels are not supported; use a conversation:<id> topic")
        }
        let bindings: [RealtimeChannel.Binding]
        if caller.role == .authenticated {
            // Only those who may bind make the publication be re-read (at most once a second).
            await hub.catalogs.refresh(ifMissing: RealtimeChannel.tableNames(in: config["postgres_changes"]))
        }
        do {
            bindings = try RealtimeChannel.bindings(from: config["postgres_changes"], catalog: hub.catalogs.current, limit: limits.bindingsPerChannel)
        } catch {
            throw JoinError("Invalid postgres_changes: \(error)")
        }
        if !bindings.isEmpty, caller.role != .authenticated {
            throw JoinError("Unauthorized: sign in to receive database changes")
        }
        let access = try TopicAccess(name: name, openPrefixes: limits.openTopicPrefixes)
        var messagingAllowed = true
        do {
            try await access.authorise(caller, name: name) { try await isMember(caller, $0) }
        } catch let error as JoinError {
            // A topic nobody owns may still carry database changes (authorised per binding).
            guard access == .unowned, !bindings.isEmpty else { throw error }
            messagingAllowed = false
        }
        for binding in bindings {
            // A subscription pinned to one conversation must be to one of the caller's.
            if hub.catalogs.isFeedTable(binding.table), let pinned = binding.filter?.equality(on: "conversation_id") {
                guard let pinnedID = UUID(uuidString: pinned), try await isMember(caller, pinnedID) else {
                    throw JoinError("Unauthorized: You do not have permissions to read conversation \(pinned)")
                }
            }
        }
        if let user = caller.userID, await !hub.hasChannel(of: user, socket: id),
            await hub.socketCount(of: user) >= limits.socketsPerUser
        {
            throw JoinError("ClientJoinRateLimitReached: at most \(limits.socketsPerUser) connections per user")
        }
        let requested = requestedKey ?? ""
        guard requested.utf8.count <= limits.presenceKeyBytes else {
            throw JoinError("config.presence.key must be at most \(limits.presenceKeyBytes) bytes")
        }
        let broadcast = config["broadcast"]?.objectValue ?? [:]
        // On owned topics presence is keyed by the signed-in user; on conversation and online
        // topics it is always on.
        let key = access.isUserKeyed ? (caller.userID?.uuidString.lowercased() ?? UUID().uuidString) : (requested.isEmpty ? UUID().uuidString : requested)
        return RealtimeChannel(
            topic: frame.topic, room: TopicAccess.room(of: frame.topic), joinRef: frame.joinRef ?? frame.ref, caller: caller, expiresAt: expiresAt, bindings: bindings,
            broadcastSelf: broadcast["self"] == .bool(true), broadcastAck: broadcast["ack"] == .bool(true),
            presenceEnabled: messagingAllowed && (presence["enabled"] == .bool(true) || access.conversation != nil || access == .online),
            presenceKey: key, conversation: access.conversation, access: access, messagingAllowed: messagingAllowed)
    }

    private func authenticate(_ token: String) async throws -> (Caller, Int) {
        let caller: Caller
        do {
            caller = try await verify(token)
        } catch {
            throw JoinError("InvalidJWTToken: Token has expired or is invalid")
        }
        let claims = (try? JSONValue.parse(caller.claimsJSON).objectValue) ?? [:]
        let exp = FrameField.integer(claims["exp"], in: 0...Int64(Int32.max) * 64).map(Int.init) ?? Int.max
        return (caller, exp)
    }

    private func isMember(_ caller: Caller, _ conversation: UUID) async throws -> Bool {
        guard let user = caller.userID else { return false }
        return try await membership.members(of: conversation).contains(user)
    }

    // MARK: Broadcast and presence

    private func broadcast(_ frame: PhoenixFrame) async {
        guard let channel = await hub.channel(frame.topic, of: id) else {
            await hub.send(.error(to: frame, reason: "join the channel before broadcasting"), to: id)
            return
        }
        guard channel.messagingAllowed else {
            await hub.send(.error(to: frame, reason: Self.changesOnly(frame.topic)), to: id)
            return
        }
        let message: JSONValue
        do {
            message = try BroadcastMessage.relayed(frame.payload, access: channel.access, caller: channel.caller, maximumBytes: limits.maximumBroadcastBytes)
        } catch {
            if channel.broadcastAck { await hub.send(.error(to: frame, reason: error.description), to: id) }
            return
        }
        let origin = "\(hub.instanceID):\(id.uuidString)"
        do {
            // A binary user-broadcast push goes on as one, so 2.0.0 clients get it back in that form.
            try await bus.publish(
                frame.isUserBroadcast
                    ? .userBroadcast(topic: channel.room, payload: message, origin: origin)
                    : .broadcast(topic: channel.room, payload: message, origin: origin))
            if channel.broadcastAck { await hub.send(.ok(to: frame), to: id) }
        } catch {
            if channel.broadcastAck { await hub.send(.error(to: frame, reason: String(describing: error)), to: id) }
        }
    }

    /// The refusal for broadcast and presence on a topic joined for database changes only.
    static func changesOnly(_ topic: String) -> String {
        "Unauthorized: topic \(PhoenixFrame.channelName(topic)) carries database changes only; broadcast and presence need "
            + "conversation:<id>, user:<your id>, online or an open topic (REALTIME_OPEN_TOPICS)"
    }

    private func presence(_ frame: PhoenixFrame) async {
        let payload = frame.payload.objectValue ?? [:]
        let event: String?
        do {
            event = try FrameField.string(payload["event"], "payload.event")
        } catch {
            await hub.send(.error(to: frame, reason: error.description), to: id)
            return
        }
        guard var channel = await hub.channel(frame.topic, of: id) else {
            await hub.send(.error(to: frame, reason: "join the channel before tracking presence"), to: id)
            return
        }
        guard channel.messagingAllowed else {
            await hub.send(.error(to: frame, reason: Self.changesOnly(frame.topic)), to: id)
            return
        }
        let now = Date()
        channel.presenceEvents = channel.presenceEvents.filter { now.timeIntervalSince($0) < 30 }
        guard channel.presenceEvents.count < limits.presenceEventsPer30Seconds else {
            await hub.send(.error(to: frame, reason: "rate limited: at most \(limits.presenceEventsPer30Seconds) presence events per 30 seconds"), to: id)
            return
        }
        channel.presenceEvents.append(now)
        await hub.update(channel, socket: id)
        switch event {
        case "track":
            guard channel.caller.role != .anon else {
                await hub.send(.error(to: frame, reason: "Unauthorized: sign in to track presence (the anon key may not)"), to: id)
                return
            }
            guard case .object(var meta)? = payload["payload"] ?? .object([:]) else {
                await hub.send(.error(to: frame, reason: "Presence track payload must be a map"), to: id)
                return
            }
            guard JSONValue.object(meta).jsonText.utf8.count <= limits.presenceMetaBytes else {
                await hub.send(.error(to: frame, reason: "Presence meta too large (max \(limits.presenceMetaBytes) bytes of JSON)"), to: id)
                return
            }
            let ref = "F" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16)
            meta["phx_ref"] = .string(String(ref))
            // user_id in a meta is always the server's word: the signed-in user, or absent.
            meta["user_id"] = channel.caller.userID.map { .string($0.uuidString.lowercased()) }
            do {
                let diff = try await hub.track(frame.topic, socket: id, key: channel.presenceKey, meta: .object(meta), ref: String(ref), limits: limits)
                await publish(diff)
                await hub.send(.ok(to: frame), to: id)
            } catch {
                await hub.send(.error(to: frame, reason: error.description), to: id)
            }
        case "untrack":
            await publish(await hub.untrack(frame.topic, socket: id))
            await hub.send(.ok(to: frame), to: id)
        default:
            await hub.send(.error(to: frame, reason: "presence event must be track or untrack"), to: id)
        }
    }

    // MARK: Token refresh

    private func refreshToken(_ frame: PhoenixFrame) async {
        let token: String
        do {
            token = try FrameField.string(frame.payload.objectValue?["access_token"], "access_token") ?? ""
        } catch {
            await hub.send(.error(to: frame, reason: error.description), to: id)
            return
        }
        guard var channel = await hub.channel(frame.topic, of: id) else { return }
        do {
            let (caller, expiresAt) = try await authenticate(token)
            if let conversation = channel.conversation, try await !isMember(caller, conversation) {
                throw JoinError("Unauthorized: no longer a member of this conversation")
            }
            if channel.caller.userID != nil, caller.userID != channel.caller.userID {
                throw JoinError("Unauthorized: the token belongs to another user; rejoin the channel")
            }
            channel.caller = caller
            channel.expiresAt = expiresAt
            await hub.update(channel, socket: id)
        } catch {
            await publish(await hub.shut(frame.topic, socket: id, reason: String(describing: error)))
        }
    }

    private func publish(_ event: BusEvent?) async {
        guard let event else { return }
        do {
            try await bus.publish(event)
        } catch {
            logger.warning("could not publish a realtime event", metadata: ["error": "\(error)"])
        }
    }
}
