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
    }

    @Test func settingsAreRead() throws {
        let limits = try AppConfigTests.load([
            "REALTIME_OPEN_TOPICS": " public-, lobby: ,,", "REALTIME_MAX_BINDINGS_PER_CHANNEL": "3",
            "REALTIME_MAX_PRESENCE_META_BYTES": "256", "REALTIME_MAX_PRESENCES_PER_KEY": "2",
            "REALTIME_MAX_PRESENCES_PER_TOPIC": "50", "REALTIME_MAX_SOCKETS_PER_ADDRESS": "5", "REALTIME_MAX_SOCKETS_PER_USER": "4",
        ]).realtime
        #expect(limits.openTopicPrefixes == ["public-", "lobby:"])
        #expect(limits.bindingsPerChannel == 3 && limits.presenceMetaBytes == 256)
        #expect(limits.presencesPerKey == 2 && limits.presencesPerTopic == 50)
        #expect(limits.socketsPerAddress == 5 && limits.socketsPerUser == 4)
    }

    @Test(arguments: [
        ("REALTIME_MAX_BINDINGS_PER_CHANNEL", "0"), ("REALTIME_MAX_BINDINGS_PER_CHANNEL", "101"),
        ("REALTIME_MAX_PRESENCE_META_BYTES", "1e300"), ("REALTIME_MAX_PRESENCES_PER_KEY", "-1"),
        ("REALTIME_MAX_PRESENCES_PER_TOPIC", "x"), ("REALTIME_MAX_SOCKETS_PER_ADDRESS", "0"), ("REALTIME_MAX_SOCKETS_PER_USER", "10001"),
    ])
    func badValuesAreRefusedByName(_ name: String, _ value: String) {
        #expect(AppConfigTests.refusal([name: value])?.hasPrefix("\(name) must be an integer") == true)
    }
}
