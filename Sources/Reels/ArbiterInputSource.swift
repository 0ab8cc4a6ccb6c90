import Database
import Foundation
import PostgresNIO

/// Reads an evaluation's ``ArbiterInputs``, on the evaluation's connection and transaction.
public protocol ArbiterInputSource: Sendable {
    func inputs(on connection: PostgresConnection, now: Date) async throws -> ArbiterInputs
}

/// The inputs from the reels tables: `reels.impressions` and `reels.views` (interactions),
/// `reels.jobs` (pipeline). A table that does not exist yet counts as empty and is named in
/// `missing`. Each query is index-backed: impressions by `created_at`, views by their
/// identity order, unfinished jobs by the partial state indexes.
public struct DatabaseArbiterInputs: ArbiterInputSource {
    public var trafficWindowSeconds: Int

    public init(trafficWindowSeconds: Int) {
        self.trafficWindowSeconds = trafficWindowSeconds
    }

    public func inputs(on connection: PostgresConnection, now: Date) async throws -> ArbiterInputs {
        var inputs = ArbiterInputs(trafficWindowSeconds: trafficWindowSeconds)
        let windowStart = now.addingTimeInterval(-Double(trafficWindowSeconds))
        let tables = try await existing(["reels.impressions", "reels.views", "reels.jobs"], on: connection)
        inputs.missing = ["reels.impressions", "reels.views", "reels.jobs"].filter { !tables.contains($0) }

        if tables.contains("reels.impressions") {
            for try await count in try await connection.rows(
                "SELECT count(*) FROM reels.impressions WHERE created_at > $1 AND created_at <= $2", [windowStart, now]
            ).decode(Int.self) {
                inputs.impressions = count
            }
        }
        if tables.contains("reels.views") {
            let newestView = try await timestamp("SELECT created_at FROM reels.views ORDER BY id DESC LIMIT 1", [], on: connection)
            if let newestView, newestView > windowStart {
                inputs.viewsArriving = true
                var newestImpression: Date?
                if tables.contains("reels.impressions") {
                    newestImpression = try await timestamp(
                        "SELECT max(created_at) FROM reels.impressions WHERE created_at <= $1", [now], on: connection)
                }
                let since: Date?
                if let newestImpression {
                    since = newestImpression
                } else {
                    since = try await timestamp("SELECT created_at FROM reels.views ORDER BY id LIMIT 1", [], on: connection)
                }
                inputs.impressionLagSeconds = since.map { ArbiterPolicy.seconds(now.timeIntervalSince($0)) } ?? 0
            }
        }
        if tables.contains("reels.jobs") {
            for try await (depth, oldest) in try await connection.rows(
                "SELECT count(*), min(created_at) FROM reels.jobs WHERE state IN ('queued', 'running')", []
            ).decode((Int, Date?).self) {
                inputs.queueDepth = depth
                inputs.oldestJobAgeSeconds = oldest.map { ArbiterPolicy.seconds(now.timeIntervalSince($0)) } ?? 0
            }
        }
        return inputs
    }

    private func existing(_ names: [String], on connection: PostgresConnection) async throws -> Set<String> {
        var found: Set<String> = []
        for try await name in try await connection.rows(
            "SELECT n FROM unnest($1::text[]) AS n WHERE to_regclass(n) IS NOT NULL", [names]
        ).decode(String.self) {
            found.insert(name)
        }
        return found
    }

    private func timestamp(_ sql: String, _ values: [(any PostgresEncodable & Sendable)?], on connection: PostgresConnection) async throws -> Date? {
        for try await value in try await connection.rows(sql, values).decode(Date?.self) { return value }
        return nil
    }
}
