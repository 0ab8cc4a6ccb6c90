import Configuration
import Core
import Testing

/// The helpers every module's `Settings(reader:)` reads through: the variable's environment
/// name is what the error names, unset and empty mean the default, and nothing outside the
/// rule is taken.
@Suite struct ConfigReaderSettingsTests {
    private static func reader(_ environment: [String: String]) -> ConfigReader {
        ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment))
    }

    private static func refusal(_ body: () throws -> Any) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func integersKeepTheirDefaultWhenUnsetOrEmptyAndMustLieInTheRange() throws {
        let read = { (environment: [String: String]) in
            try Self.reader(environment).integer("calls.heartbeatSeconds", variable: "CALLS_HEARTBEAT_SECONDS", default: 25, in: 1...600)
        }
        #expect(try read([:]) == 25)
        #expect(try read(["CALLS_HEARTBEAT_SECONDS": ""]) == 25)
        #expect(try read(["CALLS_HEARTBEAT_SECONDS": " 600 "]) == 600)
        #expect(try read(["CALLS_HEARTBEAT_SECONDS": "1"]) == 1)
        for bad in ["0", "601", "ten", "1e3", "99999999999999999999999", "-1", "5s"] {
            #expect(
                Self.refusal { try read(["CALLS_HEARTBEAT_SECONDS": bad]) }
                    == "CALLS_HEARTBEAT_SECONDS must be an integer from 1 to 600, not '\(bad)'")
        }
    }

    @Test func secondsAreDurations() throws {
        let reader = Self.reader(["CALLS_ROOM_LINGER_SECONDS": "0"])
        #expect(try reader.seconds("calls.roomLingerSeconds", variable: "CALLS_ROOM_LINGER_SECONDS", default: 5, in: 0...3600) == .zero)
        #expect(try Self.reader([:]).seconds("calls.roomLingerSeconds", variable: "CALLS_ROOM_LINGER_SECONDS", default: 5, in: 0...3600) == .seconds(5))
    }

    @Test func listsAreTrimmedAndSkipEmptyEntries() {
        #expect(Self.reader(["REALTIME_OPEN_TOPICS": " public-, ,lobby: ,,"]).list("realtime.openTopics") == ["public-", "lobby:"])
        #expect(Self.reader([:]).list("realtime.openTopics") == [])
        #expect(Self.reader(["REALTIME_OPEN_TOPICS": ""]).nonEmptyString("realtime.openTopics") == nil)
    }
}
