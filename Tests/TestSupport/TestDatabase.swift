import Core
import Database
import Foundation
import Logging
import PostgresNIO

/// Fresh, migrated databases for tests: each test gets its own database cloned from a
/// template that is migrated once per test process (`CREATE DATABASE … TEMPLATE …`).
///
/// The server comes from `TEST_DATABASE_URL` (a superuser URL; `scripts/test` starts one),
/// or else from an embedded cluster in a temporary directory, stopped when the process exits.
public actor TestDatabase {
    public static let shared = TestDatabase()

    private var adminURL: DatabaseURL?
    /// Created once; the actor is re-entrant, so concurrent tests await the same task.
    private var template: Task<(DatabaseURL, String), any Error>?
    private let logger: Logger = {
        var logger = Logger(label: "test-db")
        logger.logLevel = .warning
        return logger
    }()

    /// How many tests hold a database at once. Swift Testing starts every test together; left
    /// unbounded, hundreds of pools exhausted the cluster's connections and starved the two cores.
    static let concurrentDatabases = TestPermits(24)

    /// Runs `body` with a new migrated database, dropped afterwards.
    public static func withDatabase<T: Sendable>(_ body: @Sendable (Database) async throws -> T) async throws -> T {
        try await withDatabase(alongside: []) { database, _ in try await body(database) }
    }

    /// Runs `body` with a new migrated database, dropped afterwards, and a second pool on it
    /// whose connections start with `settings` (the table API's statement timeout, say).
    public static func withDatabase<T: Sendable>(
        alongside settings: [(String, String)], _ body: @Sendable (Database, Database) async throws -> T
    ) async throws -> T {
        await concurrentDatabases.acquire()
        defer { Task { await concurrentDatabases.release() } }
        let url = try await shared.freshDatabase()
        defer { Task { await shared.drop(url.database) } }
        let logger = shared.logger
        // The pool warns when leased before its run task starts; that race is harmless here.
        var poolLogger = logger
        poolLogger.logLevel = .error
        let client = PostgresClient(configuration: try url.clientConfiguration(maximumConnections: 8), backgroundLogger: poolLogger)
        let configured = PostgresClient(
            configuration: try url.clientConfiguration(maximumConnections: 4, settings: settings), backgroundLogger: poolLogger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            group.addTask { await configured.run() }
            defer { group.cancelAll() }
            // Tests run in parallel on two cores and some saturate the pool on purpose (120
            // parallel sends): the 5 s request deadline is for production traffic, not for them.
            return try await body(
                Database(client: client, maximumConnections: 8, acquireTimeout: .seconds(120), logger: logger),
                Database(client: configured, maximumConnections: 4, poolName: "configured", acquireTimeout: .seconds(120), logger: logger))
        }
    }

    /// Creates a database from the migrated template and returns its URL.
    public func freshDatabase() async throws -> DatabaseURL {
        if template == nil {
            template = Task { try await self.prepare() }
        }
        let (admin, template) = try await self.template!.value
        let name = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try await Self.admin(admin, logger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE \(template)"), logger: connection.logger)
        }
        return admin.with(database: name)
    }

    /// Drops a test database.
    public func drop(_ name: String) async {
        guard let admin = adminURL else { return }
        try? await Self.admin(admin, logger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: connection.logger)
        }
    }

    private func prepare() async throws -> (DatabaseURL, String) {
        let admin = try server()
        adminURL = admin
        return (admin, try await migratedTemplate(admin))
    }

    private func server() throws -> DatabaseURL {
        let url: DatabaseURL
        if let text = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !text.isEmpty {
            url = try DatabaseURL(parsing: text)
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ecomansoni-tests-\(getpid())")
            let cluster = try EmbeddedPostgres(dataDirectory: directory, maximumConnections: 500, logger: logger)
            url = try cluster.start().url.with(database: "postgres")
            EmbeddedClusterReaper.register(cluster, directory: directory)
        }
        return url
    }

    private func migratedTemplate(_ admin: DatabaseURL) async throws -> String {
        let name = "template_\(getpid())_\(Int(Date().timeIntervalSince1970))"
        try await Self.admin(admin, logger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: connection.logger)
        }
        let client = PostgresClient(configuration: try admin.with(database: name).clientConfiguration(maximumConnections: 2), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await Migrator(migrations: try Migration.bundled(), logger: logger).migrate(client: client)
            group.cancelAll()
        }
        return name
    }

    /// Runs `body` on a single connection to the server's maintenance database.
    static func admin(_ url: DatabaseURL, _ logger: Logger, _ body: @Sendable (PostgresConnection) async throws -> Void) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: .disable),
            id: Int.random(in: 1...1_000_000), logger: logger)
        do {
            try await body(connection)
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

/// Stops an embedded test cluster when the test process exits.
enum EmbeddedClusterReaper {
    nonisolated(unsafe) private static var cluster: EmbeddedPostgres?
    nonisolated(unsafe) private static var directory: URL?

    static func register(_ cluster: EmbeddedPostgres, directory: URL) {
        Self.cluster = cluster
        Self.directory = directory
        atexit {
            EmbeddedClusterReaper.cluster?.stop()
            if let directory = EmbeddedClusterReaper.directory { try? FileManager.default.removeItem(at: directory) }
        }
    }
}
