import Foundation

extension CallsConnection {
    /// The `sfu.*` requests (spec sfu-janus.md §2.2): the payload read (``SfuRequest``),
    /// membership and epoch checked, then the device's Janus participant does the work.
    /// Response frames are pushed before the ACK.
    func sfuRequest(_ type: String, _ payload: [String: Any], userId: UUID) async throws -> AckResult {
        guard let session else { throw CallsError(.unauthenticated, "send HELLO first") }
        let roomId = try Self.roomId(payload)
        // Membership first: a non-member learns nothing about the room.
        guard await session.isIn(roomId) else { throw CallsError(.unauthorized, "you are not in room \(roomId)") }
        let request = try SfuRequest.parse(type, payload)
        guard let sfu = service.sfu else {
            throw CallsError(.sfuUnavailable, "this deployment has no media server; use p2p rooms", details: ["retryAfterMs": 60_000])
        }
        let room = roomId.uuidString.lowercased()
        if case .leave = request {
            await service.sfuLeave(room: roomId, device: session.deviceId)
            await session.send(type: "sfu.left", payload: JSONObject(["roomId": room]))
            return .ok()
        }
        guard let device = await sfu.device(room: roomId, device: session.deviceId) else {
            throw CallsError(.roomNotFound, "you have no media session in room \(roomId) (a p2p room, or left with sfu.leave: join it again)")
        }
        let epoch = device.placement.epoch
        if let asked = try SfuRequest.epoch(payload), asked != epoch {
            throw CallsError(.sfuEpochMismatch, "epoch: the room is at epoch \(epoch)", details: ["epoch": epoch])
        }
        switch request {
        case .publish(let sdp, let descriptions, let muted):
            let published = try await device.publish(sdp: sdp, descriptions: JSONList(descriptions), muted: muted)
            if let muted {
                let state = (try? await sfu.store.setMuted(room: roomId, device: session.deviceId, audio: muted.audio, video: muted.video)) ?? muted
                await service.announceMute(room: roomId, device: device, kind: "audio", muted: muted.audio, state: state)
                await service.announceMute(room: roomId, device: device, kind: "video", muted: muted.video, state: state)
            }
            await sfu.published(device)
            await session.send(type: "sfu.published", payload: published)
            return .ok()
        case .unpublish:
            try await device.unpublish()
            await sfu.published(device)
            await session.send(type: "sfu.unpublished", payload: JSONObject(["roomId": room, "epoch": epoch]))
            return .ok()
        case .subscribe(let choices, let all):
            let janus = try await device.janusFeeds(choices.map(\.feedId))
            let pending = try await device.subscribe(JSONList(Self.janusStreams(choices, janus)), all: all)
            return .ok(pending ? ["pending": true] : [:])
        case .unsubscribe(let choices):
            let janus = try await device.janusFeeds(choices.map(\.feedId))
            let pending = try await device.unsubscribe(JSONList(Self.janusStreams(choices, janus)))
            return .ok(pending ? ["pending": true] : [:])
        case .answer(let offerId, let sdp):
            try await device.answer(offerId: offerId, sdp: sdp)
            return .ok()
        case .trickle(let pc, let candidate):
            try await device.trickle(pc: pc, candidate: candidate.map(JSONObject.init))
            return .ok()
        case .restartIce:
            try await device.restartIce()
            return .ok()
        case .mute(let kind, let muted):
            let state = try await device.mute(kind: kind, muted: muted)
            _ = try? await sfu.store.setMuted(room: roomId, device: session.deviceId, audio: state.audio, video: state.video)
            await service.announceMute(room: roomId, device: device, kind: kind, muted: muted, state: state)
            return .ok()
        case .receive(let streams):
            try await device.receive(JSONList(streams))
            return .ok()
        case .leave:
            return .ok()
        }
    }

    /// The chosen streams as Janus stream objects (`feed` = the Janus feed id, from
    /// `SfuDevice.janusFeeds`, which refuses a feed that is not another participant's in this
    /// room with `FEED_NOT_FOUND` and `details.feedIds`).
    private static func janusStreams(_ choices: [SfuRequest.Choice], _ janus: [UUID: Int64]) -> [[String: Any]] {
        choices.map { choice in
            var stream = choice.fields
            stream["feed"] = janus[choice.feedId]
            return stream
        }
    }
}
