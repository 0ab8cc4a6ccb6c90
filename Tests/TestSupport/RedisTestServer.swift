import Foundation
import Logging
import NIOCore
import NIOPosix
import Redis

/// A private `redis-server` for one test: its own port, directory and log, killed at the end.
public final class RedisTestServer: @unchecked Sendable {
    public struct Options: Sendable {
        /// Extra command-line options, e.g. `["--requirepass", "s3cret"]`.
        public var arguments: [String] = []
        /// Lines of a config file given before the options (for `rename-command`, which has no command-line form here).
        public var configLines: [String] = []
        /// Serve TLS only (`--port 0 --tls-port N`) with a self-signed certificate for localhost.
        public var tls = false

        public init(arguments: [String] = [], configLines: [String] = [], tls: Bool = false) {
            self.arguments = arguments
            self.configLines = configLines
            self.tls = tls
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let port: Int
    public let options: Options
    public let directory: URL
    private let lock = NSLock()
    private var process: Process?

    public var certificatePath: String { self.directory.appendingPathComponent("cert.pem").path }
    public var url: String { "\(self.options.tls ? "rediss" : "redis")://127.0.0.1:\(self.port)" }

    private init(port: Int, options: Options, directory: URL) {
        self.port = port
        self.options = options
        self.directory = directory
    }

    /// Starts a server on a free port (retrying on a port taken meanwhile) and waits until it answers.
    public static func start(_ options: Options = Options()) async throws -> RedisTestServer {
        let executable = try Self.redisServerPath()
        var lastError: any Error = Failure(description: "redis-server did not start")
        for _ in 0..<5 {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-test-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let server = RedisTestServer(port: try await Self.freePort(), options: options, directory: directory)
            do {
                if options.tls { try await server.makeCertificate() }
                try await server.launch(executable: executable)
                return server
            } catch {
                server.shutdown()
                lastError = error
            }
        }
        throw lastError
    }

    /// Kills the server (SIGKILL, like a crash), keeping its directory for `restart()`.
    public func kill() {
        let process: Process? = self.lock.withLock {
            let process = self.process
            self.process = nil
            return process
        }
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        // Foundation reaps the child on a thread of its own. A killed child it has not reaped
        // is dead all the same (its port is free), so the wait is bounded: an unbounded one
        // once held a thread of the concurrency pool for good and hung the whole suite.
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning, Date() < deadline { usleep(1000) }
    }

    /// Starts the server again on the same port.
    public func restart() async throws {
        self.kill()
        var lastError: any Error = Failure(description: "redis-server did not restart")
        for _ in 0..<20 {
            do {
                try await self.launch(executable: try Self.redisServerPath())
                return
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw lastError
    }

    /// Kills the server and removes its directory.
    public func shutdown() {
        self.kill()
        try? FileManager.default.removeItem(at: self.directory)
    }

    private func launch(executable: String) async throws {
        let logPath = self.directory.appendingPathComponent("redis.log").path
        try? FileManager.default.removeItem(atPath: logPath)
        var arguments: [String] = []
        if !self.options.configLines.isEmpty {
            let configPath = self.directory.appendingPathComponent("redis.conf").path
            try (self.options.configLines.joined(separator: "\n") + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)
            arguments.append(configPath)
        }
        arguments += [
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--dir", self.directory.path, "--logfile", logPath, "--enable-debug-command", "yes",
        ]
        if self.options.tls {
            arguments += [
                "--port", "0", "--tls-port", String(self.port),
                "--tls-cert-file", self.certificatePath,
                "--tls-key-file", self.directory.appendingPathComponent("key.pem").path,
                "--tls-ca-cert-file", self.certificatePath,
                "--tls-auth-clients", "no",
            ]
        } else {
            arguments += ["--port", String(self.port)]
        }
        arguments += self.options.arguments
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.lock.withLock { self.process = process }

        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if log.contains("Ready to accept connections") {
                if self.options.tls { return }
                if (try? await self.ping()) == true { return }
            }
            if !process.isRunning {
                self.kill()
                throw Failure(description: "redis-server exited on port \(self.port): \(log.suffix(600))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        self.kill()
        throw Failure(description: "redis-server on port \(self.port) did not answer within 10 s")
    }

    /// `PING` over a plain TCP connection: any reply (PONG, or NOAUTH when a password is required) means it is up.
    private func ping() async throws -> Bool {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: self.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "PING\r\n"))
            for try await chunk in inbound {
                let text = String(buffer: chunk)
                return text.hasPrefix("+PONG") || text.hasPrefix("-NOAUTH")
            }
            return false
        }
    }

    private func makeCertificate() async throws {
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", self.directory.appendingPathComponent("key.pem").path, "-out", self.certificatePath,
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        while openssl.isRunning {
            try await Task.sleep(for: .milliseconds(10))
        }
        guard openssl.terminationStatus == 0 else {
            throw Failure(description: "openssl could not make a self-signed certificate (exit \(openssl.terminationStatus))")
        }
    }

    private static func redisServerPath() throws -> String {
        let candidates = [ProcessInfo.processInfo.environment["REDIS_SERVER"], "/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        for case let path? in candidates where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        throw Failure(description: "redis-server not found (looked at $REDIS_SERVER, /usr/bin, /usr/local/bin): install Debian's redis-server package")
    }

    /// A free port below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`). A port
    /// from a bind to port 0 comes from that range, and under the parallel suites an outgoing
    /// connection could take it between the check and redis-server's own bind (seen in CI:
    /// "Address already in use"); no outgoing connection takes a port below the range.
    private static func freePort() async throws -> Int {
        let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let ephemeralStart = range.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32768
        let ports = 10_000..<max(ephemeralStart, 12_000)
        for _ in 0..<50 {
            let port = Int.random(in: ports)
            // No SO_REUSEADDR: a port with connections still in TIME_WAIT is passed over too.
            guard let channel = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.0.0.1", port: port).get() else { continue }
            try await channel.close()
            return port
        }
        throw Failure(description: "no free port in \(ports)")
    }
}

/// Runs `body` with a fresh server, killed afterwards whatever happens.
public func withRedisServer<T>(
    _ options: RedisTestServer.Options = RedisTestServer.Options(),
    _ body: (RedisTestServer) async throws -> T
) async throws -> T {
    let server = try await RedisTestServer.start(options)
    defer { server.shutdown() }
    return try await body(server)
}

/// A logger that prints nothing.
public let quietLogger = Logger(label: "redis-tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// A client for `url` (with extra query text), closed after `body`.
public func withClient<T>(
    _ url: String,
    _ body: (RedisClient) async throws -> T
) async throws -> T {
    let client = RedisClient(configuration: try RedisConfiguration(url: withLoadedMachineTimeouts(url)), logger: quietLogger)
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}

/// `url` with 30 s connect and command timeouts unless it sets its own: on a machine running
/// the whole suite in parallel (CI), replies from a local redis-server took over the default 5 s.
public func withLoadedMachineTimeouts(_ url: String) -> String {
    var url = url
    for option in ["connectTimeout", "commandTimeout"] where !url.contains("\(option)=") {
        url += (url.contains("?") ? "&" : "?") + "\(option)=30000"
    }
    return url
}
