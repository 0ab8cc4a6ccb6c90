import Foundation

extension CallsConnection {
    /// `call.invite | accept | decline | cancel | hangup {to, callId, …}`: delivered to every
    /// online device of `to` (or `toDevice`) on any instance, stamped with the sender.
    func ring(_ type: String, _ payload: [String: Any], userId: UUID) async throws -> AckResult {
        guard let session else { throw CallsError(.unauthenticated, "send HELLO first") }
        guard let toText = payload["to"] as? String, let to = UUID(uuidString: toText) else {
            throw CallsError(.validationFailed, "to: must be a user id")
        }
        guard to != userId else { throw CallsError(.validationFailed, "to: must be another user") }
        guard let callId = payload["callId"] as? String, let call = UUID(uuidString: callId) else {
            throw CallsError(.validationFailed, "callId: must be a UUID")
        }
        var forwarded: [String: Any] = ["to": to.uuidString.lowercased(), "callId": callId.lowercased()]
        if type == "call.invite" {
            guard let callType = payload["callType"] as? String, callType == "audio" || callType == "video" else {
                throw CallsError(.validationFailed, "callType: must be audio or video")
            }
            forwarded["callType"] = callType
            for key in ["roomId", "conversationId"] {
                guard let value = payload[key], !(value is NSNull) else { continue }
                guard let text = value as? String, UUID(uuidString: text) != nil else {
                    throw CallsError(.validationFailed, "\(key): must be a UUID")
                }
                forwarded[key] = text.lowercased()
            }
            if let token = payload["joinToken"] as? String, token.count <= 4096 { forwarded["joinToken"] = token }
            // A group call's invite says so: the callee joins an sfu room, not a 1:1 call.
            if let mode = payload["mode"], !(mode is NSNull) {
                guard let mode = mode as? String, mode == "p2p" || mode == "sfu" else {
                    throw CallsError(.validationFailed, "mode: must be p2p or sfu")
                }
                forwarded["mode"] = mode
            }
        }
        if let reason = payload["reason"] as? String, reason.count <= 64 { forwarded["reason"] = reason }
        guard try await !service.store.blockedBetween(userId, to) else {
            throw CallsError(.unauthorized, "you cannot call this user")
        }
        var devices = try await service.live.onlineDevices(of: to)
        if let toDevice = payload["toDevice"] as? String {
            devices = devices.filter { $0 == toDevice }
        }
        let sender = RelaySender(userId: userId.uuidString.lowercased(), deviceId: session.deviceId)
        await service.deliver(to: devices, type: type, payload: JSONObject(forwarded), from: sender)
        if type == "call.accept" || type == "call.decline" {
            // The caller's answer ends the ringing on this user's other devices too.
            let mine = try await service.live.onlineDevices(of: userId).filter { $0 != session.deviceId }
            await service.deliver(to: mine, type: type, payload: JSONObject(forwarded), from: sender)
        }
        await service.follow(
            type, call: call, from: userId, to: to, room: (forwarded["roomId"] as? String).flatMap(UUID.init(uuidString:)),
            video: forwarded["callType"] as? String == "video", reason: forwarded["reason"] as? String, delivered: devices.count)
        return .ok(["delivered": devices.count])
    }

    /// `webrtc.offer | answer | ice {roomId, to:{userId, deviceId}, sdp | candidate}`:
    /// relayed only between two members of the same room.
    func negotiate(_ type: String, _ payload: [String: Any], userId: UUID) async throws -> AckResult {
        guard let session else { throw CallsError(.unauthenticated, "send HELLO first") }
        let roomId = try Self.roomId(payload)
        guard let target = payload["to"] as? [String: Any], let targetUser = (target["userId"] as? String).flatMap(UUID.init(uuidString:)),
            let targetDevice = target["deviceId"] as? String
        else { throw CallsError(.validationFailed, "to: must be {userId, deviceId}") }
        var forwarded: [String: Any] = [
            "roomId": roomId.uuidString.lowercased(),
            "to": ["userId": targetUser.uuidString.lowercased(), "deviceId": targetDevice],
        ]
        if type == "webrtc.ice" {
            guard let candidate = payload["candidate"], candidate is [String: Any] || candidate is String || candidate is NSNull else {
                throw CallsError(.validationFailed, "candidate: is required")
            }
            forwarded["candidate"] = candidate
        } else {
            guard let sdp = payload["sdp"] as? String, !sdp.isEmpty, sdp.utf8.count <= 60_000 else {
                throw CallsError(.validationFailed, "sdp: must be a session description of at most 60000 bytes")
            }
            forwarded["sdp"] = sdp
        }
        if let restart = payload["iceRestart"] as? Bool { forwarded["iceRestart"] = restart }
        // The sender's membership from its own session (joins and leaves of this device happen
        // here); the target's from this instance's copy, read again before refusing.
        guard await session.isIn(roomId) else {
            throw CallsError(.unauthorized, "you are not in room \(roomId)")
        }
        let isTarget: (RoomPeer) -> Bool = { $0.deviceId == targetDevice && $0.userId == targetUser }
        var peers = try await service.members(of: roomId) ?? []
        if !peers.contains(where: isTarget) { peers = try await service.members(of: roomId, fresh: true) ?? [] }
        guard peers.contains(where: isTarget) else {
            throw CallsError(.peerNotFound, "no such peer in the room")
        }
        await service.deliver(
            to: [targetDevice], type: type, payload: JSONObject(forwarded),
            from: RelaySender(userId: userId.uuidString.lowercased(), deviceId: session.deviceId), room: roomId)
        return .ok()
    }
}
