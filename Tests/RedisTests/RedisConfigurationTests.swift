import Testing
@testable import Redis

/// `REDIS_URL` parsing: accepted forms and refusals that name REDIS_URL and never show the password.
@Suite struct RedisConfigurationTests {
    @Test func defaults() throws {
        let configuration = try RedisConfiguration(url: "redis://cache")
        #expect(configuration.host == "cache")
        #expect(configuration.port == 6379)
        #expect(configuration.database == 0)
        #expect(configuration.username == nil)
        #expect(configuration.password == nil)
        #expect(configuration.tls == false)
        #expect(configuration.connectTimeout == .seconds(5))
        #expect(configuration.commandTimeout == .seconds(5))
        #expect(configuration.poolSize == 8)
        #expect(configuration.tlsCertificateVerification == .full)
        #expect(configuration.target == "cache:6379/0")
    }

    @Test func everyPart() throws {
        let configuration = try RedisConfiguration(
            url: "rediss://app:s%40cr%3At@redis.internal:6380/2?connectTimeout=250&commandTimeout=1500&poolSize=3&tlsVerify=none")
        #expect(configuration.host == "redis.internal")
        #expect(configuration.port == 6380)
        #expect(configuration.username == "app")
        #expect(configuration.password == "s@cr:t")
        #expect(configuration.database == 2)
        #expect(configuration.tls)
        #expect(configuration.tlsCertificateVerification == .none)
        #expect(configuration.connectTimeout == .milliseconds(250))
        #expect(configuration.commandTimeout == .milliseconds(1500))
        #expect(configuration.poolSize == 3)
        #expect(configuration.target == "redis.internal:6380/2")
        #expect(!configuration.target.contains("s@cr"))
    }

    @Test func passwordOnlyMeansTheDefaultUser() throws {
        let configuration = try RedisConfiguration(url: "redis://:pa55@localhost/")
        #expect(configuration.username == nil)
        #expect(configuration.password == "pa55")
        #expect(configuration.database == 0)
    }

    @Test func anUnencodedSlashOrAtInThePasswordStillParses() throws {
        let configuration = try RedisConfiguration(url: "redis://u:a/b@c?d@10.0.0.5:7000/1")
        #expect(configuration.username == "u")
        #expect(configuration.password == "a/b@c?d")
        #expect(configuration.host == "10.0.0.5")
        #expect(configuration.port == 7000)
        #expect(configuration.database == 1)
    }

    @Test func ipv6() throws {
        let configuration = try RedisConfiguration(url: "redis://[::1]:7001/4")
        #expect(configuration.host == "::1")
        #expect(configuration.port == 7001)
        #expect(configuration.target == "[::1]:7001/4")
    }

    @Test func caFile() throws {
        let configuration = try RedisConfiguration(url: "rediss://h?tlsCAFile=/etc/ssl/redis%20ca.pem")
        #expect(configuration.tlsCAFile == "/etc/ssl/redis ca.pem")
    }

    @Test(arguments: [
        ("http://u:hunter2@host", "REDIS_URL must start with redis:// or rediss://, not 'http://…'"),
        ("host:6379", "REDIS_URL must start with redis:// or rediss:// (no scheme found)"),
        ("redis://", "REDIS_URL has no host"),
        ("redis://:hunter2@", "REDIS_URL has no host"),
        ("redis://:hunter2@:6379", "REDIS_URL has no host"),
        ("redis://host:abc", "REDIS_URL port must be a number from 1 to 65535"),
        ("redis://user:hunter2", "REDIS_URL port must be a number from 1 to 65535"),
        ("redis://host:0", "REDIS_URL port must be a number from 1 to 65535, not '0'"),
        ("redis://host:70000", "REDIS_URL port must be a number from 1 to 65535, not '70000'"),
        ("redis://host/x1", "REDIS_URL database (the path) must be a number from 0, not 'x1'"),
        ("redis://host/-1", "REDIS_URL database (the path) must be a number from 0, not '-1'"),
        ("redis://ho st", "REDIS_URL host 'ho st' has a character not allowed in a host name"),
        ("redis://[::1", "REDIS_URL IPv6 host must be closed by ']'"),
        ("redis://host#frag", "REDIS_URL must not contain a fragment ('#')"),
        ("redis://app@host", "REDIS_URL has a user name but no password; write redis://user:password@host"),
        ("redis://app:%zzhunter2@host", "REDIS_URL password has an invalid percent-escape"),
        ("redis://host?poolSize=0", "REDIS_URL option poolSize must be a number from 1 to 1024, not '0'"),
        ("redis://host?commandTimeout=fast", "REDIS_URL option commandTimeout must be a number from 1 to 3600000, not 'fast'"),
        ("redis://host?connectTimeout=", "REDIS_URL option connectTimeout must be a number from 1 to 3600000, not ''"),
        ("redis://host?tlsVerify=none", "REDIS_URL option tlsVerify applies to rediss:// only"),
        ("rediss://host?tlsVerify=maybe", "REDIS_URL option tlsVerify must be full or none, not 'maybe'"),
        ("redis://:hunter2@host?timeout=5",
         "REDIS_URL has an unknown option 'timeout' (known: connectTimeout, commandTimeout, poolSize, tlsVerify, tlsCAFile)"),
    ])
    func refusedForms(url: String, message: String) {
        #expect(throws: RedisConfigurationError(message)) {
            try RedisConfiguration(url: url)
        }
        do {
            _ = try RedisConfiguration(url: url)
        } catch {
            #expect(error.description.contains("REDIS_URL"))
            #expect(!error.description.contains("hunter2"))
        }
    }
}
