import Foundation
import PostgresNIO

/// Small helpers for statements with positional parameters (`$1`, `$2`, …) built at run
/// time, where string interpolation into `PostgresQuery` does not fit.
extension PostgresConnection {
    /// Runs a statement to completion. Its rows are read and dropped: an error the server
    /// raises while producing them (e.g. inside a function) must not go unnoticed.
    public func execute(_ sql: String, _ values: [(any PostgresEncodable & Sendable)?]) async throws {
        for try await _ in try await rows(sql, values) {}
    }

    /// Runs a query and returns its rows.
    public func rows(_ sql: String, _ values: [(any PostgresEncodable & Sendable)?]) async throws -> PostgresRowSequence {
        try await query(PostgresQuery(unsafeSQL: sql, binds: try PostgresBindings(values)), logger: logger)
    }

    /// Whether a query returns at least one row.
    public func exists(_ sql: String, _ values: [(any PostgresEncodable & Sendable)?]) async throws -> Bool {
        for try await _ in try await rows(sql, values) { return true }
        return false
    }

    /// The first column of the first row as text, if any.
    public func scalarText(_ sql: String, _ values: [(any PostgresEncodable & Sendable)?]) async throws -> String? {
        for try await value in try await rows(sql, values).decode(String?.self) { return value }
        return nil
    }

    /// The first column of the first row (JSON text) as bytes, if any.
    public func jsonText(_ sql: String, _ values: [(any PostgresEncodable & Sendable)?]) async throws -> Data? {
        try await scalarText(sql, values).map { Data($0.utf8) }
    }
}

extension PostgresBindings {
    /// Bindings for a list of values, in order; `nil` binds SQL NULL.
    public init(_ values: [(any PostgresEncodable & Sendable)?]) throws {
        self.init(capacity: values.count)
        for value in values {
            if let value { try append(value) } else { appendNull() }
        }
    }
}
