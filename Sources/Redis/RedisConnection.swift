import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// What the command handler writes: the bytes of one or more commands and how many replies
/// complete the promise (nil promise: replies are not awaited, as for `SUBSCRIBE`).
struct RedisRequest: Sendable {
    let bytes: ByteBuffer
    let replyCount: Int
    let promise: EventLoopPromise<[RESPValue]>?
}

/// A request that failed to be written: the server never received it whole, so it was not run.
struct RedisRequestNotSent: Error {}

/// Matches replies to requests in order (RESP is strictly ordered per connection, so several
/// requests may be in flight), and hands push messages to `pushHandler`.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        let promise: EventLoopPromise<[RESPValue]>
        var remaining: Int
        var replies: [RESPValue]
    }

    private static let pubSubKinds: Set<String> = [
        "message", "pmessage", "smessage", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe",
    ]

    private var pending = CircularBuffer<Pending>()
    private var closed = false
    private let target: String
    /// Set on a subscriber connection: receives RESP3 pushes and RESP2 pub/sub arrays.
    private let pushHandler: (@Sendable (RESPValue) -> Void)?

    init(target: String, pushHandler: (@Sendable (RESPValue) -> Void)?) {
        self.target = target
        self.pushHandler = pushHandler
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = Self.unwrapOutboundIn(data)
        guard !self.closed else {
            request.promise?.fail(RedisRequestNotSent())
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        if let replyPromise = request.promise, request.replyCount > 0 {
            var replies: [RESPValue] = []
            replies.reserveCapacity(min(request.replyCount, 1024))
            self.pending.append(Pending(promise: replyPromise, remaining: request.replyCount, replies: replies))
        }
        context.write(Self.wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = Self.unwrapInboundIn(data)
        if self.isPush(value) {
            self.pushHandler?(value)
            return
        }
        guard !self.pending.isEmpty else {
            self.failAll(RedisError.protocolViolation("\(self.target) sent a reply while no command was waiting"))
            context.close(promise: nil)
            return
        }
        let index = self.pending.startIndex
        self.pending[index].replies.append(value)
        self.pending[index].remaining -= 1
        if self.pending[index].remaining == 0 {
            let done = self.pending.removeFirst()
            done.promise.succeed(done.replies)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let decodingError = error as? RESPDecodingError {
            self.failAll(RedisError.protocolViolation("\(decodingError) (from \(self.target))"))
        } else {
            self.failAll(RedisError.connectionClosed("connection to \(self.target) failed: \(error)"))
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(RedisError.connectionClosed("connection to \(self.target) closed"))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.failAll(RedisError.connectionClosed("connection to \(self.target) closed"))
    }

    private func failAll(_ error: RedisError) {
        self.closed = true
        while let entry = self.pending.popFirst() {
            entry.promise.fail(error)
        }
    }

    private func isPush(_ value: RESPValue) -> Bool {
        switch value {
        case .push:
            return true
        case .array(let items) where self.pushHandler != nil:
            // RESP2 pub/sub: messages and (un)subscribe confirmations are plain arrays.
            guard let kind = items.first?.string?.lowercased() else { return false }
            return Self.pubSubKinds.contains(kind)
        default:
            return false
        }
    }
}

/// One connection to Redis, after its handshake.
final class RedisConnection: Sendable {
    let channel: any Channel
    let target: String
    /// Set once the connection must not be reused (timeout, cancellation, close).
    private let broken = Atomic<Bool>(false)

    init(channel: any Channel, target: String) {
        self.channel = channel
        self.target = target
    }

    /// Whether the connection can take another command.
    var isUsable: Bool {
        !self.broken.load(ordering: .relaxed) && self.channel.isActive
    }

    /// Closes the connection; commands in flight fail with `.connectionClosed`.
    func close() {
        self.broken.store(true, ordering: .relaxed)
        self.channel.close(mode: .all, promise: nil)
    }

    /// Writes `bytes` in one flush and completes with `replyCount` replies. After `timeout` the
    /// future fails with `.timeout` and the connection is closed, since later replies would be misaligned.
    func sendFuture(_ bytes: ByteBuffer, replyCount: Int, timeout: Duration) -> EventLoopFuture<[RESPValue]> {
        let eventLoop = self.channel.eventLoop
        let promise = eventLoop.makePromise(of: [RESPValue].self)
        let target = self.target
        let timeoutTask = eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            self.broken.store(true, ordering: .relaxed)
            promise.fail(RedisError.timeout("no reply from \(target) within \(timeout)"))
            self.channel.close(mode: .all, promise: nil)
        }
        promise.futureResult.whenComplete { _ in timeoutTask.cancel() }
        let writePromise = eventLoop.makePromise(of: Void.self)
        writePromise.futureResult.whenFailure { _ in
            // A failed write never reached the server whole, so it did not run.
            promise.fail(RedisRequestNotSent())
        }
        self.channel.writeAndFlush(RedisRequest(bytes: bytes, replyCount: replyCount, promise: promise), promise: writePromise)
        return promise.futureResult
    }

    /// Writes `bytes` without awaiting replies (for `SUBSCRIBE`, whose confirmations are pushes).
    func write(_ bytes: ByteBuffer) {
        self.channel.writeAndFlush(RedisRequest(bytes: bytes, replyCount: 0, promise: nil), promise: nil)
    }

    /// Sends and awaits `replyCount` replies; error replies are returned, not thrown. Task
    /// cancellation closes the connection and throws `CancellationError`.
    func send(_ bytes: ByteBuffer, replyCount: Int, timeout: Duration) async throws -> [RESPValue] {
        let future = self.sendFuture(bytes, replyCount: replyCount, timeout: timeout)
        do {
            return try await withTaskCancellationHandler {
                try await future.get()
            } onCancel: {
                self.close()
            }
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw error
        }
    }

    /// One command's reply; error replies are returned, not thrown.
    func command(_ arguments: [String], timeout: Duration) async throws -> RESPValue {
        let replies = try await self.send(RESPEncoder.command(arguments), replyCount: 1, timeout: timeout)
        guard let reply = replies.first else {
            throw RedisError.protocolViolation("no reply from \(self.target)")
        }
        return reply
    }
}

/// Opens connections: TCP (and TLS), then `HELLO 3` with `AUTH`/`SETNAME`, falling back to RESP2
/// and `AUTH`, then `SELECT`.
struct RedisConnectionFactory: Sendable {
    let configuration: RedisConfiguration
    private let tlsContext: Result<NIOSSLContext, RedisError>?

    init(configuration: RedisConfiguration) {
        self.configuration = configuration
        guard configuration.tls else {
            self.tlsContext = nil
            return
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        switch configuration.tlsCertificateVerification {
        case .full: tls.certificateVerification = .fullVerification
        case .none: tls.certificateVerification = .none
        }
        if let caFile = configuration.tlsCAFile {
            tls.trustRoots = .file(caFile)
        }
        do {
            self.tlsContext = .success(try NIOSSLContext(configuration: tls))
        } catch {
            self.tlsContext = .failure(RedisError.connectionClosed("cannot set up TLS for \(configuration.target): \(error)"))
        }
    }

    /// A connection ready for commands, or a `RedisError` (`.connectionClosed`, `.timeout`,
    /// `.authenticationFailed`, `.server`).
    func connect(
        on eventLoop: any EventLoop,
        logger: Logger,
        pushHandler: (@Sendable (RESPValue) -> Void)? = nil
    ) async throws -> RedisConnection {
        let configuration = self.configuration
        let target = configuration.target
        var sslContext: NIOSSLContext?
        switch self.tlsContext {
        case .success(let context): sslContext = context
        case .failure(let error): throw error
        case nil: break
        }
        let serverHostname = Self.isIPAddress(configuration.host) ? nil : configuration.host
        let limits = configuration.decodingLimits
        let tlsContext = sslContext
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        let tlsHandler = try NIOSSLClientHandler(context: tlsContext, serverHostname: serverHostname)
                        try channel.pipeline.syncOperations.addHandler(tlsHandler)
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPStreamDecoder(limits: limits)))
                    try channel.pipeline.syncOperations.addHandler(RedisCommandHandler(target: target, pushHandler: pushHandler))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw RedisError.connectionClosed("cannot connect to \(target): \(error)")
        }
        let connection = RedisConnection(channel: channel, target: target)
        do {
            try await self.handshake(connection, logger: logger)
        } catch {
            connection.close()
            if let redisError = error as? RedisError {
                if redisError.kind == .connectionClosed {
                    throw RedisError.connectionClosed("cannot connect to \(target): \(redisError.message)")
                }
                throw redisError
            }
            if error is RedisRequestNotSent {
                throw RedisError.connectionClosed("cannot connect to \(target): the connection closed during the handshake")
            }
            throw error
        }
        return connection
    }

    private func handshake(_ connection: RedisConnection, logger: Logger) async throws {
        let configuration = self.configuration
        let timeout = configuration.connectTimeout
        var hello = ["HELLO", "3"]
        if let password = configuration.password {
            hello += ["AUTH", configuration.username ?? "default", password]
        }
        if let name = configuration.clientName {
            hello += ["SETNAME", name]
        }
        let reply = try await connection.command(hello, timeout: timeout)
        if case .error(let message) = reply {
            if message.hasPrefix("NOPROTO") || message.lowercased().contains("unknown command") {
                logger.debug("Redis refused HELLO 3, using RESP2", metadata: ["redis.target": "\(configuration.target)"])
                try await self.legacyHandshake(connection)
            } else {
                throw self.handshakeError(message)
            }
        }
        if configuration.database != 0 {
            let reply = try await connection.command(["SELECT", String(configuration.database)], timeout: timeout)
            if case .error(let message) = reply {
                throw RedisError.server("SELECT \(configuration.database) on \(configuration.target) failed: \(message)")
            }
        }
    }

    /// RESP2: `AUTH [user] password`, then `CLIENT SETNAME` (its failure is ignored).
    private func legacyHandshake(_ connection: RedisConnection) async throws {
        let configuration = self.configuration
        if let password = configuration.password {
            let auth = configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            let reply = try await connection.command(auth, timeout: configuration.connectTimeout)
            if case .error(let message) = reply {
                throw self.handshakeError(message)
            }
        }
        if let name = configuration.clientName {
            _ = try await connection.command(["CLIENT", "SETNAME", name], timeout: configuration.connectTimeout)
        }
    }

    /// An error for a refused handshake, never containing the password.
    private func handshakeError(_ message: String) -> RedisError {
        let configuration = self.configuration
        var safe = message
        if let password = configuration.password, !password.isEmpty {
            safe = safe.replacingOccurrences(of: password, with: "***")
        }
        let code = safe.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
        let user = configuration.username ?? "default"
        switch code {
        case "WRONGPASS":
            return RedisError(kind: .authenticationFailed, message: "authentication failed for user '\(user)' at \(configuration.target): \(safe)")
        case "ERR" where safe.lowercased().contains("invalid password"):
            return RedisError(kind: .authenticationFailed, message: "authentication failed for user '\(user)' at \(configuration.target): \(safe)")
        case "NOAUTH":
            if configuration.password == nil {
                return RedisError(
                    kind: .authenticationFailed,
                    message: "\(configuration.target) requires authentication but REDIS_URL has no password: \(safe)")
            }
            return RedisError(kind: .authenticationFailed, message: "authentication failed for user '\(user)' at \(configuration.target): \(safe)")
        default:
            return RedisError.server("handshake with \(configuration.target) failed: \(safe)")
        }
    }

    private static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || host.allSatisfy { $0 == "." || ($0.isASCII && $0.isNumber) }
    }
}

extension String {
    /// `replacing(_:with:)` without Foundation.
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        return self.replacing(target, with: replacement)
    }
}
