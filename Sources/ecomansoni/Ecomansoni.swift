import App
import ArgumentParser
import Core
import Configuration
import Foundation
import Logging

/// The `ecomansoni` command line: argument parsing only; the work lives in `App`.
@main
struct Ecomansoni: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ecomansoni",
        abstract: "The ECOMANSONI super-app server.",
        subcommands: [Serve.self, Migrate.self, Keys.self, LintMigrations.self, Osago.self, ReelsCommand.self, AdminCommand.self, AuditCommand.self, BenchLimits.self],
        defaultSubcommand: Serve.self)
}

/// Options every command shares; flags override the environment.
struct CommonOptions: ParsableArguments {
    @Option(help: "Data directory for the embedded PostgreSQL (env ECOMANSONI_DATA_DIR).")
    var dataDir: String?

    @Option(help: "Use this PostgreSQL server instead of the embedded one (env DATABASE_URL).")
    var databaseURL: String?

    /// The configuration from the environment with these flags applied.
    func load(extra: [String: String] = [:]) throws -> AppConfig {
        var environment = ProcessInfo.processInfo.environment
        if let dataDir { environment["ECOMANSONI_DATA_DIR"] = dataDir }
        if let databaseURL { environment["DATABASE_URL"] = databaseURL }
        environment.merge(extra) { $1 }
        do {
            let config = try AppConfig.load(from: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment)))
            LoggingSetup.bootstrap(format: config.logFormat, level: config.logLevel)
            return config
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
    }
}

/// Runs the reported operation, turning operator-facing errors into a clean exit.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CustomStringConvertible & Error where !(error is ValidationError) {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode.failure
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server (default command).")

    @OptionGroup var common: CommonOptions

    @Option(help: "Port to listen on (env PORT, default 8080).")
    var port: Int?

    @Option(help: "Address to bind (env HOST, default 127.0.0.1).")
    var host: String?

    @Option(help: "What to serve: api, calls, worker, arbiter or all, comma-separated (env SERVER_ROLES, default all).")
    var roles: String?

    func run() async throws {
        var extra: [String: String] = [:]
        if let port { extra["PORT"] = String(port) }
        if let host { extra["HOST"] = host }
        if let roles { extra["SERVER_ROLES"] = roles }
        let config = try common.load(extra: extra)
        let logger = Logger(label: "ecomansoni")
        try await reportingErrors {
            try await Server.run(config: config, logger: logger)
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let config = try common.load()
        let logger = Logger(label: "ecomansoni")
        try await reportingErrors {
            let applied = try await Server.withMigratedDatabase(config: config, logger: logger) { _, applied in applied }
            print(applied.isEmpty ? "database is up to date" : "applied: \(applied.joined(separator: ", "))")
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the API keys of the database in use.")

    @OptionGroup var common: CommonOptions

    @Flag(help: "Print {\"anonKey\":…,\"serviceRoleKey\":…}.")
    var json = false

    func run() async throws {
        let config = try common.load(extra: ["LOG_LEVEL": ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? "warning"])
        let logger = Logger(label: "ecomansoni")
        try await reportingErrors {
            let keys = try await Server.withMigratedDatabase(config: config, logger: logger) { database, _ in
                try await Server.apiKeys(config: config, database: database, logger: logger)
            }
            if json {
                let data = try JSONSerialization.data(withJSONObject: ["anonKey": keys.anon, "serviceRoleKey": keys.serviceRole], options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("anon key:         \(keys.anon)\nservice-role key: \(keys.serviceRole)")
            }
        }
    }
}
