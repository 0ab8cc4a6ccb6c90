import Admin
import AsyncHTTPClient
import Auth
import Core
import Database
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Realtime
import Redis
import ServiceLifecycle
import Storage
import Tables

/// Runs the server until SIGINT/SIGTERM: finds or starts the database, migrates, serves,
/// then drains in-flight requests, closes the pool and stops an embedded cluster.
public enum Server {
    /// How long realtime delivery waits for a connection of its own pool before it gives a
    /// change up (logged): far longer than a request would, since nobody is waiting to retry.
    static let realtimeAcquireTimeout = Duration.seconds(60)

    public static func run(config: AppConfig, logger: Logger) async throws {
        _ = AppMetrics.registry
        raiseOpenFilesLimit(logger: logger)
        let locator = try await DatabaseLocator(
            databaseURL: config.databaseURL, dataDirectory: URL(fileURLWithPath: config.dataDirectory), logger: logger)
        defer { locator.release() }
        var configuration = config
        // The reels worker LISTENs on a connection of its own, not on one of the pool's.
        configuration.reels.worker.listenConfiguration = try locator.url.connectionConfiguration()
        configuration.readsChangeLog = true
        let config = configuration
        try await withDatabase(locator.url, config: config, logger: logger) { database in
            try await Migrator(migrations: try Migration.bundled(), logger: logger).migrate(client: database.client)
            // Read before anything is served, so a switch engaged before a restart holds from the start.
            let killSwitches = KillSwitchBoard(database: database, logger: logger)
            try await killSwitches.refresh()
            let auth = try await loadAuthService(
                config: config, database: database, httpClient: .shared, logger: logger, killSwitches: killSwitches)
            // One pool to Redis for the bus's publishes and the shared rate limits.
            let redis = config.redis.map { RedisClient(configuration: $0, logger: logger) }
            let (bus, busTarget) = try makeMessageBus(config: config, database: database, locator: locator, redis: redis, logger: logger)
            // Refused here, before anything is served, if this instance could not hear the others.
            let registry = InstanceRegistry(
                instance: .current(bus: config.resolvedMessageBus.rawValue, busTarget: busTarget), database: database, logger: logger)
            try await registry.register()
            logger.info("message bus", metadata: ["bus": "\(config.resolvedMessageBus.rawValue)", "target": "\(busTarget)"])
            // Realtime reads its rows from a small pool of its own, so delivery does not queue
            // behind the writes that produce it. That is not a request path: a change waits out
            // a short outage (`realtimeAcquireTimeout`) rather than being dropped at the
            // request deadline.
            try await withDatabase(
                locator.url, config: config, logger: logger, maximumConnections: 4, poolName: "realtime",
                acquireTimeout: realtimeAcquireTimeout
            ) { realtimeDatabase in
                // Clients' table queries run on a pool of their own, whose connections carry
                // the table API's statement timeout.
                try await withDatabase(
                    locator.url, config: config, logger: logger, maximumConnections: config.databaseTablesMaxConnections, poolName: "tables",
                    settings: TableLimits().connectionSettings
                ) { tablesDatabase in
                    try await serve(
                        config: config, database: database, realtimeDatabase: realtimeDatabase, tablesDatabase: tablesDatabase, auth: auth,
                        bus: bus, buckets: redis.map { RedisTokenBuckets(client: $0, logger: logger) }, redis: redis,
                        registry: registry, killSwitches: killSwitches, location: locator.location, logger: logger)
                }
                await redis?.close()
            }
        }
    }

