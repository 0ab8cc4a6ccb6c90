@testable import App
import Testing

/// The `REALTIME_*` settings (docs/configuration.md): read, defaulted, and refused by name.
@Suite struct RealtimeSettingsTests {
    @Test func defaultsAreTheDocumentedOnes() throws {
        let limits = try AppConfigTests.load([:]).realtime
        #expect(limits.openTopicPrefixes.isEmpty)
        #expect(limits.bindingsPerChannel == 10 && limits.presenceMetaBytes == 1024)
        #expect(limits.presencesPerKey == 10 && limits.presencesPerTopic == 1000)
        #expect(limits.socketsPerAddress == 64 && limits.socketsPerUser == 16)
        #expect(limits.idleTimeoutSeconds == 60)
    }

    @Test func settingsAreRead() throws {
        let limits = try AppConfigTests.load([
            "REALTIME_OPEN_TOPICS": " public-, lobby: ,,", "REALTIME_MAX_BINDINGS_PER_CHANNEL": "3",
            "REALTIME_MAX_PRESENCE_META_BYTES": "256", "REALTIME_MAX_PRESENCES_PER_KEY": "2",
            "REALTIME_MAX_PRESENCES_PER_TOPIC": "50", "REALTIME_MAX_SOCKETS_PER_ADDRESS": "5", "REALTIME_MAX_SOCKETS_PER_USER": "4",
            "REALTIME_IDLE_TIMEOUT_SECONDS": "5",
        ]).realtime
        #expect(limits.openTopicPrefixes == ["public-", "lobby:"])
        #expect(limits.bindingsPerChannel == 3 && limits.presenceMetaBytes == 256)
        #expect(limits.presencesPerKey == 2 && limits.presencesPerTopic == 50)
        #expect(limits.socketsPerAddress == 5 && limits.socketsPerUser == 4)
        #expect(limits.idleTimeoutSeconds == 5)
    }

    @Test(arguments: [
        ("REALTIME_MAX_BINDINGS_PER_CHANNEL", "0"), ("REALTIME_MAX_BINDINGS_PER_CHANNEL", "101"),
        ("REALTIME_MAX_PRESENCE_META_BYTES", "1e300"), ("REALTIME_MAX_PRESENCES_PER_KEY", "-1"),
        ("REALTIME_MAX_PRESENCES_PER_TOPIC", "x"), ("REALTIME_MAX_SOCKETS_PER_ADDRESS", "0"), ("REALTIME_MAX_SOCKETS_PER_USER", "10001"),
        ("REALTIME_IDLE_TIMEOUT_SECONDS", "4"), ("REALTIME_IDLE_TIMEOUT_SECONDS", "3601"),
    ])
    func badValuesAreRefusedByName(_ name: String, _ value: String) {
        #expect(AppConfigTests.refusal([name: value])?.hasPrefix("\(name) must be an integer") == true)
    }

    @Test func theChangeLogSettingsAreReadAndDefaulted() throws {
        let defaults = try AppConfigTests.load([:]).changeCapture
        #expect(defaults.instanceName == nil && defaults.retention == .seconds(3_600))
        #expect(defaults.pollInterval == .milliseconds(25) && defaults.resumeGrace == .milliseconds(3_000))
        let set = try AppConfigTests.load([
            "REALTIME_INSTANCE_NAME": "eu-1", "REALTIME_CHANGE_RETENTION_SECONDS": "60", "REALTIME_CHANGE_POLL_MS": "5000",
            "REALTIME_RESUME_GRACE_MS": "0",
        ]).changeCapture
        #expect(set.instanceName == "eu-1" && set.retention == .seconds(60))
        #expect(set.pollInterval == .milliseconds(5_000) && set.resumeGrace == .zero)
        // 200 code points (as PostgreSQL counts) fit, whatever Swift's characters say.
        let combining = String(repeating: "e\u{301}", count: 100)
        #expect(try AppConfigTests.load(["REALTIME_INSTANCE_NAME": combining]).changeCapture.instanceName == combining)
        #expect(AppConfigTests.refusal(["REALTIME_INSTANCE_NAME": combining + "x"]) == "REALTIME_INSTANCE_NAME must be at most 200 characters")
    }

    @Test(arguments: [
        ("REALTIME_CHANGE_RETENTION_SECONDS", "59"), ("REALTIME_CHANGE_RETENTION_SECONDS", "604801"), ("REALTIME_CHANGE_POLL_MS", "4"),
        ("REALTIME_CHANGE_POLL_MS", "5001"), ("REALTIME_RESUME_GRACE_MS", "-1"), ("REALTIME_RESUME_GRACE_MS", "60001"),
    ])
    func badChangeLogValuesAreRefusedByName(_ name: String, _ value: String) {
        #expect(AppConfigTests.refusal([name: value])?.hasPrefix("\(name) must be an integer") == true)
    }
}
