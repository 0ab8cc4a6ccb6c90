import Foundation

extension CallsConnection {
    /// `ROOM_CREATE {allowedUserIds[], mode, conversationId?}` → `ROOM_CREATED`.
    func createRoom(_ payload: [String: Any], userId: UUID) async throws -> AckResult {
        if service.killSwitches.isEngaged(.calls) {
            throw CallsError(.unauthorized, "new calls are switched off by the operators for now (kill switch calls)")
        }
        guard let list = payload["allowedUserIds"] as? [Any] else {
            throw CallsError(.validationFailed, "allowedUserIds: must be a list of at most 100 user ids")
        }
        let allowed = try Self.allowedUsers(list, with: [userId])
        let mode = payload["mode"] as? String ?? "p2p"
        guard mode == "p2p" || mode == "sfu" else { throw CallsError(.validationFailed, "mode: must be p2p or sfu") }
        var conversationId: UUID?
        if let value = payload["conversationId"], !(value is NSNull) {
            guard let text = value as? String, let id = UUID(uuidString: text) else {
                throw CallsError(.validationFailed, "conversationId: must be a conversation id")
            }
            conversationId = id
        }
        // `sfu:{videoCodec}` of an sfu room: vp8 (the default) or h264.
        var videoCodec = "vp8"
        if let value = payload["sfu"], !(value is NSNull) {
            guard mode == "sfu" else { throw CallsError(.validationFailed, "sfu: only sfu rooms take media settings") }
            guard let options = value as? [String: Any] else { throw CallsError(.validationFailed, "sfu: must be {videoCodec}") }
            if let codec = options["videoCodec"], !(codec is NSNull) {
                guard let codec = codec as? String, codec == "vp8" || codec == "h264" else {
                    throw CallsError(.validationFailed, "sfu.videoCodec: must be vp8 or h264")
                }
                videoCodec = codec
            }
        }
        let created = try await makeRoom(mode: mode, allowed: allowed, conversationId: conversationId, videoCodec: videoCodec, userId: userId)
        await session?.send(type: "ROOM_CREATED", payload: JSONObject(created))
        return .ok(created)
    }

    /// Creates a room and signs its join token: `{roomId, callId, joinToken, expiresAt, mode}`.
    func makeRoom(mode: String, allowed: [UUID], conversationId: UUID?, videoCodec: String, userId: UUID) async throws -> [String: Any] {
        let roomId = UUID()
        let callId = UUID()
        let expiresAt = Int(Date().timeIntervalSince1970) + settings.joinTokenTTLSeconds
        let maxPeers = mode == "p2p" ? min(settings.maximumP2PPeers, settings.maximumRoomPeers) : settings.maximumRoomPeers
        try await service.store.createRoom(
            id: roomId, callId: callId, mode: mode, createdBy: userId, allowed: allowed, conversationId: conversationId,
            maxPeers: max(2, maxPeers), tokenExpiresAt: expiresAt, videoCodec: videoCodec)
        let token = JoinToken(claims: .init(room: roomId, call: callId, users: allowed, exp: expiresAt)).signed(with: try await service.signingKey())
        return [
            "roomId": roomId.uuidString.lowercased(), "callId": callId.uuidString.lowercased(), "joinToken": token,
            "expiresAt": Int64(expiresAt) * 1000, "mode": mode,
        ]
    }

    /// `ROOM_TOKEN_REFRESH {roomId}` → `ROOM_TOKEN_REFRESHED {roomId, callId, joinToken,
    /// expiresAt}`: a join token with a new expiry for the same room, call and allowed users,
    /// so a call longer than the token's lifetime can still ring people and take members back
    /// after a drop. Only a device in the room now gets one (the earlier service re-minted
    /// tokens for any room id).
    func refreshJoinToken(_ payload: [String: Any]) async throws -> AckResult {
        guard let session else { throw CallsError(.unauthenticated, "send HELLO first") }
        let roomId = try Self.roomId(payload)
        guard await session.isIn(roomId) else { throw CallsError(.unauthorized, "you are not in room \(roomId)") }
        guard let room = try await service.store.invitation(of: roomId), !room.closed else {
            throw CallsError(.roomNotFound, "room \(roomId) is closed")
        }
        let expiresAt = Int(Date().timeIntervalSince1970) + settings.joinTokenTTLSeconds
        let token = JoinToken(claims: .init(room: roomId, call: room.callId, users: room.allowed, exp: expiresAt))
            .signed(with: try await service.signingKey())
        let refreshed: [String: Any] = [
            "roomId": roomId.uuidString.lowercased(), "callId": room.callId.uuidString.lowercased(), "joinToken": token,
            "expiresAt": Int64(expiresAt) * 1000,
        ]
        await session.send(type: "ROOM_TOKEN_REFRESHED", payload: JSONObject(refreshed))
        return .ok(refreshed)
    }

