import Admin
import Auth
import Calls
import Configuration
import Core
import Foundation
import InsuranceService
import Logging
import PostgresNIO
import Realtime
import Redis
import Reels
import Storage

/// Everything the server reads from its environment, validated once at start.
///
/// Every variable is listed in docs/configuration.md.
public struct AppConfig: Sendable {
    /// How realtime events, call frames and kill switches reach the other instances.
    public enum MessageBusKind: String, Sendable {
        /// Chosen from the rest of the configuration (``AppConfig/resolvedMessageBus``).
        case auto
        /// One instance: events stay in the process.
        case inprocess
        /// Several instances on one database: PostgreSQL LISTEN/NOTIFY.
        case postgres
        /// Several instances on one Redis (`REDIS_URL`): Redis pub/sub.
        case redis
    }

    public enum LogFormat: String, Sendable {
        case text, json
    }

    public var host = "127.0.0.1"
    public var port = 8080
    public var dataDirectory = "./.ecomansoni"
    public var databaseURL: String?
    public var databaseMaxConnections = 20
    /// The table API's own pool (`DATABASE_TABLES_MAX_CONNECTIONS`): clients' queries on
    /// `/rest/v1/<table>` cannot take the connections the services need.
    public var databaseTablesMaxConnections = 10
    /// The URL clients use to reach the server (token issuer, links).
    public var publicURL: String?
    public var auth = AuthSettings()
    /// How one-time codes reach users (`AUTH_SMS_DELIVERY`).
    public var otpDelivery = OTPDeliverySettings.log
    public var logLevel = Logger.Level.info
    public var logFormat = LogFormat.text
    /// The web app's folder (`PUBLIC_DIR`; default `./Public` or the checkout's).
    public var publicDirectory: String?
    /// Where the web app's compressed files are kept between runs (`WEB_ASSET_CACHE_DIR`):
    /// nil for the user's cache folder, empty for none.
    public var webAssetCacheDirectory: String?
    /// The realtime fan-out between instances (`MESSAGE_BUS`); see ``resolvedMessageBus``.
    public var messageBus = MessageBusKind.auto
    /// The Redis shared by the instances (`REDIS_URL`), validated at load.
    public var redis: RedisConfiguration?
    /// Whether a reverse proxy in front sets `X-Forwarded-For` (`TRUST_PROXY`).
    public var trustProxy = false
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    public var shutdownGraceSeconds = 10
    /// Realtime limits and open topics (`REALTIME_*`).
    public var realtime = RealtimeLimits()
    /// How the published tables' change log is followed (`REALTIME_INSTANCE_NAME`,
    /// `REALTIME_CHANGE_RETENTION_SECONDS`, `REALTIME_RESUME_GRACE_MS`).
    public var changeCapture = ChangeCaptureSettings()
    /// Deadlines and caps on HTTP connections (`HTTP_*`).
    public var http = HTTPConnectionLimits()
    /// Seconds a request waits for a database connection before a 503 (`DATABASE_ACQUIRE_TIMEOUT_SECONDS`).
    public var databaseAcquireTimeoutSeconds = 5
    /// The insurance assistant: its model, rate and keep-alives (`LLM_*`, `ASSISTANT_*`).
    public var assistant = AssistantSettings()
    /// What this process serves (`serve --roles`): every role by default (the all-in-one process).
    public var roles: Set<ServerRole> = Set(ServerRole.allCases)
    /// The calls service's tunables and TURN relay (`CALLS_*`, `TURN_*`).
    public var calls = CallsSettings()
    /// Object storage: backend, limits, signed URLs (`STORAGE_*`, `S3_*`).
    public var storage = StorageSettings()
    /// Reels: the transcoding worker and the arbiter (`REELS_*`).
    public var reels = ReelsSettings()
    /// Whether the API role follows realtime's change log (published tables, writes made
    /// outside the server): set by `Server`; applications built in tests leave it off.
    /// Not an environment variable.
    public var readsChangeLog = false
    /// The admin console: session length, TOTP issuer, audit anchors (`ADMIN_*`).
    public var admin = AdminSettings()

    /// A part of the server that `serve --roles` can run alone.
    public enum ServerRole: String, Sendable, CaseIterable {
        /// The web app and the HTTP and realtime APIs.
        case api
        /// The calls signalling service.
        case calls
        /// The reels transcoding worker.
        case worker
        /// The Reels Arbiter (feed suppression control loop).
        case arbiter
    }

    public init() {}

