import Admin
import Auth
import Calls
import Configuration
import Foundation
import InsuranceService
import Logging
import Realtime
import Redis
import Reels
import Storage

/// Everything the server reads from its environment, validated once at start.
///
/// Every variable is listed in docs/configuration.md.
public struct AppConfig: Sendable {
    /// How one-time codes reach users.
    public enum OTPDelivery: String, Sendable {
        /// Written to the server log (development).
        case log
        /// POSTed to `AUTH_SMS_WEBHOOK_URL`, signed with `AUTH_SMS_WEBHOOK_SECRET`.
        case webhook
    }

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
    /// The URL clients use to reach the server (token issuer, links).
    public var publicURL: String?
    public var auth = AuthSettings()
    public var otpDelivery = OTPDelivery.log
    public var smsWebhookURL: String?
    public var smsWebhookSecret: String?
    public var logLevel = Logger.Level.info
    public var logFormat = LogFormat.text
    /// The web app's folder (`PUBLIC_DIR`; default `./Public` or the checkout's).
    public var publicDirectory: String?
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
    /// Deadlines and caps on HTTP connections (`HTTP_*`).
    public var http = HTTPConnectionLimits()
    /// Seconds a request waits for a database connection before a 503 (`DATABASE_ACQUIRE_TIMEOUT_SECONDS`).
    public var databaseAcquireTimeoutSeconds = 5
    /// The OpenAI-compatible model behind the insurance assistant (`LLM_BASE_URL`,
    /// `LLM_API_KEY`, `LLM_MODEL`); nil runs the built-in assistant.
    public var llm: ProviderSettings?
    /// Assistant questions each user may ask per minute (`ASSISTANT_RATE_PER_MINUTE`).
    public var assistantRatePerMinute = 10
    /// Seconds of silence before a keep-alive comment in an answer stream (`ASSISTANT_KEEPALIVE_SECONDS`).
    public var assistantKeepAliveSeconds = 15
    /// What this process serves (`serve --roles`): every role by default (the all-in-one process).
    public var roles: Set<ServerRole> = Set(ServerRole.allCases)
    /// The calls service's tunables and TURN relay (`CALLS_*`, `TURN_*`).
    public var calls = CallsSettings()
    /// Object storage: backend, limits, signed URLs (`STORAGE_*`, `S3_*`).
    public var storage = StorageSettings()
    /// Reels: the transcoding worker and the arbiter (`REELS_*`).
    public var reels = ReelsSettings()
    /// The admin console: session length, TOTP issuer, audit anchors (`ADMIN_*`).
    public var admin = AdminSettings()
    /// `STORAGE_RESUMABLE_TTL_SECONDS`: how long an unfinished resumable (TUS) upload is kept after its last chunk.
    public var resumableUploadTTLSeconds = 86_400

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
    public static func load(from reader: ConfigReader) throws -> AppConfig {
        var config = AppConfig()
        config.host = reader.string(forKey: "host", default: config.host)
        config.port = try integer(reader, "port", "PORT", default: config.port, in: 0...65535)
        config.dataDirectory = reader.string(forKey: "ecomansoni.dataDir", default: config.dataDirectory)
        config.databaseURL = reader.string(forKey: "database.url").flatMap { $0.isEmpty ? nil : $0 }
        config.databaseMaxConnections = try integer(reader, "database.maxConnections", "DATABASE_MAX_CONNECTIONS", default: 20, in: 2...500)
        config.publicURL = reader.string(forKey: "public.url")
        config.trustProxy = reader.bool(forKey: "trustProxy") ?? false
        config.publicDirectory = reader.string(forKey: "publicDir")
        try config.loadMessageBus(from: reader)
        config.shutdownGraceSeconds = try integer(reader, "shutdown.graceSeconds", "SHUTDOWN_GRACE_SECONDS", default: 10, in: 1...600)
        config.databaseAcquireTimeoutSeconds = try integer(
            reader, "database.acquireTimeoutSeconds", "DATABASE_ACQUIRE_TIMEOUT_SECONDS", default: 5, in: 1...300)
        try config.loadHTTPLimits(from: reader)
        try config.loadRealtime(from: reader)

        var auth = AuthSettings()
        auth.jwtExpirySeconds = try integer(reader, "auth.jwtExpiry", "AUTH_JWT_EXPIRY", default: 3600, in: 30...604_800)
        auth.smsMaxFrequencySeconds = try integer(reader, "auth.sms.maxFrequency", "AUTH_SMS_MAX_FREQUENCY", default: 60, in: 0...86_400)
        auth.refreshTokenReuseIntervalSeconds = try integer(
            reader, "auth.refreshTokenReuseInterval", "AUTH_REFRESH_TOKEN_REUSE_INTERVAL", default: 10, in: 0...3600)
        auth.otpExpirySeconds = try integer(reader, "auth.sms.otpExpiry", "AUTH_SMS_OTP_EXPIRY", default: 300, in: 30...3600)
        auth.otpLength = try integer(reader, "auth.sms.otpLength", "AUTH_SMS_OTP_LENGTH", default: 6, in: 6...10)
        auth.otpMaxPerPhonePerHour = try integer(reader, "auth.sms.maxPerHour", "AUTH_SMS_MAX_PER_HOUR", default: 10, in: 1...10_000)
        auth.otpMaxPerAddressPerHour = try integer(
            reader, "auth.sms.maxPerAddressPerHour", "AUTH_SMS_MAX_PER_ADDRESS_PER_HOUR", default: 30, in: 1...1_000_000)
        auth.requestBurstPerAddress = try integer(reader, "auth.rateLimit.burst", "AUTH_RATE_LIMIT_BURST", default: 120, in: 1...1_000_000)
        auth.requestsPerSecondPerAddress = Double(
            try integer(reader, "auth.rateLimit.perSecond", "AUTH_RATE_LIMIT_PER_SECOND", default: 2, in: 1...100_000))
        auth.signupEnabled = !(reader.bool(forKey: "auth.disableSignup") ?? false)
        auth.userMetadataMaxBytes = try integer(
            reader, "auth.userMetadataMaxBytes", "AUTH_USER_METADATA_MAX_BYTES", default: 4096, in: 2...65_536)
        auth.phoneChangeBurst = try integer(reader, "auth.phoneChange.burst", "AUTH_PHONE_CHANGE_BURST", default: 5, in: 1...10_000)
        auth.phoneChangesPerHour = try integer(reader, "auth.phoneChange.perHour", "AUTH_PHONE_CHANGE_PER_HOUR", default: 10, in: 1...1_000_000)
        if let testOTP = reader.string(forKey: "auth.sms.testOtp"), !testOTP.isEmpty {
            do {
                auth.testOTPs = try AuthSettings.parseTestOTPs(testOTP)
            } catch {
                throw ConfigurationError("AUTH_SMS_TEST_OTP: \(error)")
            }
        }
        config.auth = auth

        let delivery = reader.string(forKey: "auth.sms.delivery", default: "log")
        guard let otpDelivery = OTPDelivery(rawValue: delivery) else {
            throw ConfigurationError("AUTH_SMS_DELIVERY must be log or webhook, not '\(delivery)'")
        }
        config.otpDelivery = otpDelivery
        config.smsWebhookURL = reader.string(forKey: "auth.sms.webhook.url")
        config.smsWebhookSecret = reader.string(forKey: "auth.sms.webhook.secret", isSecret: true)
        if otpDelivery == .webhook {
            guard let url = config.smsWebhookURL, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? "") else {
                throw ConfigurationError("AUTH_SMS_WEBHOOK_URL must be an http(s) URL when AUTH_SMS_DELIVERY=webhook")
            }
            guard let secret = config.smsWebhookSecret, secret.count >= 16 else {
                throw ConfigurationError("AUTH_SMS_WEBHOOK_SECRET must be at least 16 characters when AUTH_SMS_DELIVERY=webhook")
            }
        }

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
        try config.loadAssistant(from: reader)
        try config.loadRoles(from: reader)
        try config.loadCalls(from: reader)
        try config.loadStorage(from: reader)
        try config.loadReelsArbiter(from: reader)
        try config.loadReelsWorker(from: reader)
        try config.loadReelsFeed(from: reader)
        try config.loadAdmin(from: reader)
        return config
    }

    /// The insurance assistant's settings: all three LLM variables or none.
    private mutating func loadAssistant(from reader: ConfigReader) throws {
        let baseURL = reader.string(forKey: "llm.base.url").flatMap { $0.isEmpty ? nil : $0 }
        let apiKey = reader.string(forKey: "llm.api.key", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        let model = reader.string(forKey: "llm.model").flatMap { $0.isEmpty ? nil : $0 }
        switch (baseURL, apiKey, model) {
        case (nil, nil, nil):
            llm = nil
        case let (baseURL?, apiKey?, model?):
            guard let parsed = URL(string: baseURL), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw ConfigurationError("LLM_BASE_URL must be an http(s) URL such as https://api.example.com/v1")
            }
            llm = ProviderSettings(baseURL: baseURL, apiKey: apiKey, model: model)
        default:
            throw ConfigurationError("LLM_BASE_URL, LLM_API_KEY and LLM_MODEL must be set together (or none, for the built-in assistant)")
        }
        assistantRatePerMinute = try Self.integer(reader, "assistant.ratePerMinute", "ASSISTANT_RATE_PER_MINUTE", default: 10, in: 1...10_000)
        assistantKeepAliveSeconds = try Self.integer(reader, "assistant.keepaliveSeconds", "ASSISTANT_KEEPALIVE_SECONDS", default: 15, in: 1...300)
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

    /// HTTP connection deadlines and caps. Behind a proxy (`TRUST_PROXY`) every connection
    /// comes from the proxy, so the per-address cap is off unless set explicitly.
    private mutating func loadHTTPLimits(from reader: ConfigReader) throws {
        http.headerTimeoutSeconds = try Self.integer(reader, "http.headerTimeoutSeconds", "HTTP_HEADER_TIMEOUT_SECONDS", default: 10, in: 1...600)
        http.idleTimeoutSeconds = try Self.integer(reader, "http.idleTimeoutSeconds", "HTTP_IDLE_TIMEOUT_SECONDS", default: 60, in: 1...3600)
        http.maximumConnectionsPerAddress = try Self.integer(
            reader, "http.maxConnectionsPerAddress", "HTTP_MAX_CONNECTIONS_PER_ADDRESS", default: trustProxy ? 0 : 256, in: 0...1_000_000)
        http.maximumHeaderBytes = try Self.integer(reader, "http.maxHeaderBytes", "HTTP_MAX_HEADER_BYTES", default: 32 * 1024, in: 1024...1_048_576)
    }

    /// `MESSAGE_BUS` and `REDIS_URL`: an explicit bus must have what it needs.
    private mutating func loadMessageBus(from reader: ConfigReader) throws {
        let bus = reader.string(forKey: "messageBus", default: "auto")
        guard let kind = MessageBusKind(rawValue: bus) else {
            throw ConfigurationError("MESSAGE_BUS must be auto, inprocess, postgres or redis, not '\(bus)'")
        }
        messageBus = kind
        if let url = reader.string(forKey: "redis.url"), !url.isEmpty {
            do {
                redis = try RedisConfiguration(url: url)
            } catch {
                throw ConfigurationError(error.description)
            }
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

    /// Realtime limits and the topics open to anyone with an API key.
    private mutating func loadRealtime(from reader: ConfigReader) throws {
        realtime.bindingsPerChannel = try Self.integer(
            reader, "realtime.maxBindingsPerChannel", "REALTIME_MAX_BINDINGS_PER_CHANNEL", default: 10, in: 1...100)
        realtime.presenceMetaBytes = try Self.integer(
            reader, "realtime.maxPresenceMetaBytes", "REALTIME_MAX_PRESENCE_META_BYTES", default: 1024, in: 64...65_536)
        realtime.presencesPerKey = try Self.integer(reader, "realtime.maxPresencesPerKey", "REALTIME_MAX_PRESENCES_PER_KEY", default: 10, in: 1...10_000)
        realtime.presencesPerTopic = try Self.integer(
            reader, "realtime.maxPresencesPerTopic", "REALTIME_MAX_PRESENCES_PER_TOPIC", default: 1000, in: 1...1_000_000)
        realtime.socketsPerAddress = try Self.integer(
            reader, "realtime.maxSocketsPerAddress", "REALTIME_MAX_SOCKETS_PER_ADDRESS", default: 64, in: 1...1_000_000)
        realtime.socketsPerUser = try Self.integer(reader, "realtime.maxSocketsPerUser", "REALTIME_MAX_SOCKETS_PER_USER", default: 16, in: 1...10_000)
        let open = reader.string(forKey: "realtime.openTopics") ?? ""
        realtime.openTopicPrefixes = open.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The calls service and its TURN relay.
    private mutating func loadCalls(from reader: ConfigReader) throws {
        calls.resumeGrace = .seconds(try Self.integer(reader, "calls.resumeGraceSeconds", "CALLS_RESUME_GRACE_SECONDS", default: 30, in: 1...3600))
        calls.authTimeout = .seconds(try Self.integer(reader, "calls.authTimeoutSeconds", "CALLS_AUTH_TIMEOUT_SECONDS", default: 10, in: 1...300))
        calls.heartbeatSeconds = try Self.integer(reader, "calls.heartbeatSeconds", "CALLS_HEARTBEAT_SECONDS", default: 25, in: 1...600)
        calls.roomLinger = .seconds(try Self.integer(reader, "calls.roomLingerSeconds", "CALLS_ROOM_LINGER_SECONDS", default: 5, in: 0...3600))
        calls.joinTokenTTLSeconds = try Self.integer(reader, "calls.joinTokenTtlSeconds", "CALLS_JOIN_TOKEN_TTL_SECONDS", default: 600, in: 10...86_400)
        calls.maximumConnectionsPerAddress = try Self.integer(
            reader, "calls.maxConnectionsPerAddress", "CALLS_MAX_CONNECTIONS_PER_ADDRESS", default: 20, in: 1...100_000)
        calls.maximumRoomPeers = try Self.integer(reader, "calls.maxRoomPeers", "CALLS_MAX_ROOM_PEERS", default: 50, in: 2...1000)
        calls.requireSecureTransport = reader.bool(forKey: "calls.requireSecureTransport") ?? false
        let urls = (reader.string(forKey: "turn.urls") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let secret = reader.string(forKey: "turn.shared.secret", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        let ttl = try Self.integer(reader, "turn.ttl.seconds", "TURN_TTL_SECONDS", default: 3600, in: 60...86_400)
        for url in urls where !["turn:", "turns:", "stun:", "stuns:"].contains(where: { url.hasPrefix($0) }) {
            throw ConfigurationError("TURN_URLS entries must start with turn:, turns:, stun: or stuns: (not '\(url)')")
        }
        switch (urls.isEmpty, secret) {
        case (true, nil):
            calls.turn = nil
        case (false, let secret?):
            guard secret.count >= 16 else { throw ConfigurationError("TURN_SHARED_SECRET must be at least 16 characters") }
            calls.turn = TurnSettings(urls: urls, sharedSecret: secret, ttlSeconds: ttl)
        default:
            throw ConfigurationError("TURN_URLS and TURN_SHARED_SECRET must be set together")
        }
    }

    /// Object storage: the backend (local directory or S3), upload and signed-URL limits.
    private mutating func loadStorage(from reader: ConfigReader) throws {
        let kind = reader.string(forKey: "storage.backend", default: "local")
        guard let backend = StorageSettings.BackendKind(rawValue: kind.lowercased()) else {
            throw ConfigurationError("STORAGE_BACKEND must be local or s3, not '\(kind)'")
        }
        storage.backend = backend
        storage.directory = reader.string(forKey: "storage.dir").flatMap { $0.isEmpty ? nil : $0 }
        storage.maxUploadBytes = Int64(
            try Self.integer(reader, "storage.maxUploadBytes", "STORAGE_MAX_UPLOAD_BYTES", default: 500 * 1024 * 1024, in: 1...(50 << 30)))
        storage.signedURLMaxExpirySeconds = try Self.integer(
            reader, "storage.signedUrlMaxExpirySeconds", "STORAGE_SIGNED_URL_MAX_EXPIRY_SECONDS", default: 604_800, in: 1...31_536_000)
        storage.signedUploadExpirySeconds = try Self.integer(
            reader, "storage.signedUploadExpirySeconds", "STORAGE_SIGNED_UPLOAD_EXPIRY_SECONDS", default: 7200, in: 60...604_800)
        storage.writesPerMinute = try Self.integer(reader, "storage.writesPerMinute", "STORAGE_WRITES_PER_MINUTE", default: 120, in: 1...100_000)
        storage.userQuotaBytes = Int64(
            try Self.integer(reader, "storage.userQuotaBytes", "STORAGE_USER_QUOTA_BYTES", default: 1 << 30, in: 0...(1 << 50)))
        storage.janitorIntervalSeconds = try Self.integer(
            reader, "storage.janitorIntervalSeconds", "STORAGE_JANITOR_INTERVAL_SECONDS", default: 60, in: 1...86_400)
        storage.orphanTTLSeconds = try Self.integer(
            reader, "storage.orphanTtlSeconds", "STORAGE_ORPHAN_TTL_SECONDS", default: 86_400, in: 60...31_536_000)
        resumableUploadTTLSeconds = try Self.integer(
            reader, "storage.resumableTtlSeconds", "STORAGE_RESUMABLE_TTL_SECONDS", default: 86_400, in: 1...2_592_000)
        if backend == .s3 {
            var environment: [String: String] = [:]
            let keys: [(ConfigKey, String, Bool)] = [
                ("s3.endpoint", "S3_ENDPOINT", false), ("s3.region", "S3_REGION", false), ("s3.bucket", "S3_BUCKET", false),
                ("s3.accessKeyId", "S3_ACCESS_KEY_ID", false), ("s3.secretAccessKey", "S3_SECRET_ACCESS_KEY", true),
                ("s3.partSizeBytes", "S3_PART_SIZE_BYTES", false), ("s3.requestTimeoutSeconds", "S3_REQUEST_TIMEOUT_SECONDS", false),
            ]
            for (key, name, secret) in keys {
                environment[name] = reader.string(forKey: key, isSecret: secret)
            }
            do {
                storage.s3 = try S3Settings(environment: environment)
            } catch {
                throw ConfigurationError("STORAGE_BACKEND=s3: \(error)")
            }
        }
    }

    /// The Reels Arbiter's loop and thresholds (`REELS_ARBITER_*`; docs/reels.md, "Arbiter").
    private mutating func loadReelsArbiter(from reader: ConfigReader) throws {
        var arbiter = ArbiterSettings()
        arbiter.intervalSeconds = try Self.integer(reader, "reels.arbiter.intervalSeconds", "REELS_ARBITER_INTERVAL_SECONDS", default: 30, in: 1...3600)
        arbiter.suppressLagSeconds = try Self.integer(
            reader, "reels.arbiter.suppressLagSeconds", "REELS_ARBITER_SUPPRESS_LAG_SECONDS", default: 900, in: 1...86_400)
        arbiter.clearLagSeconds = try Self.integer(reader, "reels.arbiter.clearLagSeconds", "REELS_ARBITER_CLEAR_LAG_SECONDS", default: 180, in: 0...86_400)
        arbiter.greenStreakSeconds = try Self.integer(
            reader, "reels.arbiter.greenStreakSeconds", "REELS_ARBITER_GREEN_STREAK_SECONDS", default: 720, in: 0...86_400)
        arbiter.minimumSuppressionSeconds = try Self.integer(
            reader, "reels.arbiter.minSuppressionSeconds", "REELS_ARBITER_MIN_SUPPRESSION_SECONDS", default: 600, in: 0...86_400)
        arbiter.trafficFloor = try Self.integer(reader, "reels.arbiter.trafficFloor", "REELS_ARBITER_TRAFFIC_FLOOR", default: 20, in: 0...1_000_000_000)
        arbiter.trafficWindowSeconds = try Self.integer(
            reader, "reels.arbiter.trafficWindowSeconds", "REELS_ARBITER_TRAFFIC_WINDOW_SECONDS", default: 300, in: 10...86_400)
        guard arbiter.clearLagSeconds < arbiter.suppressLagSeconds else {
            throw ConfigurationError("REELS_ARBITER_CLEAR_LAG_SECONDS must be below REELS_ARBITER_SUPPRESS_LAG_SECONDS")
        }
        reels.arbiter = arbiter
    }

    /// The reels transcoding worker (`REELS_WORKER_*`, `REELS_JOB_*`, `REELS_TRANSCODE_*`;
    /// docs/reels.md, "Pipeline").
    private mutating func loadReelsWorker(from reader: ConfigReader) throws {
        var worker = ReelsWorkerSettings()
        worker.concurrency = try Self.integer(reader, "reels.worker.concurrency", "REELS_WORKER_CONCURRENCY", default: 1, in: 1...64)
        worker.leaseSeconds = try Self.integer(reader, "reels.job.leaseSeconds", "REELS_JOB_LEASE_SECONDS", default: 30, in: 3...3600)
        worker.pollSeconds = try Self.integer(reader, "reels.job.pollSeconds", "REELS_JOB_POLL_SECONDS", default: 5, in: 1...3600)
        worker.retryBaseSeconds = try Self.integer(reader, "reels.job.retryBaseSeconds", "REELS_JOB_RETRY_BASE_SECONDS", default: 10, in: 1...3600)
        worker.transcodeTimeoutSeconds = try Self.integer(
            reader, "reels.transcode.timeoutSeconds", "REELS_TRANSCODE_TIMEOUT_SECONDS", default: 900, in: 10...86_400)
        worker.workDirectory = reader.string(forKey: "reels.workDir").flatMap { $0.isEmpty ? nil : $0 }
        reels.worker = worker
    }

    /// The feed's limit on new sessions (`REELS_FEED_*`; docs/reels.md, "Feed").
    private mutating func loadReelsFeed(from reader: ConfigReader) throws {
        reels.feed.sessionsPerMinute = try Self.integer(
            reader, "reels.feed.sessionsPerMinute", "REELS_FEED_SESSIONS_PER_MINUTE", default: 30, in: 1...10_000)
        reels.feed.anonymousSessionsPerMinute = try Self.integer(
            reader, "reels.feed.anonymousSessionsPerMinute", "REELS_FEED_ANONYMOUS_SESSIONS_PER_MINUTE", default: 30, in: 1...10_000)
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

    /// The admin console (`ADMIN_*`; docs/admin.md).
    private mutating func loadAdmin(from reader: ConfigReader) throws {
        admin.sessionMinutes = try Self.integer(reader, "admin.sessionMinutes", "ADMIN_SESSION_MINUTES", default: 30, in: 1...240)
        admin.auditAnchorSeconds = try Self.integer(
            reader, "admin.auditAnchorSeconds", "ADMIN_AUDIT_ANCHOR_SECONDS", default: 3600, in: 0...604_800)
        let configured = reader.string(forKey: "admin.totpIssuer")?.trimmingCharacters(in: .whitespaces) ?? ""
        let issuer = configured.isEmpty ? admin.totpIssuer : configured
        guard (1...40).contains(issuer.count), !issuer.contains(":") else {
            throw ConfigurationError("ADMIN_TOTP_ISSUER must be 1 to 40 characters without ':', not '\(issuer)'")
        }
        admin.totpIssuer = issuer
    }

    private static func integer(_ reader: ConfigReader, _ key: ConfigKey, _ name: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = reader.string(forKey: key), !text.isEmpty else { return value }
        guard let number = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
            throw ConfigurationError("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return number
    }
}

/// A configuration value that cannot be used; the message names the variable.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
