import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging

/// A Janus reply or event as JSON: the fields calls-ws reads, typed, without trapping.
struct JanusMessage: @unchecked Sendable {
    let object: [String: Any]

    init(_ object: [String: Any]) { self.object = object }

    init?(text: String) {
        guard let data = text.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        self.object = object
    }

    var kind: String { object["janus"] as? String ?? "" }
    var transaction: String? { object["transaction"] as? String }
    var sessionId: Int64? { Self.id(object["session_id"]) }
    /// The handle an event came from.
    var sender: Int64? { Self.id(object["sender"]) }
    /// `data.id` of a `create`/`attach` success.
    var dataId: Int64? { Self.id((object["data"] as? [String: Any])?["id"]) }
    /// The plugin's answer (`plugindata.data`).
    var plugin: [String: Any] { ((object["plugindata"] as? [String: Any])?["data"] as? [String: Any]) ?? [:] }
    var jsep: [String: Any]? { object["jsep"] as? [String: Any] }
    var jsepSDP: String? { jsep?["sdp"] as? String }

    /// The error of a core `error` reply or of the plugin, if this is one.
    var error: JanusError? {
        if kind == "error", let error = object["error"] as? [String: Any] {
            return JanusError(code: Self.int(error["code"]) ?? 0, reason: error["reason"] as? String ?? "", core: true)
        }
        if let code = Self.int(plugin["error_code"]) {
            return JanusError(code: code, reason: plugin["error"] as? String ?? "", core: false)
        }
        return nil
    }

    /// A Janus id (a 53-bit integer) from JSON, or nil.
    static func id(_ value: Any?) -> Int64? {
        guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else { return nil }
        let double = number.doubleValue
        guard double.isFinite, double >= 0, double < 9_007_199_254_740_992, double == double.rounded() else { return nil }
        return number.int64Value
    }

    static func int(_ value: Any?) -> Int? {
        guard let id = id(value), id <= Int64(Int32.max) else { return nil }
        return Int(id)
    }
}

/// An error Janus answered: core (`janus:"error"`) or the plugin's (`error_code`).
struct JanusError: Error, Sendable {
    let code: Int
    let reason: String
    let core: Bool
}

/// The node could not be reached or did not answer in time.
struct JanusUnavailable: Error, Sendable {
    let reason: String
}