    /// Reads and validates the configuration; each error names the variable and the rule.
    /// The server's own variables are read here; each module reads its own
    /// (`AuthSettings(reader:)`, `CallsSettings(reader:)`, …).
    public static func load(from reader: ConfigReader) throws -> AppConfig {
        var config = AppConfig()
        config.host = reader.string(forKey: "host", default: config.host)
        config.port = try reader.integer("port", variable: "PORT", default: config.port, in: 0...65535)
        config.dataDirectory = reader.string(forKey: "ecomansoni.dataDir", default: config.dataDirectory)
        config.databaseURL = reader.nonEmptyString("database.url", isSecret: true)
        config.databaseMaxConnections = try reader.integer("database.maxConnections", variable: "DATABASE_MAX_CONNECTIONS", default: 20, in: 2...500)
        config.databaseTablesMaxConnections = try reader.integer(
            "database.tables.maxConnections", variable: "DATABASE_TABLES_MAX_CONNECTIONS", default: 10, in: 1...500)
        config.publicURL = reader.string(forKey: "public.url")
        config.trustProxy = reader.bool(forKey: "trustProxy") ?? false
        config.publicDirectory = reader.string(forKey: "publicDir")
        config.webAssetCacheDirectory = reader.string(forKey: "webAssetCacheDir")
        try config.loadMessageBus(from: reader)
        config.shutdownGraceSeconds = try reader.integer("shutdown.graceSeconds", variable: "SHUTDOWN_GRACE_SECONDS", default: 10, in: 1...600)
        config.databaseAcquireTimeoutSeconds = try reader.integer(
            "database.acquireTimeoutSeconds", variable: "DATABASE_ACQUIRE_TIMEOUT_SECONDS", default: 5, in: 1...300)
        config.http = try HTTPConnectionLimits(reader: reader, trustProxy: config.trustProxy)
        config.realtime = try RealtimeLimits(reader: reader)
        config.changeCapture = try ChangeCaptureSettings(reader: reader)
        config.auth = try AuthSettings(reader: reader)
        config.otpDelivery = try OTPDeliverySettings(reader: reader)

        let level = reader.string(forKey: "log.level", default: "info")
        guard let logLevel = Logger.Level(rawValue: level.lowercased()) else {
            throw ConfigurationError("LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical")
        }
        config.logLevel = logLevel
        let format = reader.string(forKey: "log.format", default: "text")
        guard let logFormat = LogFormat(rawValue: format.lowercased()) else {
            throw ConfigurationError("LOG_FORMAT must be text or json")
        }
        config.logFormat = logFormat
        config.auth.issuer = "\(config.resolvedPublicURL)/auth/v1"
        config.assistant = try AssistantSettings(reader: reader)
        try config.loadRoles(from: reader)
        config.calls = try CallsSettings(reader: reader)
        config.storage = try StorageSettings(reader: reader)
        config.reels = try ReelsSettings(reader: reader)
        config.admin = try AdminSettings(reader: reader)
        return config
    }

    /// What this process serves (`SERVER_ROLES`, `serve --roles`).
    private mutating func loadRoles(from reader: ConfigReader) throws {
        if let text = reader.string(forKey: "server.roles"), !text.isEmpty {
            var parsed: Set<ServerRole> = []
            for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
                if name == "all" {
                    parsed.formUnion(ServerRole.allCases)
                } else if let role = ServerRole(rawValue: name) {
                    parsed.insert(role)
                } else {
                    throw ConfigurationError("SERVER_ROLES (--roles) must list api, calls, worker, arbiter or all, not '\(name)'")
                }
            }
            roles = parsed
        }
    }

    /// `MESSAGE_BUS` and `REDIS_URL`: an explicit bus must have what it needs.
    private mutating func loadMessageBus(from reader: ConfigReader) throws {
        let bus = reader.string(forKey: "messageBus", default: "auto")
        guard let kind = MessageBusKind(rawValue: bus) else {
            throw ConfigurationError("MESSAGE_BUS must be auto, inprocess, postgres or redis, not '\(bus)'")
        }
        messageBus = kind
        do {
            redis = try RedisConfiguration(reader: reader)
        } catch {
            throw ConfigurationError(error.description)
        }
        if kind == .redis, redis == nil {
            throw ConfigurationError("MESSAGE_BUS=redis needs REDIS_URL (e.g. redis://127.0.0.1:6379)")
        }
    }

    /// The bus this instance uses. `MESSAGE_BUS=auto` (the default) picks the one that cannot
    /// split a cluster by accident: Redis when `REDIS_URL` is set, PostgreSQL LISTEN/NOTIFY
    /// on an external `DATABASE_URL` (other instances may share it), and the in-process bus
    /// only on the embedded database, which no other instance can reach.
    public var resolvedMessageBus: MessageBusKind {
        switch messageBus {
        case .auto:
            if redis != nil { return .redis }
            return databaseURL == nil ? .inprocess : .postgres
        default:
            return messageBus
        }
    }

    /// `STORAGE_DIR`, or `<data dir>/storage`.
    public var resolvedStorageDirectory: String {
        storage.directory ?? URL(fileURLWithPath: dataDirectory).appendingPathComponent("storage").path
    }

    /// `PUBLIC_URL`, or `http://localhost:<port>`.
    public var resolvedPublicURL: String {
        if let publicURL, !publicURL.isEmpty {
            return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        }
        return "http://localhost:\(port)"
    }
}
