import Logging
import NIOCore

/// Up to `poolSize` connections, opened lazily and leased one request at a time. Requests that
/// find none free wait in FIFO order until their deadline. After a failed connect, new
/// connections are not attempted until a backoff (100 ms doubling to 5 s, with jitter) has passed:
/// a request that needs one waits for that attempt when it comes before the request's deadline
/// (so a server back after a short outage serves it) and fails fast otherwise.
actor RedisConnectionPool {
    private enum Grant {
        case connection(RedisConnection)
        /// A slot was freed: the waiter opens a connection itself.
        case create
    }

    private struct Waiter {
        let id: Int
        let continuation: CheckedContinuation<Grant, any Error>
        let timer: Task<Void, Never>
    }

    private let factory: RedisConnectionFactory
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let poolSize: Int
    private let target: String

    private var idle: [RedisConnection] = []
    /// Connections open or being opened, leased or idle.
    private var openCount = 0
    private var waiters = CircularBuffer<Waiter>()
    private var nextWaiterID = 0
    private var isClosed = false
    private var consecutiveFailures = 0
    private var retryAfter: ContinuousClock.Instant?
    private var lastFailure = ""

    init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.factory = RedisConnectionFactory(configuration: configuration)
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.poolSize = max(1, configuration.poolSize)
        self.target = configuration.target
    }

    /// A connection for one request, waiting (FIFO) until `deadline` if all are busy.
    func lease(deadline: ContinuousClock.Instant) async throws -> RedisConnection {
        guard !self.isClosed else { throw RedisError.connectionClosed("the client for \(self.target) is closed") }
        while let connection = self.idle.popLast() {
            if connection.isUsable { return connection }
            self.openCount -= 1
            connection.close()
        }
        let grant: Grant
        if self.openCount < self.poolSize {
            self.openCount += 1
            grant = .create
        } else {
            grant = try await self.wait(until: deadline)
        }
        switch grant {
        case .connection(let connection):
            return connection
        case .create:
            do {
                return try await self.open(deadline: deadline)
            } catch {
                self.openCount -= 1
                self.grantFreeSlots()
                throw error
            }
        }
    }

    /// Returns a leased connection: to the first waiter, to the idle list, or closed if broken.
    func release(_ connection: RedisConnection) {
        guard connection.isUsable, !self.isClosed else {
            self.openCount -= 1
            connection.close()
            self.grantFreeSlots()
            return
        }
        if let waiter = self.waiters.popFirst() {
            waiter.timer.cancel()
            waiter.continuation.resume(returning: .connection(connection))
        } else {
            self.idle.append(connection)
        }
    }

    /// Closes idle connections and fails waiters; leased connections close on release.
    func close() {
        guard !self.isClosed else { return }
        self.isClosed = true
        for connection in self.idle {
            connection.close()
        }
        self.openCount -= self.idle.count
        self.idle.removeAll()
        while let waiter = self.waiters.popFirst() {
            waiter.timer.cancel()
            waiter.continuation.resume(throwing: RedisError.connectionClosed("the client for \(self.target) is closed"))
        }
    }

    private func open(deadline: ContinuousClock.Instant) async throws -> RedisConnection {
        let now = ContinuousClock.now
        if let retryAfter = self.retryAfter, now < retryAfter {
            guard retryAfter < deadline else {
                throw RedisError.connectionClosed(
                    "cannot connect to \(self.target) (\(self.lastFailure)); next attempt in \(Self.milliseconds(retryAfter - now)) ms")
            }
            try await Task.sleep(until: retryAfter, clock: .continuous)
        }
        do {
            let connection = try await self.factory.connect(on: self.eventLoopGroup.next(), logger: self.logger)
            if self.consecutiveFailures > 0 {
                self.logger.info("Redis reachable again", metadata: ["redis.target": "\(self.target)"])
            }
            self.consecutiveFailures = 0
            self.retryAfter = nil
            if self.isClosed {
                connection.close()
                throw RedisError.connectionClosed("the client for \(self.target) is closed")
            }
            return connection
        } catch let error as RedisError {
            self.consecutiveFailures += 1
            let delay = Backoff.delay(attempt: self.consecutiveFailures - 1)
            self.retryAfter = ContinuousClock.now + delay
            self.lastFailure = error.message
            self.logger.warning(
                "Redis connect failed",
                metadata: [
                    "redis.target": "\(self.target)", "error": "\(error)",
                    "redis.retry_in_ms": "\(Self.milliseconds(delay))",
                ])
            throw error
        }
    }

    private func wait(until deadline: ContinuousClock.Instant) async throws -> Grant {
        let id = self.nextWaiterID
        self.nextWaiterID += 1
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Grant, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                let timer = Task {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    if !Task.isCancelled {
                        self.expire(id)
                    }
                }
                self.waiters.append(Waiter(id: id, continuation: continuation, timer: timer))
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func expire(_ id: Int) {
        guard let index = self.waiters.firstIndex(where: { $0.id == id }) else { return }
        let waiter = self.waiters.remove(at: index)
        waiter.continuation.resume(
            throwing: RedisError.timeout("no free connection to \(self.target) within the command timeout (pool size \(self.poolSize))"))
    }

    private func cancelWaiter(_ id: Int) {
        guard let index = self.waiters.firstIndex(where: { $0.id == id }) else { return }
        let waiter = self.waiters.remove(at: index)
        waiter.timer.cancel()
        waiter.continuation.resume(throwing: CancellationError())
    }

    /// Lets waiters open connections in the slots freed by dropped connections.
    private func grantFreeSlots() {
        while self.openCount < self.poolSize, let waiter = self.waiters.popFirst() {
            self.openCount += 1
            waiter.timer.cancel()
            waiter.continuation.resume(returning: .create)
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// Exponential backoff with jitter: 100 ms doubling to at most 5 s, each delay drawn between half and all of it.
enum Backoff {
    static let initialMilliseconds = 100
    static let maximumMilliseconds = 5000

    /// The delay before retry number `attempt` (0 for the first retry).
    static func delay(attempt: Int) -> Duration {
        let exponent = min(max(attempt, 0), 16)
        let capped = min(Self.initialMilliseconds << exponent, Self.maximumMilliseconds)
        return .milliseconds(Int.random(in: (capped / 2)...capped))
    }
}