/// One WebSocket to a Janus node's API (subprotocol `janus-protocol`), reconnected when it
/// drops. Requests carry the node's `apisecret` and a transaction unique on the socket;
/// replies find their request by transaction, and events without one go to the handler
/// registered for their handle (or session).
actor JanusConnection {
    enum Reply {
        /// Resolved by the first answer that is not an `ack` (`success`, `error`, `server_info`).
        case direct
        /// Resolved by the `ack` itself (`keepalive`, `trickle`).
        case ack
        /// A plugin's asynchronous request: the `ack` is skipped, the `event` resolves it.
        case event
    }

    private struct Pending {
        let reply: Reply
        let continuation: CheckedContinuation<JanusMessage, any Error>
    }

    let url: String
    let apiSecret: String
    let instanceId: String
    let logger: Logger
    private var outbound: WebSocketOutboundWriter?
    private var counter = 0
    private var pending: [String: Pending] = [:]
    /// Notifications by handle (or session) id, each consumed in order by its own task.
    private var listeners: [Int64: AsyncStream<JanusMessage>.Continuation] = [:]
    /// Wakes `request` callers waiting for the socket.
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var connectedHandlers: [@Sendable (Bool) async -> Void] = []
    private var failureHandlers: [@Sendable (Int) async -> Void] = []
    private(set) var isConnected = false
    /// Connection attempts in a row that failed (0 while connected).
    private(set) var failedConnects = 0
    private var runner: Task<Void, Never>?

    init(url: String, apiSecret: String, instanceId: String, logger: Logger) {
        self.url = url
        self.apiSecret = apiSecret
        self.instanceId = instanceId
        self.logger = logger
    }

    /// Starts the connection loop (reconnects every `retry` after a drop) until `close()`.
    func start(retry: Duration = .milliseconds(500)) {
        guard runner == nil else { return }
        runner = Task { [weak self] in
            while !Task.isCancelled {
                await self?.runOnce()
                try? await Task.sleep(for: retry)
            }
        }
    }

    func close() {
        runner?.cancel()
        runner = nil
        failAll(JanusUnavailable(reason: "closed"))
    }

    /// Called with `true` after each (re)connect and `false` after each drop.
    func onConnectionChange(_ handler: @escaping @Sendable (Bool) async -> Void) {
        connectedHandlers.append(handler)
    }

    /// Called after each failed connection attempt with the count of failures in a row.
    func onConnectFailure(_ handler: @escaping @Sendable (Int) async -> Void) {
        failureHandlers.append(handler)
    }

    /// The notifications of one handle (or session): a stream its owner reads in order, on
    /// its own task (a reader may make requests on this connection while reading).
    func events(of id: Int64) -> AsyncStream<JanusMessage> {
        let (stream, continuation) = AsyncStream.makeStream(of: JanusMessage.self)
        listeners[id]?.finish()
        listeners[id] = continuation
        return stream
    }

    func stopEvents(of id: Int64) { listeners.removeValue(forKey: id)?.finish() }

    /// Sends one request and waits (at most `timeout`) for its answer. A Janus error becomes
    /// `JanusError`; no socket or no answer in time, `JanusUnavailable`.
    func request(_ body: JSONObject, reply: Reply, timeout: Duration = .seconds(5)) async throws -> JanusMessage {
        if outbound == nil {
            guard try await waitForSocket(timeout) else { throw JanusUnavailable(reason: "no connection to \(url)") }
        }
        guard let outbound else { throw JanusUnavailable(reason: "no connection to \(url)") }
        counter += 1
        let transaction = "\(instanceId)-\(counter)"
        var message = body.value
        message["transaction"] = transaction
        message["apisecret"] = apiSecret
        guard let data = try? JSONSerialization.data(withJSONObject: message), let text = String(data: data, encoding: .utf8) else {
            throw JanusUnavailable(reason: "request not encodable")
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            await self?.fail(transaction, JanusUnavailable(reason: "no answer within \(timeout)"))
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            pending[transaction] = Pending(reply: reply, continuation: continuation)
            Task {
                do { try await outbound.write(.text(text)) } catch { self.fail(transaction, JanusUnavailable(reason: "write failed: \(error)")) }
            }
        }
    }

    /// A core request answered with `success` (or `error`): the reply, or the error thrown.
    func call(_ body: JSONObject, reply: Reply = .direct, timeout: Duration = .seconds(5)) async throws -> JanusMessage {
        let message = try await request(body, reply: reply, timeout: timeout)
        if let error = message.error { throw error }
        return message
    }

    // MARK: Socket

    private func waitForSocket(_ timeout: Duration) async throws -> Bool {
        let wake = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.wakeWaiters()
        }
        defer { wake.cancel() }
        await withCheckedContinuation { waiters.append($0) }
        return outbound != nil
    }

    private func wakeWaiters() {
        let all = waiters
        waiters = []
        for waiter in all { waiter.resume() }
    }

    private func runOnce() async {
        var headers = HTTPFields()
        headers[.secWebSocketProtocol] = "janus-protocol"
        let configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 20, additionalHeaders: headers)
        do {
            try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) { inbound, outbound, _ in
                await self.connected(outbound)
                for try await message in inbound.messages(maxSize: 1 << 22) {
                    guard case .text(let text) = message, let parsed = JanusMessage(text: text) else { continue }
                    await self.receive(parsed)
                }
            }
        } catch {
            logger.debug("janus socket failed", metadata: ["url": "\(url)", "error": "\(error)"])
        }
        await disconnected()
    }

    private func connected(_ writer: WebSocketOutboundWriter) async {
        outbound = writer
        isConnected = true
        failedConnects = 0
        wakeWaiters()
        let handlers = connectedHandlers
        Task { for handler in handlers { await handler(true) } }
    }

    private func disconnected() async {
        let was = isConnected
        outbound = nil
        isConnected = false
        if !was {
            failedConnects += 1
            let count = failedConnects
            let handlers = failureHandlers
            Task { for handler in handlers { await handler(count) } }
        }
        failAll(JanusUnavailable(reason: "connection to \(url) lost"))
        let handlers = connectedHandlers
        if was { Task { for handler in handlers { await handler(false) } } }
    }

    private func failAll(_ error: any Error) {
        let all = pending
        pending = [:]
        for (_, entry) in all { entry.continuation.resume(throwing: error) }
        wakeWaiters()
    }

    private func fail(_ transaction: String, _ error: any Error) {
        pending.removeValue(forKey: transaction)?.continuation.resume(throwing: error)
    }

    private func receive(_ message: JanusMessage) {
        if let transaction = message.transaction, let entry = pending[transaction] {
            let resolves: Bool
            switch entry.reply {
            case .ack: resolves = true
            case .direct: resolves = message.kind != "ack"
            case .event: resolves = message.kind == "event" || message.kind == "error"
            }
            if resolves {
                pending[transaction] = nil
                entry.continuation.resume(returning: message)
                return
            }
            if message.kind == "ack" { return }
        }
        // A notification: to its handle's handler, else its session's.
        if let sender = message.sender, let listener = listeners[sender] {
            listener.yield(message)
        } else if let session = message.sessionId, let listener = listeners[session] {
            listener.yield(message)
        }
    }
}
