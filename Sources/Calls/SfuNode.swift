import Foundation
import Logging

/// One Janus node as this instance drives it: its API socket, the control session with the
/// VideoRoom admin handle (room create, destroy, ACL), keep-alives for every session this
/// instance owns on it, and the health probe (spec sfu-janus.md §3.1, §4.3).
actor SfuNode {
    let id: String
    let connection: JanusConnection
    let settings: SfuSettings
    let logger: Logger
    private var control: (session: Int64, handle: Int64)?
    /// Sessions kept alive (device sessions and the control session).
    private var sessions: Set<Int64> = []
    /// Failed probes in a row.
    private var failures = 0
    private var loops: Task<Void, Never>?

    init(id: String, url: String, settings: SfuSettings, instanceId: String, logger: Logger) {
        self.id = id
        self.settings = settings
        self.logger = logger
        self.connection = JanusConnection(url: url, apiSecret: settings.apiSecret, instanceId: instanceId, logger: logger)
    }

    /// Connects and keeps the node's sessions alive; `health` hears each probe's outcome,
    /// `unreachable` that the node is gone (its socket could not be opened again
    /// `reconnectsBeforeDown` times, or a claim found its sessions lost: it restarted).
    func start(health: @escaping @Sendable (SfuNode, Bool) async -> Void, unreachable: @escaping @Sendable (SfuNode) async -> Void) async {
        await connection.onConnectionChange { [weak self] up in
            guard let self, up else { return }
            if await !self.claimSessions() { await unreachable(self) }
        }
        await connection.onConnectFailure { [weak self] failures in
            guard let self, failures == Self.reconnectsBeforeDown else { return }
            await unreachable(self)
        }
        await connection.start(retry: .milliseconds(400))
        loops = Task { [weak self] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self?.probeLoop(health: health) }
                group.addTask { await self?.keepAliveLoop() }
            }
        }
    }

    func stop() async {
        loops?.cancel()
        await connection.close()
    }

    /// Failed reconnects (400 ms apart) after which a node whose socket closed counts as down:
    /// a killed Janus refuses at once, so its rooms move within about a second.
    static let reconnectsBeforeDown = 2

    /// After a reconnect: claims every session this instance owns on the node, so their
    /// events come to the new socket and Janus keeps them (`reclaim_session_timeout`), the
    /// control session first. False when the control session is gone (458): it never idles,
    /// so the node restarted and lost its rooms. A device session gone alone is dropped.
    private func claimSessions() async -> Bool {
        let ordered = (control.map { [$0.session] } ?? []) + sessions.filter { $0 != control?.session }
        for session in ordered {
            do {
                _ = try await connection.call(JSONObject(["janus": "claim", "session_id": session]), timeout: .seconds(2))
            } catch let error as JanusError where error.code == 458 {
                sessions.remove(session)
                if session == control?.session {
                    control = nil
                    return false
                }
                logger.warning("sfu: a device session was gone when claimed", metadata: ["node": "\(id)", "session": "\(session)"])
            } catch {
                logger.warning("sfu: claiming a session failed", metadata: ["node": "\(id)", "error": "\(error)"])
            }
        }
        return true
    }

    private func probeLoop(health: @escaping @Sendable (SfuNode, Bool) async -> Void) async {
        while !Task.isCancelled {
            let ok: Bool
            do {
                _ = try await connection.call(JSONObject(["janus": "info"]), timeout: .seconds(1))
                ok = true
            } catch {
                ok = false
            }
            failures = ok ? 0 : failures + 1
            await health(self, ok)
            try? await Task.sleep(for: settings.probeInterval)
        }
    }

    /// Failed probes in a row (three mark the node down).
    var consecutiveFailures: Int { failures }

    private func keepAliveLoop() async {
        while !Task.isCancelled {
            // Janus ends a session idle for `session_timeout` (60 s; 15 s in the suite).
            try? await Task.sleep(for: .seconds(10))
            for session in sessions {
                _ = try? await connection.request(JSONObject(["janus": "keepalive", "session_id": session]), reply: .ack, timeout: .seconds(2))
            }
        }
    }

    // MARK: Sessions and handles

    /// A new Janus session (kept alive until `destroySession`).
    func createSession() async throws -> Int64 {
        let reply = try await connection.call(JSONObject(["janus": "create"]))
        guard let session = reply.dataId else { throw JanusUnavailable(reason: "create answered without an id") }
        sessions.insert(session)
        return session
    }

    /// A VideoRoom handle on `session`.
    func attach(session: Int64) async throws -> Int64 {
        let reply = try await connection.call(JSONObject(["janus": "attach", "session_id": session, "plugin": "janus.plugin.videoroom"]))
        guard let handle = reply.dataId else { throw JanusUnavailable(reason: "attach answered without an id") }
        return handle
    }

    /// Detaches a handle (its PeerConnection, if any, closes with it).
    func detach(session: Int64, handle: Int64) async {
        _ = try? await connection.request(JSONObject(["janus": "detach", "session_id": session, "handle_id": handle]), reply: .direct, timeout: .seconds(2))
    }

    /// Takes over a device session another instance made (§3.4 "Resume elsewhere"): its
    /// events come to this instance's socket from now on, and it is kept alive from here.
    /// Throws Janus's 458 when the session is gone.
    func claim(_ session: Int64) async throws {
        _ = try await connection.call(JSONObject(["janus": "claim", "session_id": session]), timeout: .seconds(2))
        sessions.insert(session)
    }

    /// Stops keeping a session alive (its node lost it, or another instance took it over).
    func forget(_ session: Int64) { sessions.remove(session) }

    func destroySession(_ session: Int64) async {
        sessions.remove(session)
        await connection.stopEvents(of: session)
        _ = try? await connection.request(JSONObject(["janus": "destroy", "session_id": session]), reply: .direct, timeout: .seconds(2))
    }

    /// A synchronous VideoRoom request on a handle: the plugin's answer, or its error thrown.
    func pluginCall(session: Int64, handle: Int64, _ body: JSONObject) async throws -> JSONObject {
        let reply = try await connection.call(JSONObject(["janus": "message", "session_id": session, "handle_id": handle, "body": body.value]))
        if let error = reply.error { throw error }
        return JSONObject(reply.plugin)
    }

    /// An asynchronous VideoRoom request (join, publish, configure, start, update, leave…):
    /// the event answering it, or its error thrown.
    func pluginRequest(session: Int64, handle: Int64, _ body: JSONObject, jsep: JSONObject? = nil) async throws -> JanusMessage {
        var message: [String: Any] = ["janus": "message", "session_id": session, "handle_id": handle, "body": body.value]
        if let jsep { message["jsep"] = jsep.value }
        let reply = try await connection.request(JSONObject(message), reply: .event)
        if let error = reply.error { throw error }
        return reply
    }

    /// Closes the handle's PeerConnection (and whatever offer Janus holds), keeping the handle.
    func hangup(session: Int64, handle: Int64) async {
        _ = try? await connection.request(JSONObject(["janus": "hangup", "session_id": session, "handle_id": handle]), reply: .direct, timeout: .seconds(2))
    }

    func trickle(session: Int64, handle: Int64, candidate: JSONObject) async throws {
        let reply = try await connection.request(
            JSONObject(["janus": "trickle", "session_id": session, "handle_id": handle, "candidate": candidate.value]), reply: .ack)
        if let error = reply.error { throw error }
    }

    // MARK: Admin requests (control session)

    private func controlHandle() async throws -> (session: Int64, handle: Int64) {
        if let control { return control }
        let session = try await createSession()
        let handle = try await attach(session: session)
        control = (session, handle)
        return (session, handle)
    }

    /// An admin request on the control handle; a lost control session is made again once.
    @discardableResult
    func admin(_ request: JSONObject) async throws -> JSONObject {
        var fields = request.value
        fields["admin_key"] = settings.adminKey
        let body = JSONObject(fields)
        let handle = try await controlHandle()
        do {
            return try await pluginCall(session: handle.session, handle: handle.handle, body)
        } catch let error as JanusError where error.core && (error.code == 458 || error.code == 459) {
            sessions.remove(handle.session)
            control = nil
            let fresh = try await controlHandle()
            return try await pluginCall(session: fresh.session, handle: fresh.handle, body)
        }
    }
}
