@testable import App
import Configuration
import Testing

/// Configuration errors name the variable and the rule; settings that belong together
/// are refused alone.
@Suite struct AppConfigTests {
    static func load(_ environment: [String: String]) throws -> AppConfig {
        try AppConfig.load(from: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment)))
    }

    static func refusal(_ environment: [String: String]) -> String? {
        do {
            _ = try load(environment)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func defaultsServeEverythingWithTheBuiltInAssistantAndNoTURN() throws {
        let config = try Self.load([:])
        #expect(config.roles == [.api, .calls, .worker, .arbiter])
        #expect(config.assistant.provider == nil)
        #expect(config.calls.turn == nil)
        #expect(config.calls.resumeGrace == .seconds(30))
        #expect(config.assistant.ratePerMinute == 10)
    }

    @Test func anEmptyWebAssetCacheTurnsTheCacheOff() throws {
        #expect(try Self.load([:]).webAssetCacheDirectory == nil)
        let off = try Self.load(["WEB_ASSET_CACHE_DIR": ""]).webAssetCacheDirectory
        #expect(off == "" && CompressionCache.resolve(configured: off) == nil)
        #expect(try Self.load(["WEB_ASSET_CACHE_DIR": "/var/cache/ecomansoni"]).webAssetCacheDirectory == "/var/cache/ecomansoni")
    }

    @Test func settingsAreRead() throws {
        let config = try Self.load([
            "SERVER_ROLES": "calls", "CALLS_RESUME_GRACE_SECONDS": "3", "CALLS_MAX_ROOM_PEERS": "4",
            "TURN_URLS": "stun:t.example:3478, turn:t.example:3478?transport=udp", "TURN_SHARED_SECRET": "0123456789abcdef",
            "TURN_TTL_SECONDS": "600", "LLM_BASE_URL": "http://127.0.0.1:9/v1/", "LLM_API_KEY": "k", "LLM_MODEL": "m",
            "ASSISTANT_RATE_PER_MINUTE": "3", "DATABASE_TABLES_MAX_CONNECTIONS": "3",
        ])
        #expect(config.roles == [.calls])
        #expect(config.calls.resumeGrace == .seconds(3))
        #expect(config.calls.maximumRoomPeers == 4)
        #expect(config.calls.turn?.urls == ["stun:t.example:3478", "turn:t.example:3478?transport=udp"])
        #expect(config.calls.turn?.ttlSeconds == 600)
        #expect(config.assistant.provider?.baseURL == "http://127.0.0.1:9/v1")
        #expect(config.assistant.ratePerMinute == 3)
        #expect(config.databaseTablesMaxConnections == 3)
    }

    @Test(arguments: [
        (["LLM_BASE_URL": "http://x/v1"], "LLM_BASE_URL, LLM_API_KEY and LLM_MODEL must be set together"),
        (["LLM_BASE_URL": "ftp://x", "LLM_API_KEY": "k", "LLM_MODEL": "m"], "LLM_BASE_URL must be an http(s) URL"),
        (["TURN_URLS": "turn:x:3478"], "TURN_URLS and TURN_SHARED_SECRET must be set together"),
        (["TURN_URLS": "http://x", "TURN_SHARED_SECRET": "0123456789abcdef"], "TURN_URLS entries must start with"),
        (["TURN_URLS": "turn:x", "TURN_SHARED_SECRET": "short"], "TURN_SHARED_SECRET must be at least 16 characters"),
        (["TURN_TTL_SECONDS": "30"], "TURN_TTL_SECONDS must be an integer from 60 to 86400"),
        (["SERVER_ROLES": "api,media"], "SERVER_ROLES (--roles) must list api, calls, worker, arbiter or all"),
        (["CALLS_RESUME_GRACE_SECONDS": "0"], "CALLS_RESUME_GRACE_SECONDS must be an integer"),
        (["ASSISTANT_RATE_PER_MINUTE": "lots"], "ASSISTANT_RATE_PER_MINUTE must be an integer"),
        (["MESSAGE_BUS": "kafka"], "MESSAGE_BUS must be auto, inprocess, postgres or redis, not 'kafka'"),
        (["MESSAGE_BUS": "redis"], "MESSAGE_BUS=redis needs REDIS_URL"),
        (["REDIS_URL": "http://cache:6379"], "REDIS_URL must start with redis:// or rediss://"),
        (["AUTH_SMS_DELIVERY": "sms"], "AUTH_SMS_DELIVERY must be log or webhook, not 'sms'"),
        (["AUTH_SMS_DELIVERY": "webhook"], "AUTH_SMS_WEBHOOK_URL must be an http(s) URL when AUTH_SMS_DELIVERY=webhook"),
        (
            ["AUTH_SMS_DELIVERY": "webhook", "AUTH_SMS_WEBHOOK_URL": "https://sms.example/send", "AUTH_SMS_WEBHOOK_SECRET": "short"],
            "AUTH_SMS_WEBHOOK_SECRET must be at least 16 characters when AUTH_SMS_DELIVERY=webhook"
        ),
        (["STORAGE_BACKEND": "ftp"], "STORAGE_BACKEND must be local or s3, not 'ftp'"),
        (["STORAGE_BACKEND": "s3"], "STORAGE_BACKEND=s3: "),
        (["ADMIN_TOTP_ISSUER": "a:b"], "ADMIN_TOTP_ISSUER must be 1 to 40 characters without ':'"),
        (["REALTIME_MAX_SOCKETS_PER_USER": "0"], "REALTIME_MAX_SOCKETS_PER_USER must be an integer from 1 to 10000, not '0'"),
        (["HTTP_MAX_HEADER_BYTES": "100"], "HTTP_MAX_HEADER_BYTES must be an integer from 1024 to 1048576, not '100'"),
        (["DATABASE_TABLES_MAX_CONNECTIONS": "0"], "DATABASE_TABLES_MAX_CONNECTIONS must be an integer from 1 to 500, not '0'"),
    ])
    func invalidSettingsNameTheVariable(environment: [String: String], message: String) {
        #expect(Self.refusal(environment)?.contains(message) == true, "\(Self.refusal(environment) ?? "accepted")")
    }

    @Test func aWebhookDeliveryCarriesItsURLAndSecret() throws {
        let config = try Self.load([
            "AUTH_SMS_DELIVERY": "webhook", "AUTH_SMS_WEBHOOK_URL": "https://sms.example/send",
            "AUTH_SMS_WEBHOOK_SECRET": "0123456789abcdef",
        ])
        #expect(config.otpDelivery == .webhook(url: "https://sms.example/send", secret: "0123456789abcdef"))
        #expect(try Self.load([:]).otpDelivery == .log)
    }

    /// `MESSAGE_BUS=auto` never leaves instances that share a database on the in-process bus.
    @Test(arguments: [
        ([:], AppConfig.MessageBusKind.inprocess),
        (["DATABASE_URL": "postgres://db/app"], .postgres),
        (["REDIS_URL": "redis://cache:6379"], .redis),
        (["DATABASE_URL": "postgres://db/app", "REDIS_URL": "redis://cache:6379"], .redis),
        (["DATABASE_URL": "postgres://db/app", "MESSAGE_BUS": "inprocess"], .inprocess),
        (["REDIS_URL": "redis://cache:6379", "MESSAGE_BUS": "postgres"], .postgres),
    ])
    func theBusFollowsTheDeployment(environment: [String: String], expected: AppConfig.MessageBusKind) throws {
        #expect(try Self.load(environment).resolvedMessageBus == expected)
    }

    @Test func aRedisURLRefusalNeverEchoesItsPassword() {
        let refusal = Self.refusal(["REDIS_URL": "redis://app:hunter2@cache:notaport"]) ?? "accepted"
        #expect(refusal.contains("REDIS_URL"), "\(refusal)")
        #expect(!refusal.contains("hunter2"), "\(refusal)")
    }
}
