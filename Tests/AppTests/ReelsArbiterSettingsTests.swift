@testable import App
import Configuration
import Reels
import Testing

/// The Reels Arbiter's `REELS_ARBITER_*` settings (docs/configuration.md; docs/reels.md "Arbiter").
@Suite struct ReelsArbiterSettingsTests {
    static func load(_ environment: [String: String]) throws -> AppConfig {
        try AppConfig.load(from: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment)))
    }

    @Test func defaultsAreTheSpecsThresholds() throws {
        let arbiter = try Self.load([:]).reels.arbiter
        #expect(arbiter == ArbiterSettings())
        #expect(arbiter.intervalSeconds == 30)
        #expect(arbiter.suppressLagSeconds == 900)
        #expect(arbiter.clearLagSeconds == 180)
        #expect(arbiter.greenStreakSeconds == 720)
        #expect(arbiter.minimumSuppressionSeconds == 600)
        #expect(arbiter.trafficFloor == 20)
        #expect(arbiter.trafficWindowSeconds == 300)
    }

    @Test func settingsAreRead() throws {
        let arbiter = try Self.load([
            "REELS_ARBITER_INTERVAL_SECONDS": "1", "REELS_ARBITER_SUPPRESS_LAG_SECONDS": "30", "REELS_ARBITER_CLEAR_LAG_SECONDS": "5",
            "REELS_ARBITER_GREEN_STREAK_SECONDS": "3", "REELS_ARBITER_MIN_SUPPRESSION_SECONDS": "4", "REELS_ARBITER_TRAFFIC_FLOOR": "0",
            "REELS_ARBITER_TRAFFIC_WINDOW_SECONDS": "86400",
        ]).reels.arbiter
        #expect(arbiter.intervalSeconds == 1)
        #expect(arbiter.suppressLagSeconds == 30)
        #expect(arbiter.clearLagSeconds == 5)
        #expect(arbiter.greenStreakSeconds == 3)
        #expect(arbiter.minimumSuppressionSeconds == 4)
        #expect(arbiter.trafficFloor == 0)
        #expect(arbiter.trafficWindowSeconds == 86400)
        #expect(arbiter.policy.maximumGapSeconds == 60)
    }

    @Test(arguments: [
        ("REELS_ARBITER_INTERVAL_SECONDS", "0", "REELS_ARBITER_INTERVAL_SECONDS must be an integer from 1 to 3600"),
        ("REELS_ARBITER_INTERVAL_SECONDS", "3601", "REELS_ARBITER_INTERVAL_SECONDS must be an integer from 1 to 3600"),
        ("REELS_ARBITER_SUPPRESS_LAG_SECONDS", "86401", "REELS_ARBITER_SUPPRESS_LAG_SECONDS must be an integer from 1 to 86400"),
        ("REELS_ARBITER_CLEAR_LAG_SECONDS", "-1", "REELS_ARBITER_CLEAR_LAG_SECONDS must be an integer from 0 to 86400"),
        ("REELS_ARBITER_GREEN_STREAK_SECONDS", "soon", "REELS_ARBITER_GREEN_STREAK_SECONDS must be an integer from 0 to 86400"),
        ("REELS_ARBITER_MIN_SUPPRESSION_SECONDS", "86401", "REELS_ARBITER_MIN_SUPPRESSION_SECONDS must be an integer from 0 to 86400"),
        ("REELS_ARBITER_TRAFFIC_FLOOR", "1000000001", "REELS_ARBITER_TRAFFIC_FLOOR must be an integer from 0 to 1000000000"),
        ("REELS_ARBITER_TRAFFIC_WINDOW_SECONDS", "9", "REELS_ARBITER_TRAFFIC_WINDOW_SECONDS must be an integer from 10 to 86400"),
        ("REELS_ARBITER_CLEAR_LAG_SECONDS", "900", "REELS_ARBITER_CLEAR_LAG_SECONDS must be below REELS_ARBITER_SUPPRESS_LAG_SECONDS"),
    ])
    func outOfRangeValuesAreRefusedByName(name: String, value: String, message: String) throws {
        #expect {
            _ = try Self.load([name: value])
        } throws: { error in
            "\(error)".contains(message)
        }
    }
}
