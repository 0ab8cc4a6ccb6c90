import Foundation

extension CallsConnection {
    /// `ROOM_UPGRADE {roomId, allowedUserIds?, sfu?}`: a p2p call becomes a group call. A
    /// member of the p2p room creates an sfu room for the same conversation, allowing the p2p
    /// room's users and the ones listed; every peer of the p2p room (the sender as the response
    /// frame) gets `ROOM_UPGRADED {fromRoomId, roomId, callId, joinToken, expiresAt, mode:"sfu"}`
    /// and moves with `ROOM_JOIN` of the new room and `ROOM_LEAVE` of the old one.
    func upgradeRoom(_ payload: [String: Any], userId: UUID) async throws -> AckResult {
        guard let session else { throw CallsError(.unauthenticated, "send HELLO first") }
        if service.killSwitches.isEngaged(.calls) {
            throw CallsError(.unauthorized, "new calls are switched off by the operators for now (kill switch calls)")
        }
        let from = try Self.roomId(payload)
        guard await session.isIn(from) else { throw CallsError(.unauthorized, "you are not in room \(from)") }
        let extra: [Any]
        switch payload["allowedUserIds"] {
        case nil, is NSNull: extra = []
        case let list as [Any]: extra = list
        default: throw CallsError(.validationFailed, "allowedUserIds: must be a list of at most 100 user ids")
        }
        var videoCodec = "vp8"
        if let value = payload["sfu"], !(value is NSNull) {
            guard let options = value as? [String: Any] else { throw CallsError(.validationFailed, "sfu: must be {videoCodec}") }
            if let codec = options["videoCodec"], !(codec is NSNull) {
                guard let codec = codec as? String, codec == "vp8" || codec == "h264" else {
                    throw CallsError(.validationFailed, "sfu.videoCodec: must be vp8 or h264")
                }
                videoCodec = codec
            }
        }
        guard let room = try await service.store.invitation(of: from), !room.closed else {
            throw CallsError(.roomNotFound, "room \(from) is closed")
        }
        guard room.mode == "p2p" else { throw CallsError(.validationFailed, "roomId: already a group (sfu) room") }
        let allowed = try Self.allowedUsers(extra, with: room.allowed)
        guard allowed.count <= 101 else { throw CallsError(.validationFailed, "allowedUserIds: a room allows at most 100 more users") }
        var upgraded = try await makeRoom(mode: "sfu", allowed: allowed, conversationId: room.conversationId, videoCodec: videoCodec, userId: userId)
        upgraded["fromRoomId"] = from.uuidString.lowercased()
        let others = (try await service.members(of: from))?.map(\.deviceId).filter { $0 != session.deviceId } ?? []
        await session.send(type: "ROOM_UPGRADED", payload: JSONObject(upgraded))
        await service.deliver(
            to: others, type: "ROOM_UPGRADED", payload: JSONObject(upgraded),
            from: RelaySender(userId: userId.uuidString.lowercased(), deviceId: session.deviceId), room: from)
        return .ok(upgraded)
    }
}
