import Foundation

extension CallsConnection {
    /// The `sfu.*` requests (spec sfu-janus.md §2.2): membership and epoch checked, the
    /// payload read field by field (each refusal names the field), then the device's Janus
    /// participant does the work. Response frames are pushed before the ACK.
    func sfuRequest(_ type: String, _ payload: [String: Any], userId: UUID) async throws -> AckResult {
        guard let session else { throw CallsError(.unauthenticated, "send HELLO first") }
        let roomId = try Self.roomId(payload)
        // Membership first: a non-member learns nothing about the room.
        guard await session.isIn(roomId) else { throw CallsError(.unauthorized, "you are not in room \(roomId)") }
        guard let sfu = service.sfu else {
            throw CallsError(.sfuUnavailable, "this deployment has no media server; use p2p rooms", details: ["retryAfterMs": 60_000])
        }
        let room = roomId.uuidString.lowercased()
        if type == "sfu.leave" {
            await service.sfuLeave(room: roomId, device: session.deviceId)
            await session.send(type: "sfu.left", payload: JSONObject(["roomId": room]))
            return .ok()
        }
        guard let device = await sfu.device(room: roomId, device: session.deviceId) else {
            throw CallsError(.roomNotFound, "you have no media session in room \(roomId) (a p2p room, or left with sfu.leave: join it again)")
        }
        if let value = payload["epoch"], !(value is NSNull) {
            guard let epoch = integer(value) else { throw CallsError(.validationFailed, "epoch: must be an integer") }
            let current = device.placement.epoch
            guard epoch == current else { throw CallsError(.sfuEpochMismatch, "epoch: the room is at epoch \(current)", details: ["epoch": current]) }
        }
        let epoch = device.placement.epoch
        switch type {
        case "sfu.publish":
            let sdp = try Self.sdp(payload)
            let descriptions = JSONList(try Self.publishDescriptions(payload["streams"]))
            var muted: SfuMuteState?
            if let value = payload["muted"], !(value is NSNull) {
                guard let flags = value as? [String: Any] else { throw CallsError(.validationFailed, "muted: must be {audio, video}") }
                muted = SfuMuteState(audio: try Self.flag(flags["audio"], "muted.audio") ?? false, video: try Self.flag(flags["video"], "muted.video") ?? false)
            }
            let published = try await device.publish(sdp: sdp, descriptions: descriptions, muted: muted)
            if let muted {
                let state = (try? await sfu.store.setMuted(room: roomId, device: session.deviceId, audio: muted.audio, video: muted.video)) ?? muted
                await service.announceMute(room: roomId, device: device, kind: "audio", muted: muted.audio, state: state)
                await service.announceMute(room: roomId, device: device, kind: "video", muted: muted.video, state: state)
            }
            await sfu.published(device, videoStreams: await device.videoStreamCount)
            await session.send(type: "sfu.published", payload: published)
            return .ok()
        case "sfu.unpublish":
            try await device.unpublish()
            await sfu.published(device, videoStreams: nil)
            await session.send(type: "sfu.unpublished", payload: JSONObject(["roomId": room, "epoch": epoch]))
            return .ok()
        case "sfu.subscribe":
            let all = try Self.flag(payload["all"], "all") ?? false
            let streams = JSONList(try await Self.subscriptions(JSONObject(payload), device: device, layers: true))
            guard all || !streams.value.isEmpty else { throw CallsError(.validationFailed, "streams: list at least one feed, or set all:true") }
            let pending = try await device.subscribe(streams, all: all)
            return .ok(pending ? ["pending": true] : [:])
        case "sfu.unsubscribe":
            let streams = JSONList(try await Self.subscriptions(JSONObject(payload), device: device, layers: false))
            guard !streams.value.isEmpty else { throw CallsError(.validationFailed, "streams: list at least one feed") }
            let pending = try await device.unsubscribe(streams)
            return .ok(pending ? ["pending": true] : [:])
        case "sfu.answer":
            guard let offerId = integer(payload["offerId"]) else { throw CallsError(.validationFailed, "offerId: must be an integer") }
            try await device.answer(offerId: offerId, sdp: try Self.sdp(payload))
            return .ok()
        case "sfu.trickle":
            guard let pc = payload["pc"] as? String, pc == "pub" || pc == "sub" else { throw CallsError(.validationFailed, "pc: must be pub or sub") }
            try await device.trickle(pc: pc, candidate: try Self.candidate(payload["candidate"]).map(JSONObject.init))
            return .ok()
        case "sfu.restartIce":
            guard payload["pc"] as? String == "sub" else {
                throw CallsError(.validationFailed, "pc: must be sub (a publisher restarts ICE with a new sfu.publish)")
            }
            try await device.restartIce()
            return .ok()
        case "sfu.mute":
            guard let kind = payload["kind"] as? String, kind == "audio" || kind == "video" else {
                throw CallsError(.validationFailed, "kind: must be audio or video")
            }
            guard let muted = try Self.flag(payload["muted"], "muted") else { throw CallsError(.validationFailed, "muted: must be true or false") }
            let state = try await device.mute(kind: kind, muted: muted)
            _ = try? await sfu.store.setMuted(room: roomId, device: session.deviceId, audio: state.audio, video: state.video)
            await service.announceMute(room: roomId, device: device, kind: kind, muted: muted, state: state)
            return .ok()
        case "sfu.receive":
            try await device.receive(JSONList(try Self.receiveStreams(payload["streams"])))
            return .ok()
        default:
            throw CallsError(.validationFailed, "type: unknown frame type \(type)")
        }
    }

    // MARK: Field rules

