import Foundation
import Logging

/// What a participant lost without anyone asking: its Janus room (destroyed under it) or its
/// Janus session (timed out).
enum SfuLoss: Sendable {
    case room
    case session
}

/// One device's Janus participant in one sfu room, on this instance (spec sfu-janus.md §1,
/// §3.2, §3.3): its session, publisher handle and at most one subscriber handle, the feeds
/// its publisher handle has announced, its subscriber offers, and the pushes that turn
/// Janus's events into `sfu.*` frames for the device. Janus ids never leave it.
actor SfuDevice {
    struct Identity: Sendable {
        var room: UUID
        var device: String
        var user: UUID
        var feed: UUID
    }

    let identity: Identity
    let node: SfuNode
    let placement: SfuPlacement
    let session: Int64
    let publisher: Int64
    let janusFeed: Int64
    let privateId: Int64
    let token: String
    let push: @Sendable (String, JSONObject) async -> Void
    let logger: Logger
    let settings: SfuSettings
    /// Where the participant's row records its subscriber handle.
    let store: SfuStore

    private(set) var subscriber: Int64?
    private(set) var publishing = false
    /// The own feed's streams as Janus confirmed them (for `sfu.mute`).
    private(set) var ownStreams: [SfuStream] = []
    /// Feeds of the other participants, by Janus feed id.
    private(set) var feeds: [Int64: SfuFeed] = [:]
    private var muteStates: [UUID: SfuMuteState] = [:]
    private(set) var offerId = 0
    /// The subscriber SDP awaits an answer to this offer.
    private var offerOutstanding = false
    private var subscribesAll = false
    /// Told when Janus drops the room or the session (the coordinator re-creates them).
    private var lost: (@Sendable (SfuDevice, SfuLoss) async -> Void)?
    /// Reads every feed's mute flags (they change on any instance; Janus does not carry them).
    private var readMutes: (@Sendable () async -> [UUID: SfuMuteState]?)?
    /// The subscriber SDP's m-lines as last described to the client, by mid.
    private var subscriberLines: [String: [String: Any]] = [:]
    /// The publishers' streams (Janus feed id, publisher mid) with an active m-line in the subscriber SDP.
    private var subscribedStreams: Set<SubscribedStream> = []
    /// Streams asked of Janus whose offer has not come yet (a change on its way, or postponed
    /// while an offer waits for its answer). They count as received, so a request that races
    /// the change (the client's, or the batch that adds new feeds) does not ask for them again.
    private var requestedStreams: Set<SubscribedStream> = []

    private struct SubscribedStream: Hashable {
        var feed: Int64
        var mid: String
    }
    /// Feeds removed as `unpublished`, held briefly in case Janus's `leaving` follows.
    private var pendingRemovals: [Int64: Task<Void, Never>] = [:]
    private var batch: Task<Void, Never>?
    private var readers: [Task<Void, Never>] = []
    private(set) var closed = false
    /// Set once the participant has left Janus (``endInJanus()``).
    private var ended = false
    /// The bitrate cap Janus has for this publisher (the room's, until the room gets crowded).
    private(set) var appliedBitrate = 0
    /// Set by `sfu.unpublish` until Janus reports the publisher PeerConnection closed.
    private var awaitingHangup = false
    private var lastHangup: ContinuousClock.Instant?

    var epoch: Int { placement.epoch }
    var roomText: String { identity.room.uuidString.lowercased() }

    init(
        identity: Identity, node: SfuNode, placement: SfuPlacement, session: Int64, publisher: Int64, janusFeed: Int64, privateId: Int64,
        token: String, settings: SfuSettings, store: SfuStore, logger: Logger, push: @escaping @Sendable (String, JSONObject) async -> Void
    ) {
        self.store = store
        self.identity = identity
        self.node = node
        self.placement = placement
        self.session = session
        self.publisher = publisher
        self.janusFeed = janusFeed
        self.privateId = privateId
        self.token = token
        self.settings = settings
        self.logger = logger
        self.push = push
    }

    /// Starts reading the publisher handle's and the session's notifications (and the
    /// subscriber handle's, for a participant taken over with one).
    func listen(
        to publisherEvents: AsyncStream<JanusMessage>, sessionEvents: AsyncStream<JanusMessage>, subscriberEvents: AsyncStream<JanusMessage>? = nil,
        initial: [SfuFeed], mutes: [UUID: SfuMuteState], own: SfuMuteState, readMutes: @escaping @Sendable () async -> [UUID: SfuMuteState]?,
        lost: @escaping @Sendable (SfuDevice, SfuLoss) async -> Void
    ) {
        self.lost = lost
        muteStates = mutes
        muteStates[identity.feed] = own
        self.readMutes = readMutes
        for feed in initial { feeds[feed.janusId] = feed }
        readers.append(Task { [weak self] in
            for await event in publisherEvents { await self?.publisherEvent(event) }
        })
        readers.append(Task { [weak self] in
            for await event in sessionEvents { await self?.sessionEvent(event) }
        })
        if let subscriberEvents {
            readers.append(Task { [weak self] in
                for await event in subscriberEvents { await self?.subscriberEvent(event) }
            })
        }
    }

    // MARK: Taking over (§3.4 "Resume elsewhere")

    /// What another instance knew of a participant it held, from its row: the own streams
    /// published, and the subscriber PeerConnection as last offered. Called before `listen`.
    func restore(publishing: Bool, streams: [SfuStream], subscriber: Int64?, subscription: String?) {
        self.publishing = publishing
        ownStreams = publishing ? streams : []
        appliedBitrate = publishing ? settings.maximumBitrate : 0
        guard let subscriber, let text = subscription,
            let state = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
        else { return }
        self.subscriber = subscriber
        offerId = JanusMessage.int(state["offerId"]) ?? 0
        offerOutstanding = state["outstanding"] as? Bool ?? false
        subscribesAll = state["all"] as? Bool ?? false
        subscriberLines = state["lines"] as? [String: [String: Any]] ?? [:]
        subscribedStreams = Set((state["streams"] as? [[String: Any]] ?? []).compactMap { entry in
            guard let feed = JanusMessage.id(entry["feed"]), let mid = entry["mid"] as? String else { return nil }
            return SubscribedStream(feed: feed, mid: mid)
        })
    }

    /// After a take-over: the publisher's bitrate cap as the room now wants it.
    func settle() async { await applyBitrate() }

    /// The subscriber PeerConnection's state, as ``restore(publishing:streams:subscriber:subscription:)`` reads it.
    private func subscriptionState() -> String? {
        guard subscriber != nil else { return nil }
        let state: [String: Any] = [
            "offerId": offerId, "outstanding": offerOutstanding, "all": subscribesAll, "lines": subscriberLines,
            "streams": subscribedStreams.map { ["feed": $0.feed, "mid": $0.mid] },
        ]
        return JSONText.encode(state)
    }

    /// Records the subscriber PeerConnection's state for an instance that may take this participant over.
    private func saveSubscription() async {
        do {
            try await store.setSubscription(room: identity.room, device: identity.device, subscriptionState())
        } catch {
            logger.warning("sfu: recording a subscription failed", metadata: ["room": "\(roomText)", "error": "\(error)"])
        }
    }

    /// Stops handling the participant here (its events, batches and pending removals), leaving
    /// its Janus session as it is for the instance the device moved to (which claims it) or for
    /// ``endInJanus()``.
    func release() async {
        closed = true
        batch?.cancel()
        for task in pendingRemovals.values { task.cancel() }
        for reader in readers { reader.cancel() }
        await node.connection.stopEvents(of: publisher)
        if let subscriber { await node.connection.stopEvents(of: subscriber) }
        await node.connection.stopEvents(of: session)
    }

    /// The `sfu.feeds` snapshot: every other feed that publishes.
    func snapshot() -> JSONObject {
        JSONObject(base(["snapshot": true, "feeds": feeds.values.filter { !$0.streams.isEmpty }.sorted { $0.janusId < $1.janusId }.map(feedJSON)]))
    }

    private func feedJSON(_ feed: SfuFeed) -> [String: Any] { feed.json(roomMutes: muteStates[feed.feedId] ?? SfuMuteState()) }

    private func base(_ fields: [String: Any]) -> [String: Any] {
        var payload = fields
        payload["roomId"] = roomText
        payload["epoch"] = epoch
        return payload
    }

    // MARK: Requests

    /// A participant whose node died answers `SFU_UNAVAILABLE` until its room's new epoch is ready.
    private func ensureOpen() throws {
        guard !closed else { throw CallsError(.sfuUnavailable, "the call's media server is being replaced", details: ["retryAfterMs": 1000]) }
    }

    /// `sfu.publish`: the first offer publishes, later ones renegotiate (`configure`).
    func publish(sdp: String, descriptions: JSONList, muted: SfuMuteState?) async throws -> JSONObject {
        try ensureOpen()
        if let problem = SfuWire.publishOfferProblem(sdp) { throw CallsError(.sfuNegotiationFailed, problem) }
        if !publishing { await settleClosedPeerConnection() }
        let request = publishing ? "configure" : "publish"
        let reply: JanusMessage
        do {
            reply = try await node.pluginRequest(
                session: session, handle: publisher, JSONObject(["request": request, "descriptions": descriptions.value]), jsep: JSONObject(["type": "offer", "sdp": sdp]))
        } catch {
            // Janus's core took the refused offer: without a hangup the next one is refused too.
            if !publishing, error is JanusError {
                awaitingHangup = true
                await node.hangup(session: session, handle: publisher)
            }
            throw await failure(error)
        }
        guard let answer = reply.jsepSDP else { throw CallsError(.sfuNegotiationFailed, "the SFU answered the offer without an SDP") }
        publishing = true
        ownStreams = (reply.plugin["streams"] as? [[String: Any]] ?? []).compactMap(SfuStream.init(janus:))
        let mutes = muted ?? muteStates[identity.feed] ?? SfuMuteState()
        muteStates[identity.feed] = mutes
        try await applyMute(mutes, unmutedVideo: false)
        appliedBitrate = settings.maximumBitrate
        await applyBitrate()
        return JSONObject(base(["sdp": SfuWire.clientSDP(answer), "streams": ownStreams.map { $0.json(muted: mutes) }]))
    }

    /// Publishers in the room above which each is capped at half the bitrate (§5: 1 Mbit/s,
    /// 500 kbit/s above 6 publishers).
    static let crowdedRoomPublishers = 6

    /// A publisher's bitrate cap in a room with this many publishers: halved in a crowded room.
    static func bitrateCap(publishers: Int, maximum: Int) -> Int {
        publishers > crowdedRoomPublishers ? maximum / 2 : maximum
    }

    /// The bitrate cap this publisher should have now.
    var wantedBitrate: Int {
        Self.bitrateCap(publishers: feeds.values.filter { !$0.streams.isEmpty }.count + (publishing ? 1 : 0), maximum: settings.maximumBitrate)
    }

    /// Tells Janus this publisher's cap (REMB) when the room's publisher count crosses the line.
    private func applyBitrate() async {
        guard publishing, !closed, wantedBitrate != appliedBitrate else { return }
        let bitrate = wantedBitrate
        do {
            _ = try await node.pluginRequest(session: session, handle: publisher, JSONObject(["request": "configure", "bitrate": bitrate]))
            appliedBitrate = bitrate
        } catch {
            logger.warning("sfu: capping a publisher's bitrate failed", metadata: ["room": "\(roomText)", "error": "\(error)"])
        }
    }

    func unpublish() async throws {
        try ensureOpen()
        guard publishing else { throw CallsError(.sfuNegotiationFailed, "not published") }
        do {
            _ = try await node.pluginRequest(session: session, handle: publisher, JSONObject(["request": "unpublish"]))
        } catch {
            throw await failure(error)
        }
        publishing = false
        ownStreams = []
        awaitingHangup = true
    }

    /// Janus frees a closed PeerConnection a moment after its `hangup`; an offer that comes
    /// before is taken for a renegotiation of the dead one and never connects. So a new
    /// publish waits (1 s at most) for the hangup of an unpublished PeerConnection, and
    /// 250 ms after any hangup.
    private func settleClosedPeerConnection() async {
        let deadline = ContinuousClock.now + .seconds(1)
        while awaitingHangup, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        awaitingHangup = false
        if let lastHangup, ContinuousClock.now - lastHangup < .milliseconds(250) {
            try? await Task.sleep(until: lastHangup + .milliseconds(250))
        }
    }

    /// `sfu.mute`: the SFU stops (or resumes) relaying this kind; the flags are kept for republishing.
    func mute(kind: String, muted: Bool) async throws -> SfuMuteState {
        try ensureOpen()
        var state = muteStates[identity.feed] ?? SfuMuteState()
        if kind == "audio" { state.audio = muted } else { state.video = muted }
        muteStates[identity.feed] = state
        try await applyMute(state, unmutedVideo: kind == "video" && !muted)
        return state
    }

    private func applyMute(_ state: SfuMuteState, unmutedVideo: Bool) async throws {
        guard publishing else { return }
        let streams: [[String: Any]] = ownStreams.map { stream in
            let muted = stream.kind == "audio" ? state.audio : state.video
            var entry: [String: Any] = ["mid": stream.mid, "send": !muted]
            if stream.kind == "video", unmutedVideo { entry["keyframe"] = true }
            return entry
        }
        guard !streams.isEmpty else { return }
        do {
            _ = try await node.pluginRequest(session: session, handle: publisher, JSONObject(["request": "configure", "streams": streams]))
        } catch {
            throw await failure(error)
        }
    }

    /// Another device's mute flags changed (from the room fan-out).
    func feedMuted(_ feed: UUID, _ state: SfuMuteState) { muteStates[feed] = state }

    /// The Janus feed ids of the given client feeds; unknown ones (or the own feed) refused together.
    func janusFeeds(_ feedIds: [UUID]) throws -> [UUID: Int64] {
        var found: [UUID: Int64] = [:]
        var missing: [String] = []
        for feedId in feedIds {
            if let feed = feeds.values.first(where: { $0.feedId == feedId }) { found[feedId] = feed.janusId } else { missing.append(feedId.uuidString.lowercased()) }
        }
        guard missing.isEmpty else { throw CallsError(.feedNotFound, "no such feed in this room: \(missing.joined(separator: ", "))", lists: ["feedIds": missing]) }
        return found
    }

    /// `sfu.subscribe`: adds streams to the subscriber PeerConnection. The offer (if the SDP
    /// changes) is pushed before this returns; `pending` when Janus postponed it. Streams the
    /// device already receives are left as they are: Janus would add a second m-line for one.
    func subscribe(_ streams: JSONList, all: Bool) async throws -> Bool {
        try ensureOpen()
        if all, !subscribesAll {
            subscribesAll = true
            if subscriber != nil { await saveSubscription() }
        }
        var wanted = streams.value.flatMap(notYetReceived)
        let limit = settings.maximumSubscribedMlines
        var lines = subscriberLines.values.filter { $0["active"] as? Bool ?? true }.count + requestedStreams.subtracting(subscribedStreams).count
        lines += wanted.reduce(0) { total, stream in
            total + (stream["mid"] != nil ? 1 : JanusMessage.id(stream["feed"]).flatMap { feeds[$0]?.streams.count } ?? 1)
        }
        guard lines <= limit else {
            throw CallsError(.validationFailed, "streams: a device receives at most \(limit) m-lines (\(lines) asked for)")
        }
        if all {
            let listed = Set(streams.value.compactMap { JanusMessage.id($0["feed"]) })
            // New feeds, and new streams of known ones (a screen share), join the subscription
            // while they fit (§5).
            adding: for feed in feeds.values.sorted(by: { $0.janusId < $1.janusId }) where !listed.contains(feed.janusId) {
                for stream in feed.streams where !isTaken(SubscribedStream(feed: feed.janusId, mid: stream.mid)) {
                    guard lines < limit else { break adding }
                    lines += 1
                    wanted.append(["feed": feed.janusId, "mid": stream.mid])
                }
            }
        }
        guard !wanted.isEmpty else { return false }
        let asked = Set(wanted.flatMap(streamsOf))
        requestedStreams.formUnion(asked)
        do {
            return try await changeSubscription(["subscribe": wanted])
        } catch {
            requestedStreams.subtract(asked)
            throw error
        }
    }

    /// Received, or asked for with its offer still to come.
    private func isTaken(_ stream: SubscribedStream) -> Bool {
        subscribedStreams.contains(stream) || requestedStreams.contains(stream)
    }

    /// The publishers' streams one requested Janus stream (`{feed, mid?}`) stands for, as far as they are known.
    private func streamsOf(_ stream: [String: Any]) -> [SubscribedStream] {
        guard let feed = JanusMessage.id(stream["feed"]) else { return [] }
        if let mid = stream["mid"] as? String { return [SubscribedStream(feed: feed, mid: mid)] }
        return feeds[feed]?.streams.map { SubscribedStream(feed: feed, mid: $0.mid) } ?? []
    }

    /// The part of one requested Janus stream (`{feed, mid?, …}`) neither received nor on its way
    /// (``isTaken(_:)``): nothing when it is, and for a whole feed of which some streams are, the others.
    private func notYetReceived(_ stream: [String: Any]) -> [[String: Any]] {
        guard let feed = JanusMessage.id(stream["feed"]) else { return [stream] }
        if let mid = stream["mid"] as? String {
            return isTaken(SubscribedStream(feed: feed, mid: mid)) ? [] : [stream]
        }
        guard let known = feeds[feed] else { return [stream] }
        let missing = known.streams.filter { !isTaken(SubscribedStream(feed: feed, mid: $0.mid)) }
        if missing.count == known.streams.count { return [stream] }
        return missing.map { published in
            var one = stream
            one["mid"] = published.mid
            return one
        }
    }

    func unsubscribe(_ streams: JSONList) async throws -> Bool {
        try ensureOpen()
        guard subscriber != nil else { return false }
        return try await changeSubscription(["unsubscribe": streams.value])
    }

    private func changeSubscription(_ change: [String: Any]) async throws -> Bool {
        let reply: JanusMessage
        do {
            if let subscriber {
                var body = change
                body["request"] = "update"
                reply = try await node.pluginRequest(session: session, handle: subscriber, JSONObject(body))
            } else {
                guard let streams = change["subscribe"] else { return false }
                let handle = try await node.attach(session: session)
                subscriber = handle
                try? await store.setSubscriberHandle(room: identity.room, device: identity.device, handle: handle)
                let events = await node.connection.events(of: handle)
                readers.append(Task { [weak self] in
                    for await event in events { await self?.subscriberEvent(event) }
                })
                reply = try await node.pluginRequest(session: session, handle: handle, JSONObject([
                    "request": "join", "ptype": "subscriber", "room": placement.janusRoomId, "private_id": privateId, "use_msid": false,
                    "streams": streams,
                ]))
            }
        } catch {
            throw await failure(error)
        }
        if reply.plugin["videoroom"] as? String == "updating" { return true }
        await offer(from: reply, iceRestart: false)
        return false
    }

    /// `sfu.answer` for the latest offer.
    func answer(offerId answered: Int, sdp: String) async throws {
        try ensureOpen()
        guard let subscriber, answered == offerId, offerOutstanding else {
            throw CallsError(.sfuNegotiationFailed, "offerId: \(answered) is not the latest offer (\(offerId))", reasonText: "stale_offer")
        }
        do {
            _ = try await node.pluginRequest(session: session, handle: subscriber, JSONObject(["request": "start"]), jsep: JSONObject(["type": "answer", "sdp": sdp]))
        } catch {
            throw await failure(error)
        }
        // Janus sends the offer for a change it postponed until this answer as an event, which
        // may be handled (``offer(from:iceRestart:)``) before this request's reply: that newer
        // offer stays outstanding.
        if offerId == answered { offerOutstanding = false }
        await saveSubscription()
    }

    /// `sfu.trickle` on either PeerConnection (`nil` ends gathering).
    func trickle(pc: String, candidate: JSONObject?) async throws {
        try ensureOpen()
        let handle: Int64
        if pc == "pub" {
            handle = publisher
        } else {
            guard let subscriber else { throw CallsError(.sfuNegotiationFailed, "pc: no subscriber PeerConnection yet (send sfu.subscribe first)") }
            handle = subscriber
        }
        do {
            try await node.trickle(session: session, handle: handle, candidate: candidate ?? JSONObject(["completed": true]))
        } catch {
            throw await failure(error)
        }
    }

    /// `sfu.restartIce` on the subscriber PeerConnection: a new offer with fresh credentials.
    func restartIce() async throws {
        try ensureOpen()
        guard let subscriber else { throw CallsError(.sfuNegotiationFailed, "pc: no subscriber PeerConnection yet") }
        let reply: JanusMessage
        do {
            reply = try await node.pluginRequest(session: session, handle: subscriber, JSONObject(["request": "configure", "restart": true]))
        } catch {
            throw await failure(error)
        }
        await offer(from: reply, iceRestart: true)
    }

    /// `sfu.receive`: pauses m-lines or picks simulcast layers on the subscriber PeerConnection.
    func receive(_ streams: JSONList) async throws {
        try ensureOpen()
        guard let subscriber else { throw CallsError(.sfuNegotiationFailed, "pc: no subscriber PeerConnection yet") }
        do {
            _ = try await node.pluginRequest(session: session, handle: subscriber, JSONObject(["request": "configure", "streams": streams.value]))
        } catch {
            throw await failure(error)
        }
    }

    /// Leaves Janus in the order that lets the others see it (§3.2): unpublish, leave both
    /// handles, destroy the session. Errors are logged: the participant is gone either way.
    func leave() async {
        await release()
        await endInJanus()
    }

    /// The Janus side of ``leave()`` (once), also for a participant released here and not taken over.
    func endInJanus() async {
        guard !ended else { return }
        ended = true
        if publishing { _ = try? await node.pluginRequest(session: session, handle: publisher, JSONObject(["request": "unpublish"])) }
        _ = try? await node.pluginRequest(session: session, handle: publisher, JSONObject(["request": "leave"]))
        if let subscriber { _ = try? await node.pluginRequest(session: session, handle: subscriber, JSONObject(["request": "leave"])) }
        await node.destroySession(session)
    }

    /// Drops the participant without talking to Janus: its node is gone, or another instance
    /// took its session over. The node stops keeping the session alive.
    func abandon() async {
        await release()
        await node.forget(session)
    }

    // MARK: Janus events

    private func offer(from reply: JanusMessage, iceRestart: Bool) async {
        // Janus folds the changes it postponed into its next offer: what came of every change
        // asked so far is in this offer (or in this reply, when nothing changed).
        requestedStreams = []
        guard let sdp = reply.jsepSDP else { return }
        offerId += 1
        offerOutstanding = true
        if let streams = reply.plugin["streams"] as? [[String: Any]] {
            subscribedStreams = Set(streams.filter { $0["active"] as? Bool ?? true }.compactMap { entry in
                guard let feed = JanusMessage.id(entry["feed_id"]), let mid = entry["feed_mid"] as? String else { return nil }
                return SubscribedStream(feed: feed, mid: mid)
            })
        }
        var payload = base(["offerId": offerId, "sdp": SfuWire.clientSDP(sdp), "streams": subscriberStreams(reply.plugin["streams"])])
        if iceRestart { payload["iceRestart"] = true }
        await push("sfu.offer", JSONObject(payload))
        await saveSubscription()
    }

    /// The subscriber SDP's m-lines as clients see them. An m-line whose publisher is gone
    /// (Janus lists it without its feed) keeps the feed it carried, marked inactive.
    private func subscriberStreams(_ value: Any?) -> [[String: Any]] {
        let streams: [[String: Any]] = (value as? [[String: Any]] ?? []).compactMap { entry in
            guard let mid = entry["mid"] as? String, let type = entry["type"] as? String, type == "audio" || type == "video" else { return nil }
            let display = SfuWire.parseDisplay(entry["feed_display"] as? String)
            let janusId = JanusMessage.id(entry["feed_id"])
            let feedMid = entry["feed_mid"] as? String
            let source = janusId.flatMap { feeds[$0] }?.streams.first(where: { $0.mid == feedMid })?.source ?? (type == "audio" ? "mic" : "camera")
            var stream: [String: Any] = ["mid": mid, "kind": type, "source": source, "active": entry["active"] as? Bool ?? true]
            if let display {
                stream["feedId"] = display.feed.uuidString.lowercased()
                stream["userId"] = display.user
                stream["deviceId"] = display.device
            }
            if let feedMid { stream["feedMid"] = feedMid }
            if display == nil, let previous = subscriberLines[mid] {
                for key in ["feedId", "userId", "deviceId", "feedMid", "source"] { stream[key] = previous[key] ?? stream[key] }
                stream["active"] = false
            }
            return stream
        }
        for stream in streams { if let mid = stream["mid"] as? String { subscriberLines[mid] = stream } }
        return streams
    }

    private func publisherEvent(_ event: JanusMessage) async {
        guard !closed else { return }
        switch event.kind {
        case "event":
            let data = event.plugin
            if let list = data["publishers"] as? [[String: Any]] { await publishersAppeared(list) }
            if let gone = JanusMessage.id(data["unpublished"]) { removeLater(gone) }
            if let gone = JanusMessage.id(data["leaving"]) { await removeNow(gone, reason: "left") }
            if data["videoroom"] as? String == "talking" || data["videoroom"] as? String == "stopped-talking" {
                await talking(data)
            }
            if data["videoroom"] as? String == "destroyed" {
                logger.warning("sfu: Janus destroyed the room under a participant", metadata: ["room": "\(roomText)"])
                await lost?(self, .room)
            }
        case "webrtcup": await push("sfu.connection", JSONObject(base(["pc": "pub", "state": "up"])))
        case "media":
            let receiving = event.object["receiving"] as? Bool ?? true
            var payload = base(["pc": "pub", "state": receiving ? "up" : "no_media"])
            if let kind = event.object["type"] as? String { payload["kind"] = kind }
            if let mid = event.object["mid"] as? String { payload["mid"] = mid }
            await push("sfu.connection", JSONObject(payload))
        case "slowlink": await push("sfu.connection", JSONObject(slowlink(event, pc: "pub")))
        case "hangup":
            publishing = false
            ownStreams = []
            awaitingHangup = false
            lastHangup = .now
            // Unpublished in the row too: the node's load, and an instance taking it over.
            try? await store.setPublishing(room: identity.room, device: identity.device, streams: nil, node: placement.nodeId)
            await push("sfu.connection", JSONObject(base(["pc": "pub", "state": "down", "reason": event.object["reason"] as? String ?? "hangup"])))
        default: break
        }
    }

    private func subscriberEvent(_ event: JanusMessage) async {
        guard !closed else { return }
        switch event.kind {
        case "event":
            let data = event.plugin
            if event.jsep != nil { await offer(from: event, iceRestart: false) }
            if data["substream"] != nil || data["temporal"] != nil, let mid = data["mid"] as? String {
                var payload = base(["mid": mid])
                if let value = JanusMessage.int(data["substream"]) { payload["substream"] = value }
                if let value = JanusMessage.int(data["temporal"]) { payload["temporal"] = value }
                await push("sfu.layer", JSONObject(payload))
            }
        case "webrtcup": await push("sfu.connection", JSONObject(base(["pc": "sub", "state": "up"])))
        case "slowlink": await push("sfu.connection", JSONObject(slowlink(event, pc: "sub")))
        case "hangup":
            // The subscriber PeerConnection is gone: the handle goes too, and the device's next
            // sfu.subscribe makes a new one (§2.3).
            if let subscriber {
                self.subscriber = nil
                subscribesAll = false
                subscribedStreams = []
                requestedStreams = []
                subscriberLines = [:]
                offerOutstanding = false
                await node.connection.stopEvents(of: subscriber)
                await node.detach(session: session, handle: subscriber)
                try? await store.setSubscriberHandle(room: identity.room, device: identity.device, handle: nil)
            }
            await push("sfu.connection", JSONObject(base(["pc": "sub", "state": "down", "reason": event.object["reason"] as? String ?? "hangup"])))
        default: break
        }
    }

    private func sessionEvent(_ event: JanusMessage) async {
        guard !closed, event.kind == "timeout" else { return }
        logger.warning("sfu: Janus timed out a device session", metadata: ["room": "\(roomText)", "device": "\(identity.device)"])
        await lost?(self, .session)
    }

    private func slowlink(_ event: JanusMessage, pc: String) -> [String: Any] {
        var payload = base(["pc": pc, "state": "slow"])
        if let mid = event.object["mid"] as? String { payload["mid"] = mid }
        if let kind = event.object["media"] as? String { payload["kind"] = kind }
        if let lost = JanusMessage.int(event.object["lost"]) { payload["lost"] = lost }
        return payload
    }

    private func publishersAppeared(_ list: [[String: Any]]) async {
        var added: [SfuFeed] = []
        for entry in list {
            guard let feed = SfuFeed(janus: entry), feed.janusId != janusFeed else { continue }
            pendingRemovals.removeValue(forKey: feed.janusId)?.cancel()
            feeds[feed.janusId] = feed
            added.append(feed)
        }
        guard !added.isEmpty else { return }
        if let fresh = await readMutes?() {
            let own = muteStates[identity.feed]
            muteStates = fresh
            muteStates[identity.feed] = own
        }
        await push("sfu.feeds", JSONObject(base(["snapshot": false, "added": added.map(feedJSON)])))
        await applyBitrate()
        if subscribesAll { scheduleSubscribeAll() }
    }

    /// New feeds for an `all:true` subscriber, batched every 250 ms.
    private func scheduleSubscribeAll() {
        guard batch == nil else { return }
        batch = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(250))
            await self?.subscribeNewFeeds()
        }
    }

    private func subscribeNewFeeds() async {
        batch = nil
        guard !closed else { return }
        do {
            _ = try await subscribe(JSONList([]), all: true)
        } catch {
            logger.warning("sfu: subscribing a new feed failed", metadata: ["room": "\(roomText)", "error": "\(error)"])
        }
    }

    /// `unpublished` is announced after a moment, so a `leaving` that follows it wins.
    private func removeLater(_ janusId: Int64) {
        guard feeds[janusId]?.streams.isEmpty == false, pendingRemovals[janusId] == nil else { return }
        pendingRemovals[janusId] = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(150))
            guard !Task.isCancelled else { return }
            await self?.removeNow(janusId, reason: "unpublished")
        }
    }

    private func removeNow(_ janusId: Int64, reason: String) async {
        pendingRemovals.removeValue(forKey: janusId)?.cancel()
        // Janus repeats `unpublished` (detach, session end): a feed is announced gone once.
        guard let feed = feeds[janusId], reason == "left" || !feed.streams.isEmpty else { return }
        if reason == "left" { feeds[janusId] = nil } else { feeds[janusId]?.streams = [] }
        await push("sfu.feeds", JSONObject(base(["snapshot": false, "removed": [feed.reference(reason: reason)]])))
        await applyBitrate()
    }

    private func talking(_ data: [String: Any]) async {
        guard let id = JanusMessage.id(data["id"]) else { return }
        let feed: (feedId: UUID, userId: String, deviceId: String)
        if id == janusFeed {
            feed = (identity.feed, identity.user.uuidString.lowercased(), identity.device)
        } else if let other = feeds[id] {
            feed = (other.feedId, other.userId, other.deviceId)
        } else {
            return
        }
        let level = JanusMessage.int(data["audio-level-dBov-avg"]) ?? (data["audio-level-dBov-avg"] as? Double).map { Int($0.rounded()) } ?? 127
        await push("sfu.talking", JSONObject(base([
            "feedId": feed.feedId.uuidString.lowercased(), "userId": feed.userId, "deviceId": feed.deviceId,
            "talking": data["videoroom"] as? String == "talking", "level": max(0, min(127, level)),
        ])))
    }

    /// A request's Janus error as the client's: and when it says the room (426) or the
    /// session (core 458/459) is gone, the coordinator makes them again (§3.3).
    private func failure(_ error: any Error) async -> CallsError {
        if let janus = error as? JanusError, !closed {
            if janus.code == 426 {
                Task { await lost?(self, .room) }
            } else if janus.core, janus.code == 458 || janus.code == 459 {
                Task { await lost?(self, .session) }
            }
        }
        return Self.clientError(error, logger: logger)
    }

    /// A Janus error as the client's error (§3.3 "Error mapping"); one the client cannot
    /// cause (`INTERNAL`) is logged as an error for the operators.
    static func clientError(_ error: any Error, logger: Logger) -> CallsError {
        let mapped = mappedError(error)
        if mapped.code == .internal { logger.error("sfu: Janus refused a request", metadata: ["error": "\(error)"]) }
        return mapped
    }

    private static func mappedError(_ error: any Error) -> CallsError {
        switch error {
        case let error as CallsError: return error
        case let error as JanusError:
            switch error.code {
            case 426: return CallsError(.sfuUnavailable, "the media server lost the room", details: ["retryAfterMs": 1000])
            case 458 where error.core, 459 where error.core:
                return CallsError(.sfuUnavailable, "the media session was lost; it is being made again", details: ["retryAfterMs": 1000])
            case 428: return CallsError(.feedNotFound, "no such feed in this room")
            case 432: return CallsError(.publishersFull, "the room has its maximum of active publishers; retry once someone stops")
            // Janus's own words may name its ids: only the code goes out.
            case 434: return CallsError(.sfuNegotiationFailed, "already published (Janus 434)")
            case 435: return CallsError(.sfuNegotiationFailed, "not published (Janus 435)")
            case 437, 465, 469: return CallsError(.sfuNegotiationFailed, "the SFU refused the session description (Janus \(error.code))")
            default: return CallsError(.internal, "the media server refused the request (\(error.code))")
            }
        default: return CallsError(.sfuUnavailable, "the media server did not answer", details: ["retryAfterMs": 1000])
        }
    }
}
