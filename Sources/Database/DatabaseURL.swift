import Foundation
import PostgresNIO

/// A parsed `postgres://user:password@host:port/database` URL.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    /// `sslmode=require` (or `verify-full`) asks for TLS.
    public var requireTLS: Bool

    public init(host: String, port: Int, username: String, password: String?, database: String, requireTLS: Bool = false) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.requireTLS = requireTLS
    }

    /// Parses a `postgres://` or `postgresql://` URL; throws a message naming what is wrong.
    public init(parsing text: String) throws {
        guard let components = URLComponents(string: text),
            let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme)
        else {
            throw DatabaseError.invalidURL("DATABASE_URL must look like postgres://user:password@host:5432/database")
        }
        guard let host = components.host, !host.isEmpty else {
            throw DatabaseError.invalidURL("DATABASE_URL has no host")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else {
            throw DatabaseError.invalidURL("DATABASE_URL has no database name after the host")
        }
        let sslmode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value
        self.init(
            host: host, port: components.port ?? 5432,
            username: components.user?.removingPercentEncoding ?? "postgres",
            password: components.password?.removingPercentEncoding,
            database: database,
            requireTLS: sslmode == "require" || sslmode == "verify-full")
    }

    /// The same server with another database name.
    public func with(database: String) -> DatabaseURL {
        var copy = self
        copy.database = database
        return copy
    }

    /// The URL as text (with the password, for child processes and `psql`).
    public var urlString: String {
        var components = URLComponents()
        components.scheme = "postgres"
        components.user = username
        components.password = password
        components.host = host
        components.port = port
        components.path = "/" + database
        return components.string ?? "postgres://\(host):\(port)/\(database)"
    }

    /// The URL without the password, for logs.
    public var description: String { "postgres://\(username)@\(host):\(port)/\(database)" }

    /// The `application_name` of the server's connections: its writes announce themselves, so
    /// the outside-write triggers (migration 0033) skip them.
    public static let applicationName = "ecomansoni"

    /// A single-connection configuration for this URL (e.g. a LISTEN connection).
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS = requireTLS ? .require(try .init(configuration: .makeClientConfiguration())) : .disable
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.additionalStartupParameters = [("TimeZone", "UTC"), ("DateStyle", "ISO, YMD")]
        return configuration
    }

    /// A PostgresNIO client configuration for this URL; every connection starts with
    /// `settings` (PostgreSQL takes any setting as a startup parameter).
    public func clientConfiguration(maximumConnections: Int, settings: [(String, String)] = []) throws -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS = requireTLS ? .require(.makeClientConfiguration()) : .disable
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = 0
        // Timestamps rendered by the server (JSON, cursors) are ISO 8601 in UTC everywhere. The
        // application name tells the server's own writes from others' (migration 0033).
        configuration.options.additionalStartupParameters = [
            ("TimeZone", "UTC"), ("DateStyle", "ISO, YMD"), ("application_name", Self.applicationName),
        ] + settings
        return configuration
    }
}

/// Failures of the database layer that an operator must act on.
public enum DatabaseError: Error, CustomStringConvertible, Equatable {
    case invalidURL(String)
    case postgresNotInstalled(String)
    case clusterFailed(String)
    case migrationChanged(String)
    case migrationFailed(String)

    public var description: String {
        switch self {
        case .invalidURL(let text), .postgresNotInstalled(let text), .clusterFailed(let text),
            .migrationChanged(let text), .migrationFailed(let text):
            return text
        }
    }
}