    /// `ROOM_JOIN {roomId, joinToken}` → `ROOM_JOIN_OK`, `ROOM_SNAPSHOT`; others get `PEER_JOINED`.
    func joinRoom(_ payload: [String: Any], userId: UUID) async throws -> AckResult {
        guard let session else { throw CallsError(.unauthenticated, "send HELLO first") }
        let roomId = try Self.roomId(payload)
        guard let token = payload["joinToken"] as? String, !token.isEmpty else {
            throw CallsError(.validationFailed, "joinToken: is required")
        }
        guard let claims = JoinToken.verify(token, key: try await service.signingKey()), claims.room == roomId else {
            throw CallsError(.unauthorized, "joinToken: not a valid token for this room")
        }
        guard claims.exp > Int(Date().timeIntervalSince1970) else { throw CallsError(.unauthorized, "joinToken: expired") }
        guard claims.users.contains(userId) else { throw CallsError(.unauthorized, "you are not invited to this room") }

        let (room, others, me) = try await service.live.join(
            roomId: roomId, deviceId: session.deviceId, userId: userId, instance: service.instanceId)
        // An sfu room's media: placed on a node and the device's participant made there.
        var media: SfuDevice?
        // The device's participant was taken over from another instance: its media goes on.
        var mediaResumed = false
        if room.mode == "sfu" {
            do {
                guard let sfu = service.sfu else {
                    throw CallsError(.sfuUnavailable, "this deployment has no media server; use p2p rooms", details: ["retryAfterMs": 60_000])
                }
                (media, mediaResumed) = try await sfu.join(room: roomId, device: session.deviceId, user: userId)
            } catch {
                _ = try? await service.live.leave(roomId: roomId, deviceId: session.deviceId)
                throw error
            }
        }
        await session.joined(roomId)
        var iceServers: [[String: Any]] = []
        if let turn = service.turnCredentials(for: userId) { iceServers = turn.iceServers }
        let id = roomId.uuidString.lowercased()
        var joinedPayload: [String: Any] = [
            "roomId": id, "callId": room.callId.uuidString.lowercased(), "mode": room.mode,
            "iceServers": iceServers, "peers": others.map(\.json),
        ]
        if let media, let sfu = service.sfu {
            joinedPayload["sfu"] = [
                "epoch": media.placement.epoch, "maxPublishers": sfu.settings.maximumPublishers, "audioCodecs": ["opus"],
                "videoCodecs": SfuCoordinator.videoCodecs(media.placement.videoCodec),
                "maxBitrate": sfu.settings.maximumBitrate, "simulcast": true, "maxSubscribedMlines": sfu.settings.maximumSubscribedMlines,
                "resumed": mediaResumed,
            ] as [String: Any]
        }
        await session.send(type: "ROOM_JOIN_OK", payload: JSONObject(joinedPayload))
        await session.send(type: "ROOM_SNAPSHOT", payload: JSONObject([
            "roomId": id, "callId": room.callId.uuidString.lowercased(), "mode": room.mode, "roomVersion": room.version,
            "peers": room.peers.map(\.json),
        ]))
        if let media { await session.send(type: "sfu.feeds", payload: await media.snapshot()) }
        await service.deliver(
            to: others.map(\.deviceId), type: "PEER_JOINED",
            payload: JSONObject(["roomId": id, "userId": userId.uuidString.lowercased(), "deviceId": me.deviceId, "joinedAt": me.joinedAt]), from: nil,
            update: RoomUpdate(room: roomId, version: room.version, peers: room.peers))
        return .ok(["roomId": id])
    }

    /// `ROOM_LEAVE {roomId}` → `ROOM_LEFT`; others get `PEER_LEFT` (reason `left`).
    func leaveRoom(_ payload: [String: Any], userId: UUID) async throws -> AckResult {
        guard let session else { throw CallsError(.unauthenticated, "send HELLO first") }
        let roomId = try Self.roomId(payload)
        await service.sfuLeave(room: roomId, device: session.deviceId)
        let left = try await service.live.leave(roomId: roomId, deviceId: session.deviceId)
        // Out of the room either way (a sweep on another instance may have removed it already).
        await session.left(roomId)
        guard let (version, remaining) = left else {
            throw CallsError(.roomNotFound, "you are not in room \(roomId)")
        }
        let id = roomId.uuidString.lowercased()
        await session.send(type: "ROOM_LEFT", payload: JSONObject(["roomId": id]))
        await service.announcePeerLeft(
            room: roomId, peer: RoomPeer(userId: userId, deviceId: session.deviceId, joinedAt: 0), version: version, to: remaining, reason: "left")
        return .ok(["roomId": id])
    }

    /// `allowedUserIds`: `initial` and then each listed user once; at most 100 listed.
    static func allowedUsers(_ list: [Any], with initial: [UUID]) throws -> [UUID] {
        guard list.count <= 100 else { throw CallsError(.validationFailed, "allowedUserIds: must be a list of at most 100 user ids") }
        var allowed = initial
        for (index, item) in list.enumerated() {
            guard let text = item as? String, let id = UUID(uuidString: text) else {
                throw CallsError(.validationFailed, "allowedUserIds[\(index)]: must be a user id")
            }
            if !allowed.contains(id) { allowed.append(id) }
        }
        return allowed
    }

    static func roomId(_ payload: [String: Any]) throws -> UUID {
        guard let text = payload["roomId"] as? String, let id = UUID(uuidString: text) else {
            throw CallsError(.validationFailed, "roomId: must be a room id")
        }
        return id
    }
}
