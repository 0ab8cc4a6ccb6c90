import App
import ArgumentParser
import Database
import Foundation
import Logging
import Reels

/// `ecomansoni reels …`: operator commands of the reels feature.
struct ReelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reels",
        abstract: "Reels operator commands.",
        subcommands: [Config.self])

    /// `ecomansoni reels config validate|activate <file>`: the feed's ranking config.
    struct Config: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate or activate a feed ranking config (JSON; docs/reels.md, \"Feed\").",
            subcommands: [Validate.self, Activate.self])
    }

    /// Checks a file without touching any database: exit 0 valid (warnings on stderr), 1 not.
    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a config file: exit 0 if it could be activated, 1 if not.")

        @Argument(help: "The config file (JSON).")
        var file: String

        func run() async throws {
            _ = try ReelsCommand.validated(file)
            print("valid: \(file)")
        }
    }

    /// Validates, stores as the next version and makes it active (one transaction).
    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a config file, store it as the next version and make it the active one.")

        @OptionGroup var common: CommonOptions

        @Argument(help: "The config file (JSON).")
        var file: String

        func run() async throws {
            let validated = try ReelsCommand.validated(file)
            let config = try common.load(extra: ["LOG_LEVEL": ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? "warning"])
            let logger = Logger(label: "ecomansoni")
            let body = validated.config.body.jsonText
            try await reportingErrors {
                let version = try await Server.withMigratedDatabase(config: config, logger: logger) { database, _ in
                    try await database.withOwner { connection in
                        var version = 0
                        for try await value in try await connection.rows(
                            "SELECT reels.activate_feed_config($1::jsonb)", [body]
                        ).decode(Int.self) {
                            version = value
                        }
                        return version
                    }
                }
                print("active feed config: version \(version)")
            }
        }
    }

    /// The file's config, or exit 1 with the field and rule on stderr; warnings go to stderr.
    static func validated(_ path: String) throws -> FeedConfig.Validated {
        guard let data = FileManager.default.contents(atPath: path) else {
            FileHandle.standardError.write(Data("error: cannot read \(path)\n".utf8))
            throw ExitCode.failure
        }
        do {
            let validated = try FeedConfig.validate(data)
            for warning in validated.warnings {
                FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
            }
            return validated
        } catch let error as FeedConfigError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
    }
}
