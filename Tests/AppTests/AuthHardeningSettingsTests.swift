@testable import App
import Configuration
import Testing

/// The auth hardening settings of issue 11 item 7 (docs/configuration.md).
@Suite struct AuthHardeningSettingsTests {
    static func load(_ environment: [String: String]) throws -> AppConfig {
        try AppConfig.load(from: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment)))
    }

    @Test func defaults() throws {
        let auth = try Self.load([:]).auth
        #expect(auth.userMetadataMaxBytes == 4096)
        #expect(auth.phoneChangeBurst == 5)
        #expect(auth.phoneChangesPerHour == 10)
    }

    @Test func settingsAreRead() throws {
        let auth = try Self.load([
            "AUTH_USER_METADATA_MAX_BYTES": "1024", "AUTH_PHONE_CHANGE_BURST": "2", "AUTH_PHONE_CHANGE_PER_HOUR": "30",
        ]).auth
        #expect(auth.userMetadataMaxBytes == 1024)
        #expect(auth.phoneChangeBurst == 2)
        #expect(auth.phoneChangesPerHour == 30)
    }

    @Test(arguments: [
        ("AUTH_USER_METADATA_MAX_BYTES", "1", "AUTH_USER_METADATA_MAX_BYTES must be an integer from 2 to 65536"),
        ("AUTH_PHONE_CHANGE_BURST", "0", "AUTH_PHONE_CHANGE_BURST must be an integer from 1 to 10000"),
        ("AUTH_PHONE_CHANGE_PER_HOUR", "0", "AUTH_PHONE_CHANGE_PER_HOUR must be an integer from 1 to 1000000"),
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
