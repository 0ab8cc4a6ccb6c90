import Logging
import NIOCore
import NIOPosix

/// A Redis client over a pool of RESP3 connections (see `RedisConfiguration` for the pool size and timeouts).
public final class RedisClient: Sendable {
    /// Where the client connects.
    public let configuration: RedisConfiguration
    private let pool: RedisConnectionPool
    private let logger: Logger

    /// A client; connections open on first use.
    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "redis.target"] = "\(configuration.target)"
        self.logger = logger
        self.pool = RedisConnectionPool(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
    }

    deinit {
        let pool = self.pool
        Task { await pool.close() }
    }

    /// Runs one command of text arguments. Throws `RedisError` (`.server` for an error reply).
    public func send(_ arguments: [String]) async throws -> RESPValue {
        var buffer = ByteBuffer()
        RESPEncoder.writeCommand(arguments, into: &buffer)
        return try await self.sendOne(buffer, name: arguments.first)
    }

    /// Runs one command of binary-safe arguments. Throws `RedisError` (`.server` for an error reply).
    public func send(_ arguments: [ByteBuffer]) async throws -> RESPValue {
        var buffer = ByteBuffer()
        RESPEncoder.writeCommand(arguments, into: &buffer)
        return try await self.sendOne(buffer, name: arguments.first.map { String(buffer: $0) })
    }

    /// Runs commands in one write on one connection and returns their replies in order. An error
    /// reply to one command is returned as `.error`, not thrown; connection failures and timeouts throw.
    public func pipeline(_ commands: [[String]]) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        var buffer = ByteBuffer()
        for command in commands {
            RESPEncoder.writeCommand(command, into: &buffer)
        }
        let bytes = buffer
        return try await self.withConnection(retryUnsent: false) { connection, timeout in
            try await connection.send(bytes, replyCount: commands.count, timeout: timeout)
        }
    }

    /// Runs a Lua script with `EVALSHA`; if the server does not know it (`NOSCRIPT`), loads it with
    /// `SCRIPT LOAD` and retries once. Throws `RedisError.server` for an error reply.
    public func evaluate(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RESPValue {
        let tail = [String(keys.count)] + keys + arguments
        do {
            return try await self.send(["EVALSHA", script.sha1] + tail)
        } catch let error as RedisError where error.code == "NOSCRIPT" {
            let loaded = try await self.send(["SCRIPT", "LOAD", script.source])
            let sha1 = loaded.string ?? script.sha1
            if sha1 != script.sha1 {
                self.logger.warning("Redis script SHA-1 differs from the local one", metadata: ["redis.sha1": "\(sha1)"])
            }
            return try await self.send(["EVALSHA", sha1] + tail)
        }
    }

    /// Publishes `message` on `channel`; returns how many subscribers (on this server) received it.
    @discardableResult
    public func publish(channel: String, message: ByteBuffer) async throws -> Int64 {
        let reply = try await self.send([ByteBuffer(string: "PUBLISH"), ByteBuffer(string: channel), message])
        guard case .integer(let receivers) = reply else {
            throw RedisError.protocolViolation("PUBLISH to \(self.configuration.target) returned \(reply), not an integer")
        }
        return receivers
    }

    /// Closes all connections; later commands fail with `.connectionClosed`.
    public func close() async {
        await self.pool.close()
    }

    private func sendOne(_ bytes: ByteBuffer, name: String?) async throws -> RESPValue {
        let replies = try await self.withConnection(retryUnsent: true) { connection, timeout in
            try await connection.send(bytes, replyCount: 1, timeout: timeout)
        }
        guard let reply = replies.first else {
            throw RedisError.protocolViolation("no reply from \(self.configuration.target)")
        }
        if case .error(let message) = reply {
            throw RedisError.server(message)
        }
        return reply
    }

    /// Leases a connection for `body` with the time left of the command timeout. A request that
    /// could not be written (the connection had died while idle) is retried once on another connection.
    private func withConnection(
        retryUnsent: Bool,
        _ body: @Sendable (RedisConnection, Duration) async throws -> [RESPValue]
    ) async throws -> [RESPValue] {
        let timeout = self.configuration.commandTimeout
        let deadline = ContinuousClock.now + timeout
        var attempts = 0
        while true {
            attempts += 1
            let connection = try await self.pool.lease(deadline: deadline)
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else {
                await self.pool.release(connection)
                throw RedisError.timeout("no reply from \(self.configuration.target) within \(timeout)")
            }
            do {
                let result = try await body(connection, remaining)
                await self.pool.release(connection)
                return result
            } catch is RedisRequestNotSent {
                connection.close()
                await self.pool.release(connection)
                if retryUnsent && attempts < 2 { continue }
                throw RedisError.connectionClosed("connection to \(self.configuration.target) closed before the command was sent")
            } catch {
                await self.pool.release(connection)
                throw error
            }
        }
    }
}
