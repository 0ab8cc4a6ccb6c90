import Configuration
import Core

extension CallsSettings {
    /// Reads the calls service's variables (docs/configuration.md, "Calls"): `CALLS_*` and the
    /// TURN relay's `TURN_URLS`, `TURN_SHARED_SECRET` (set together) and `TURN_TTL_SECONDS`.
    /// Each error names the variable and the rule.
    public init(reader: ConfigReader) throws {
        self.init()
        resumeGrace = try reader.seconds("calls.resumeGraceSeconds", variable: "CALLS_RESUME_GRACE_SECONDS", default: 30, in: 1...3600)
        authTimeout = try reader.seconds("calls.authTimeoutSeconds", variable: "CALLS_AUTH_TIMEOUT_SECONDS", default: 10, in: 1...300)
        heartbeatSeconds = try reader.integer("calls.heartbeatSeconds", variable: "CALLS_HEARTBEAT_SECONDS", default: 25, in: 1...600)
        roomLinger = try reader.seconds("calls.roomLingerSeconds", variable: "CALLS_ROOM_LINGER_SECONDS", default: 5, in: 0...3600)
        joinTokenTTLSeconds = try reader.integer("calls.joinTokenTtlSeconds", variable: "CALLS_JOIN_TOKEN_TTL_SECONDS", default: 600, in: 10...86_400)
        maximumConnectionsPerAddress = try reader.integer(
            "calls.maxConnectionsPerAddress", variable: "CALLS_MAX_CONNECTIONS_PER_ADDRESS", default: 20, in: 1...100_000)
        maximumRoomPeers = try reader.integer("calls.maxRoomPeers", variable: "CALLS_MAX_ROOM_PEERS", default: 50, in: 2...1000)
        requireSecureTransport = reader.bool(forKey: "calls.requireSecureTransport") ?? false
        turn = try TurnSettings(reader: reader)
        sfu = try SfuSettings(reader: reader)
    }
}

extension TurnSettings {
    /// `TURN_URLS` and `TURN_SHARED_SECRET` (both or neither: nil when neither is set) and `TURN_TTL_SECONDS`.
    public init?(reader: ConfigReader) throws {
        let urls = reader.list("turn.urls")
        let secret = reader.nonEmptyString("turn.shared.secret", isSecret: true)
        let ttl = try reader.integer("turn.ttl.seconds", variable: "TURN_TTL_SECONDS", default: 3600, in: 60...86_400)
        for url in urls where !["turn:", "turns:", "stun:", "stuns:"].contains(where: { url.hasPrefix($0) }) {
            throw ConfigurationError("TURN_URLS entries must start with turn:, turns:, stun: or stuns: (not '\(url)')")
        }
        switch (urls.isEmpty, secret) {
        case (true, nil):
            return nil
        case (false, let secret?):
            guard secret.count >= 16 else { throw ConfigurationError("TURN_SHARED_SECRET must be at least 16 characters") }
            self.init(urls: urls, sharedSecret: secret, ttlSeconds: ttl)
        default:
            throw ConfigurationError("TURN_URLS and TURN_SHARED_SECRET must be set together")
        }
    }
}
