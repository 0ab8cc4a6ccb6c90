import Configuration

extension RedisConfiguration {
    /// `REDIS_URL` parsed by ``init(url:)``; nil when it is unset or empty.
    public init?(reader: ConfigReader) throws(RedisConfigurationError) {
        guard let url = reader.string(forKey: "redis.url", isSecret: true), !url.isEmpty else { return nil }
        try self.init(url: url)
    }
}