    private static func sdp(_ payload: [String: Any]) throws -> String {
        guard let sdp = payload["sdp"] as? String, !sdp.isEmpty else { throw CallsError(.validationFailed, "sdp: must be a session description") }
        guard sdp.hasPrefix("v=0") else { throw CallsError(.sfuNegotiationFailed, "sdp: not a session description (must start with v=0)") }
        return sdp
    }

    private static func flag(_ value: Any?, _ field: String) throws -> Bool? {
        guard let value, !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, String(cString: number.objCType) == "c" else {
            throw CallsError(.validationFailed, "\(field): must be true or false")
        }
        return number.boolValue
    }

    /// `streams:[{mid, source}]` of `sfu.publish` → Janus `descriptions`.
    private static func publishDescriptions(_ value: Any?) throws -> [[String: Any]] {
        guard let value, !(value is NSNull) else { return [] }
        guard let list = value as? [Any], list.count <= 3 else { throw CallsError(.validationFailed, "streams: must be a list of at most 3 {mid, source}") }
        return try list.enumerated().map { index, item in
            guard let entry = item as? [String: Any], let mid = entry["mid"] as? String, (1...32).contains(mid.utf8.count) else {
                throw CallsError(.validationFailed, "streams[\(index)].mid: must be the m-line's mid")
            }
            let source = entry["source"] as? String ?? ""
            guard source.isEmpty || ["mic", "camera", "screen"].contains(source) else {
                throw CallsError(.validationFailed, "streams[\(index)].source: must be mic, camera or screen")
            }
            return source.isEmpty ? ["mid": mid] : ["mid": mid, "description": source]
        }
    }

    /// `streams:[{feedId, mid?, substream?, temporal?}]` → Janus stream objects.
    private static func subscriptions(_ payload: JSONObject, device: SfuDevice, layers: Bool) async throws -> [[String: Any]] {
        let field = "streams"
        guard let value = payload.value[field], !(value is NSNull) else { return [] }
        guard let list = value as? [Any], list.count <= 60 else { throw CallsError(.validationFailed, "\(field): must be a list of at most 60 streams") }
        var feedIds: [UUID] = []
        var entries: [(UUID, [String: Any])] = []
        for (index, item) in list.enumerated() {
            guard let entry = item as? [String: Any], let text = entry["feedId"] as? String, let feedId = UUID(uuidString: text) else {
                throw CallsError(.validationFailed, "\(field)[\(index)].feedId: must be a feed id")
            }
            var stream: [String: Any] = [:]
            if let mid = entry["mid"], !(mid is NSNull) {
                guard let mid = mid as? String, (1...32).contains(mid.utf8.count) else { throw CallsError(.validationFailed, "\(field)[\(index)].mid: must be a mid") }
                stream["mid"] = mid
            }
            if layers {
                for key in ["substream", "temporal"] {
                    guard let layer = entry[key], !(layer is NSNull) else { continue }
                    guard let number = integer(layer), (0...2).contains(number) else { throw CallsError(.validationFailed, "\(field)[\(index)].\(key): must be 0, 1 or 2") }
                    stream[key] = number
                }
            }
            feedIds.append(feedId)
            entries.append((feedId, stream))
        }
        let janus = try await device.janusFeeds(feedIds)
        return entries.map { feedId, stream in
            var stream = stream
            stream["feed"] = janus[feedId]
            return stream
        }
    }

    /// `streams:[{mid, send?, substream?, temporal?}]` of `sfu.receive`.
    private static func receiveStreams(_ value: Any?) throws -> [[String: Any]] {
        guard let list = value as? [Any], (1...60).contains(list.count) else { throw CallsError(.validationFailed, "streams: must be a list of 1 to 60 {mid, …}") }
        return try list.enumerated().map { index, item in
            guard let entry = item as? [String: Any], let mid = entry["mid"] as? String, (1...32).contains(mid.utf8.count) else {
                throw CallsError(.validationFailed, "streams[\(index)].mid: must be a mid of the subscriber SDP")
            }
            var stream: [String: Any] = ["mid": mid]
            if let send = try flag(entry["send"], "streams[\(index)].send") { stream["send"] = send }
            for key in ["substream", "temporal"] {
                guard let layer = entry[key], !(layer is NSNull) else { continue }
                guard let number = integer(layer), (0...2).contains(number) else { throw CallsError(.validationFailed, "streams[\(index)].\(key): must be 0, 1 or 2") }
                stream[key] = number
            }
            return stream
        }
    }

    /// `candidate:{candidate, sdpMid, sdpMLineIndex}` or null (end of gathering).
    private static func candidate(_ value: Any?) throws -> [String: Any]? {
        guard let value, !(value is NSNull) else { return nil }
        guard let object = value as? [String: Any], let text = object["candidate"] as? String, text.utf8.count <= 1024 else {
            throw CallsError(.validationFailed, "candidate: must be {candidate, sdpMid, sdpMLineIndex} or null")
        }
        var candidate: [String: Any] = ["candidate": text]
        if let mid = object["sdpMid"], !(mid is NSNull) {
            guard let mid = mid as? String, mid.utf8.count <= 32 else { throw CallsError(.validationFailed, "candidate.sdpMid: must be a mid") }
            candidate["sdpMid"] = mid
        }
        if let index = object["sdpMLineIndex"], !(index is NSNull) {
            guard let number = integer(index), (0...127).contains(number) else { throw CallsError(.validationFailed, "candidate.sdpMLineIndex: must be 0 to 127") }
            candidate["sdpMLineIndex"] = number
        }
        return candidate
    }
}
