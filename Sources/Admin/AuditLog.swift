import Core
import Crypto
import Database
import Foundation
import PostgresNIO

/// One audit record before it is written: who did what, under which scope, to what, why.
public struct AuditEvent: Sendable {
    public enum Outcome: String, Sendable { case allowed, denied }

    public var actor: UUID?
    public var action: String
    public var scope: AdminScope?
    public var target: String?
    public var outcome: Outcome
    public var reason: String?
    public var requestID: String?
    /// Extra facts as a JSON object (never personal data).
    public var detail: [String: JSONValue]

    public init(
        actor: UUID?, action: String, scope: AdminScope? = nil, target: String? = nil, outcome: Outcome, reason: String? = nil,
        requestID: String? = nil, detail: [String: JSONValue] = [:]
    ) {
        self.actor = actor
        self.action = action
        self.scope = scope
        self.target = target
        self.outcome = outcome
        self.reason = reason
        self.requestID = requestID
        self.detail = detail
    }
}

/// The append-only, hash-chained audit log (`admin.audit_log`, migration 0027).
public enum AuditLog {
    /// Appends `event` on `connection`, in whatever transaction it is in (the action it records
    /// commits with it), as the owning role. Returns the row's `seq`.
    @discardableResult
    static func append(_ event: AuditEvent, on connection: PostgresConnection) async throws -> Int64 {
        let detail = JSONValue.object(event.detail).jsonText
        var seq: Int64 = 0
        for try await value in try await connection.rows(
            "SELECT admin.audit_append($1, $2, $3, $4, $5, $6, $7, $8::jsonb)",
            [event.actor, event.action, event.scope?.rawValue, event.target, event.outcome.rawValue, event.reason, event.requestID, detail]
        ).decode(Int64.self) {
            seq = value
        }
        return seq
    }

    /// Appends `event` in a transaction of its own: for denials, whose request changes nothing.
    static func record(_ event: AuditEvent, database: Database) async throws {
        try await database.withOwner { connection in _ = try await append(event, on: connection) }
    }
}

/// What `ecomansoni audit verify` and the console's verify button report.
public struct AuditVerification: Sendable, Equatable, Encodable {
    /// Rows checked.
    public var rows: Int
    /// The last row's seq and hash (hex) when the chain is intact up to it: the head to anchor.
    public var headSeq: Int64?
    public var headHash: String?
    /// The first row that breaks the chain, and how.
    public var firstBrokenSeq: Int64?
    public var problem: String?

    public var intact: Bool { firstBrokenSeq == nil }

    enum CodingKeys: String, CodingKey {
        case rows, intact
        case headSeq = "head_seq"
        case headHash = "head_hash"
        case firstBrokenSeq = "first_broken_seq"
        case problem
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rows, forKey: .rows)
        try container.encode(intact, forKey: .intact)
        try container.encode(headSeq, forKey: .headSeq)
        try container.encode(headHash, forKey: .headHash)
        try container.encode(firstBrokenSeq, forKey: .firstBrokenSeq)
        try container.encode(problem, forKey: .problem)
    }
}

/// Recomputes the chain: every row's hash from its predecessor's and its own canonical bytes
/// (the database renders those, `admin.audit_canonical`; the hashing and linking happen here).
public enum AuditChain {
    static let genesis = [UInt8](repeating: 0, count: 32)

    /// Walks the whole log in order. `anchor` (a seq and hash written to the server log earlier)
    /// must still be in the chain: rows cut from the end are found that way.
    public static func verify(database: Database, anchor: (seq: Int64, hash: String)? = nil) async throws -> AuditVerification {
        try await database.withOwner { connection in
            var result = AuditVerification(rows: 0)
            var previous = genesis
            var expectedSeq: Int64 = 1
            var anchorSeen = false
            let rows = try await connection.rows(
                "SELECT seq, prev_hash, hash, admin.audit_canonical(l) FROM admin.audit_log l ORDER BY seq", [])
            for try await (seq, prevHash, hash, canonical) in rows.decode((Int64, Data, Data, Data).self) {
                result.rows += 1
                let hash = [UInt8](hash)
                if let problem = check(
                    seq: seq, expectedSeq: expectedSeq, prevHash: [UInt8](prevHash), hash: hash, canonical: canonical, previous: previous)
                {
                    result.firstBrokenSeq = seq
                    result.problem = problem
                    return result
                }
                if let anchor, anchor.seq == seq {
                    anchorSeen = true
                    if hex(hash) != anchor.hash.lowercased() {
                        result.firstBrokenSeq = seq
                        result.problem = "the row's hash differs from the anchor's: the chain was rewritten up to here"
                        return result
                    }
                }
                previous = hash
                expectedSeq = seq + 1
                result.headSeq = seq
                result.headHash = hex(hash)
            }
            if let anchor, !anchorSeen {
                result.firstBrokenSeq = anchor.seq
                result.problem = "the anchored row is missing: rows were removed from the end of the log"
            }
            return result
        }
    }

    /// What is wrong with one row, or nil.
    static func check(seq: Int64, expectedSeq: Int64, prevHash: [UInt8], hash: [UInt8], canonical: Data, previous: [UInt8]) -> String? {
        if seq != expectedSeq {
            return "expected row \(expectedSeq) next, found \(seq): rows were removed"
        }
        if prevHash != previous {
            return "prev_hash does not match the previous row's hash"
        }
        var hasher = SHA256()
        hasher.update(data: prevHash)
        hasher.update(data: canonical)
        if Array(hasher.finalize()) != hash {
            return "the row's contents do not match its hash: it was edited"
        }
        return nil
    }

    static func hex(_ bytes: [UInt8]) -> String { Hex.lowercase(bytes) }
}
