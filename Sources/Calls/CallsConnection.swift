import Foundation
import HummingbirdWebSocket
import Logging

/// One WebSocket of the calls protocol: envelope checks, sequencing, idempotent retries,
/// rate limits, the HELLO/AUTH handshake, heartbeats and the dispatch of requests.
actor CallsConnection {
    let service: CallsService
    let writer: SocketWriter
    var settings: CallsSettings { service.settings }

    /// The device session (after HELLO); authenticated once it has a user.
    var session: DeviceSession?
    var userId: UUID?
    var lastClientSeq = -1
    var limiter = FrameRateLimiter()
    let openedAt = ContinuousClock.now
    var lastInbound = ContinuousClock.now
    var lastPing = ContinuousClock.now
    var closed = false

    init(service: CallsService, writer: SocketWriter) {
        self.service = service
        self.writer = writer
    }

    var authenticated: Bool { userId != nil }

    // MARK: Frames in

    func handle(_ text: String) async {
        lastInbound = .now
        let frame: InboundFrame
        do {
            frame = try InboundFrame.parse(text)
        } catch {
            if let msgId = error.msgId {
                writer.write(OutboundFrame.ack(of: msgId, result: .failed(CallsError(.validationFailed, error.message))))
            } else {
                // No msgId to acknowledge: an ERROR frame (seq 0 before the session exists).
                let payload: [String: Any] = ["code": "VALIDATION_FAILED", "message": error.message, "retryable": false]
                if let session { await session.send(type: "ERROR", payload: JSONObject(payload)) } else {
                    writer.write(OutboundFrame.text(type: "ERROR", seq: 0, payload: payload))
                }
            }
            return
        }
        // A retry of a request already executed: the original result, nothing re-run.
        if let cached = await session?.cachedAck(frame.msgId) {
            writer.write(OutboundFrame.ack(of: frame.msgId, result: cached))
            return
        }
        guard frame.seq > lastClientSeq else {
            return acknowledge(frame, .failed(CallsError(.seqOutOfOrder, "seq \(frame.seq) is not above \(lastClientSeq)")))
        }
        lastClientSeq = frame.seq
        switch limiter.check(frame.type, now: Date().timeIntervalSince1970) {
        case .allowed:
            break
        case .limited(let retryAfterMs):
            return acknowledge(frame, .failed(CallsError(.rateLimited, "too many \(frame.type) frames", details: ["retryAfterMs": retryAfterMs])))
        case .flooding:
            return close(.rateLimited, "RATE_LIMITED")
        }
        let result: AckResult
        do {
            result = try await dispatch(frame)
        } catch let error as CallsError {
            result = .failed(error)
        } catch {
            // The socket went away mid-request: nobody is left to answer.
            if Task.isCancelled || closed { return }
            service.logger.error("calls request failed", metadata: ["type": "\(frame.type)", "error": "\(error)"])
            result = .failed(CallsError(.internal, "the request failed; retry"))
        }
        if frame.type != "PING" { await session?.remember(frame.msgId, result) }
        acknowledge(frame, result)
    }

    private func acknowledge(_ frame: InboundFrame, _ result: AckResult) {
        writer.write(OutboundFrame.ack(of: frame.msgId, result: result))
    }

    private func dispatch(_ frame: InboundFrame) async throws -> AckResult {
        switch frame.type {
        case "PING": return .ok()
        case "HELLO": return try await hello(frame.payload)
        case "AUTH": return try await auth(frame.payload)
        default: break
        }
        guard session != nil else { throw CallsError(.unauthenticated, "send HELLO first") }
        guard let userId else { throw CallsError(.unauthenticated, "send AUTH first") }
        switch frame.type {
        case "ROOM_CREATE": return try await createRoom(frame.payload, userId: userId)
        case "ROOM_JOIN": return try await joinRoom(frame.payload, userId: userId)
        case "ROOM_LEAVE": return try await leaveRoom(frame.payload, userId: userId)
        case "ROOM_UPGRADE": return try await upgradeRoom(frame.payload, userId: userId)
        case "ROOM_TOKEN_REFRESH": return try await refreshJoinToken(frame.payload)
        case "call.invite", "call.accept", "call.decline", "call.cancel", "call.hangup":
            return try await ring(frame.type, frame.payload, userId: userId)
        case "webrtc.offer", "webrtc.answer", "webrtc.ice":
            return try await negotiate(frame.type, frame.payload, userId: userId)
        default:
            if frame.type.hasPrefix("sfu.") { return try await sfuRequest(frame.type, frame.payload, userId: userId) }
            throw CallsError(.validationFailed, "type: unknown frame type \(frame.type)")
        }
    }

    // MARK: Session

    private func hello(_ payload: [String: Any]) async throws -> AckResult {
        guard session == nil else { throw CallsError(.validationFailed, "HELLO was already sent on this connection") }
        guard let client = payload["client"] as? [String: Any], let deviceId = client["deviceId"] as? String,
            DeviceID.isValid(deviceId)
        else { throw CallsError(.validationFailed, "client.deviceId: \(DeviceID.rule)") }

        if let resume = payload["resume"] as? [String: Any], let token = resume["resumeToken"] as? String,
            let last = integer(resume["lastServerSeq"]),
            let previous = await service.hub.session(resumeToken: token), previous.deviceId == deviceId
        {
            let heartbeat = settings.heartbeatSeconds
            let resumed = await previous.resume(writer, after: last) { seq in
                OutboundFrame.text(type: "WELCOME", seq: seq, payload: Self.welcome(token: token, resumed: true, heartbeat: heartbeat))
            }
            if resumed {
                session = previous
                userId = await previous.userId
                return .ok(["resumed": true])
            }
        }
        let fresh = DeviceSession(deviceId: deviceId, replayLimit: settings.replayBufferFrames)
        await fresh.attach(writer)
        session = fresh
        await fresh.send(type: "WELCOME", payload: JSONObject(Self.welcome(token: fresh.resumeToken, resumed: false, heartbeat: settings.heartbeatSeconds)))
        return .ok(["resumed": false])
    }

    static func welcome(token: String, resumed: Bool, heartbeat: Int) -> [String: Any] {
        [
            "serverTime": OutboundFrame.now(), "heartbeatSec": heartbeat, "resumeToken": token, "resumed": resumed,
            "features": ["resume", "p2p", "ringing", "turn", "sfu"],
        ]
    }

    private func auth(_ payload: [String: Any]) async throws -> AckResult {
        guard let session else { throw CallsError(.unauthenticated, "send HELLO first") }
        guard let token = payload["accessToken"] as? String, !token.isEmpty else {
            throw CallsError(.validationFailed, "accessToken: is required")
        }
        let verified: VerifiedAccessToken
        do {
            verified = try await service.verify(token)
        } catch {
            await session.send(type: "AUTH_FAIL", payload: JSONObject(["code": "UNAUTHENTICATED", "message": "the access token is invalid or expired"]))
            throw CallsError(.unauthenticated, "the access token is invalid or expired")
        }
        if let userId {
            guard userId == verified.userId else { throw CallsError(.unauthorized, "the token belongs to another user") }
            await session.authenticate(userId: userId, expiresAt: verified.expiresAt)
        } else {
            guard try await service.live.bindDevice(session.deviceId, userId: verified.userId, instance: service.instanceId) else {
                throw CallsError(.unauthorized, "deviceId is registered to another user")
            }
            await session.authenticate(userId: verified.userId, expiresAt: verified.expiresAt)
            if let replaced = await service.hub.register(session) {
                await replaced.currentSocket?.close(CallsCloseCode.deviceReplaced.rawValue, reason: "DEVICE_REPLACED")
                await replaced.end()
            }
            // A fresh session starts outside every room; the old one's peers see it leave.
            await service.leaveAllRooms(deviceId: session.deviceId, userId: verified.userId, reason: "replaced")
            await service.publish(.replace(device: session.deviceId, session: session.id))
            userId = verified.userId
        }
        await session.send(
            type: "AUTH_OK", payload: JSONObject(["userId": verified.userId.uuidString.lowercased(), "deviceId": session.deviceId]))
        return .ok()
    }

    // MARK: Liveness

    /// Called every second: auth deadline, token expiry, server pings, idle close.
    func tick() async {
        guard !closed else { return }
        let now = ContinuousClock.now
        if !authenticated, now - openedAt > settings.authTimeout {
            return close(.authTimeout, "AUTH_TIMEOUT")
        }
        if let session, authenticated, await session.tokenExpiresAt < Int(Date().timeIntervalSince1970) {
            await session.send(type: "AUTH_FAIL", payload: JSONObject(["code": "UNAUTHENTICATED", "message": "the access token expired; send AUTH with a fresh one"]))
            return close(.tokenExpired, "TOKEN_EXPIRED")
        }
        let heartbeat = Duration.seconds(settings.heartbeatSeconds)
        if now - lastInbound > heartbeat * 2 {
            return close(.idle, "IDLE")
        }
        if let session, now - lastPing >= heartbeat {
            lastPing = now
            await session.send(type: "PING", payload: JSONObject([:]))
        }
    }

    func close(_ code: CallsCloseCode, _ reason: String) {
        guard !closed else { return }
        closed = true
        writer.close(code.rawValue, reason: reason)
    }

    /// After the socket is gone: keep an authenticated session for the resume grace.
    func finished() async {
        closed = true
        guard let session, await session.detach(writer) else { return }
        if authenticated, await service.hub.isCurrent(session) {
            service.expireAfterGrace(session)
        } else {
            await session.end()
        }
    }
}
