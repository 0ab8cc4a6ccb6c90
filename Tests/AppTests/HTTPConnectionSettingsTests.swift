@testable import App
import Configuration
import Testing

/// The HTTP connection limits and the database acquire timeout (docs/configuration.md).
@Suite struct HTTPConnectionSettingsTests {
    static func load(_ environment: [String: String]) throws -> AppConfig {
        try AppConfig.load(from: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment)))
    }

    @Test func defaults() throws {
        let config = try Self.load([:])
        #expect(config.http.headerTimeoutSeconds == 10)
        #expect(config.http.idleTimeoutSeconds == 60)
        #expect(config.http.maximumConnectionsPerAddress == 256)
        #expect(config.http.maximumHeaderBytes == 32 * 1024)
        #expect(config.databaseAcquireTimeoutSeconds == 5)
    }

    @Test func behindAProxyThePerAddressCapIsOffUnlessSet() throws {
        #expect(try Self.load(["TRUST_PROXY": "true"]).http.maximumConnectionsPerAddress == 0)
        #expect(try Self.load(["TRUST_PROXY": "true", "HTTP_MAX_CONNECTIONS_PER_ADDRESS": "1000"]).http.maximumConnectionsPerAddress == 1000)
    }

    @Test func settingsAreRead() throws {
        let config = try Self.load([
            "HTTP_HEADER_TIMEOUT_SECONDS": "3", "HTTP_IDLE_TIMEOUT_SECONDS": "4", "HTTP_MAX_CONNECTIONS_PER_ADDRESS": "0",
            "HTTP_MAX_HEADER_BYTES": "8192", "DATABASE_ACQUIRE_TIMEOUT_SECONDS": "2",
        ])
        #expect(config.http.headerTimeoutSeconds == 3)
        #expect(config.http.idleTimeoutSeconds == 4)
        #expect(config.http.maximumConnectionsPerAddress == 0)
        #expect(config.http.maximumHeaderBytes == 8192)
        #expect(config.databaseAcquireTimeoutSeconds == 2)
        #expect(config.http.http1Configuration.httpDecoder.maxHeaderListSize == 8192)
        #expect(config.http.http1Configuration.idleTimeout == .seconds(4))
    }

    @Test(arguments: [
        ("HTTP_HEADER_TIMEOUT_SECONDS", "0", "HTTP_HEADER_TIMEOUT_SECONDS must be an integer from 1 to 600"),
        ("HTTP_IDLE_TIMEOUT_SECONDS", "never", "HTTP_IDLE_TIMEOUT_SECONDS must be an integer from 1 to 3600"),
        ("HTTP_MAX_CONNECTIONS_PER_ADDRESS", "-1", "HTTP_MAX_CONNECTIONS_PER_ADDRESS must be an integer from 0 to 1000000"),
        ("HTTP_MAX_HEADER_BYTES", "100", "HTTP_MAX_HEADER_BYTES must be an integer from 1024 to 1048576"),
        ("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "0", "DATABASE_ACQUIRE_TIMEOUT_SECONDS must be an integer from 1 to 300"),
    ])
    func invalidValuesNameTheVariable(variable: String, value: String, message: String) {
        do {
            _ = try Self.load([variable: value])
            Issue.record("\(variable)=\(value) was accepted")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }
}