    /// Serves until SIGINT/SIGTERM, then drains within the configured bounds.
    private static func serve(
        config: AppConfig, database: Database, realtimeDatabase: Database, tablesDatabase: Database, auth: AuthService, bus: any MessageBus,
        buckets: (any TokenBucketStore)?, redis: RedisClient?, registry: InstanceRegistry, killSwitches: KillSwitchBoard, location: String, logger: Logger
    ) async throws {
        let storageBackend = try await makeStorageBackend(config: config, logger: logger)
        var app = try buildApplication(
            config: config, database: database, realtimeDatabase: realtimeDatabase, tablesDatabase: tablesDatabase, auth: auth, bus: bus,
            storageBackend: storageBackend,
            killSwitches: killSwitches, buckets: buckets, redis: redis, logger: logger)
        let keys = auth.tokens
        app.beforeServerStarts {
            logger.notice("""
                ecomansoni listening on http://\(config.host):\(config.port)
                  anon key:  \(keys.anonKey)
                  data:      \(location)
                """)
        }
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: app), .init(service: registry)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // A client that never answers a close frame must not keep the process alive.
        configuration.maximumGracefulShutdownDuration = .seconds(config.shutdownGraceSeconds)
        // Cancelling thousands of sockets takes a while; past this bound the process aborts.
        configuration.maximumCancellationDuration = .seconds(60)
        try await ServiceGroup(configuration: configuration).run()
        logger.info("server stopped; closing the database pools")
    }

    /// The bus `config.resolvedMessageBus` names, and where it meets the other instances
    /// (recorded in the instance registry; never credentials).
    private static func makeMessageBus(
        config: AppConfig, database: Database, locator: DatabaseLocator, redis: RedisClient?, logger: Logger
    ) throws -> (any MessageBus, String) {
        switch config.resolvedMessageBus {
        case .auto, .inprocess:
            return (InProcessMessageBus(), "")
        case .postgres:
            let bus = PostgresMessageBus(client: database.client, listenConfiguration: try locator.url.connectionConfiguration(), logger: logger)
            return (bus, "")
        case .redis:
            guard let configuration = config.redis, let redis else {
                throw ConfigurationError("MESSAGE_BUS=redis needs REDIS_URL (e.g. redis://127.0.0.1:6379)")
            }
            return (RedisMessageBus(client: redis, configuration: configuration, logger: logger), configuration.target)
        }
    }

    /// Raises the soft open-files limit to the hard one: every connection is a descriptor, and
    /// a low soft limit (often 1024) would otherwise cap the server far below what the
    /// per-address and header limits are sized for.
    private static func raiseOpenFilesLimit(logger: Logger) {
        #if canImport(Glibc)
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        let previous = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        if setrlimit(resource, &limit) == 0 {
            logger.info("raised the open-files limit", metadata: ["from": "\(previous)", "to": "\(limit.rlim_max)"])
        }
    }

    /// Finds or starts the database, migrates it and runs `body` with it
    /// (for the `migrate` and `keys` commands).
    public static func withMigratedDatabase<T: Sendable>(
        config: AppConfig, logger: Logger, _ body: @Sendable (Database, [String]) async throws -> T
    ) async throws -> T {
        let locator = try await DatabaseLocator(
            databaseURL: config.databaseURL, dataDirectory: URL(fileURLWithPath: config.dataDirectory), logger: logger)
        defer { locator.release() }
        return try await withDatabase(locator.url, config: config, logger: logger) { database in
            let applied = try await Migrator(migrations: try Migration.bundled(), logger: logger).migrate(client: database.client)
            return try await body(database, applied)
        }
    }

    /// Runs `body` with a pooled client to `url`, running the pool alongside. Its wait for a
    /// connection is `DATABASE_ACQUIRE_TIMEOUT_SECONDS` unless `acquireTimeout` says otherwise;
    /// its connections start with `settings`.
    public static func withDatabase<T: Sendable>(
        _ url: DatabaseURL, config: AppConfig, logger: Logger,
        maximumConnections: Int? = nil, poolName: String = "main", acquireTimeout: Duration? = nil, settings: [(String, String)] = [],
        _ body: @Sendable (Database) async throws -> T
    ) async throws -> T {
        let size = maximumConnections ?? config.databaseMaxConnections
        let client = PostgresClient(
            configuration: try url.clientConfiguration(maximumConnections: size, settings: settings), backgroundLogger: logger)
        let pool = Task { await client.run() }
        let result: T
        do {
            result = try await body(
                Database(
                    client: client, maximumConnections: size, poolName: poolName,
                    acquireTimeout: acquireTimeout ?? .seconds(config.databaseAcquireTimeoutSeconds), logger: logger))
        } catch {
            await close(pool, poolName: poolName, logger: logger)
            throw error
        }
        await close(pool, poolName: poolName, logger: logger)
        return result
    }

    /// How long closing a pool may take before the process goes on without it.
    static let poolCloseTimeout: Duration = .seconds(5)

    /// Stops a pool's run task and waits for it, at most ``poolCloseTimeout``: a connection
    /// lease that is never returned (the cause of a clean-clone run's minutes-long exit, not
    /// yet found) must not keep a stopped server from exiting and stopping its database.
    private static func close(_ pool: Task<Void, Never>, poolName: String, logger: Logger) async {
        pool.cancel()
        let finished = await FirstOf.race(await pool.value, orAfter: poolCloseTimeout)
        // Each step of a shutdown is logged, so a stall before exit shows where it hangs.
        if finished {
            logger.info("database pool closed", metadata: ["pool": "\(poolName)"])
        } else {
            logger.warning(
                "database pool did not close in time; going on without it (a connection was still leased)",
                metadata: ["pool": "\(poolName)", "seconds": "\(poolCloseTimeout.components.seconds)"])
        }
    }
}

extension Server {
    /// The deployment's API keys (created on first use, shared through the database).
    public static func apiKeys(config: AppConfig, database: Database, logger: Logger) async throws -> (anon: String, serviceRole: String) {
        let tokens = try await TokenService.load(database: database, settings: config.auth)
        return (tokens.anonKey, tokens.serviceRoleKey)
    }
}
