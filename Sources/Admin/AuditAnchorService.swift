import Database
import Foundation
import Logging
import ServiceLifecycle

/// Writes the audit chain's head (seq and hash) to the server log every
/// ``AdminSettings/auditAnchorSeconds`` when it moved. Kept outside the database, an anchor
/// lets `ecomansoni audit verify --anchor seq:hash` notice a chain rewritten or cut short by
/// someone holding the owner role.
public struct AuditAnchorService: Service {
    let database: Database
    let interval: Duration
    let logger: Logger

    public init(database: Database, settings: AdminSettings, logger: Logger) {
        self.database = database
        self.interval = .seconds(max(1, settings.auditAnchorSeconds))
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var anchored: Int64?
            while !Task.isCancelled {
                do {
                    if let head = try await head(), head.seq != anchored {
                        logger.notice("audit anchor", metadata: ["audit_seq": "\(head.seq)", "audit_hash": "\(head.hash)"])
                        anchored = head.seq
                    }
                } catch {
                    logger.warning("audit anchor not written", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// The last row's seq and hash (hex).
    func head() async throws -> (seq: Int64, hash: String)? {
        try await database.withOwner { connection in
            for try await (seq, hash) in try await connection.rows(
                "SELECT seq, encode(hash, 'hex') FROM admin.audit_log ORDER BY seq DESC LIMIT 1", []
            ).decode((Int64, String).self) {
                return (seq, hash)
            }
            return nil
        }
    }
}
