import Admin
import Auth
import Core
import Foundation
import Logging

/// What the `ecomansoni admin …` and `ecomansoni audit …` commands do, on the configured
/// database (migrated first).
public enum AdminCommands {
    public struct NotAPhoneNumber: Error, CustomStringConvertible {
        public var description: String { "--phone: not a phone number (E.164, e.g. +79991234567)" }
    }

    public struct OwnerExists: Error, CustomStringConvertible {
        public var description: String { "an owner already exists: bootstrap only makes the first one (the refusal is in the audit log)" }
    }

    /// Makes the account with `phone` (created if missing) the first owner and returns its new
    /// second factor, to be shown once.
    public static func bootstrap(config: AppConfig, phone: String, logger: Logger) async throws -> AdminEnrolment {
        guard PhoneNumber.normalise(phone) != nil else { throw NotAPhoneNumber() }
        return try await Server.withMigratedDatabase(config: config, logger: logger) { database, _ in
            let admin = AdminService(database: database, settings: config.admin)
            // Checked before the account is looked up, so a refused bootstrap creates no account.
            if try await admin.ownerExists() {
                try await admin.recordRefusedBootstrap()
                throw OwnerExists()
            }
            guard let userID = try await UserAccounts(database: database).ensureUser(phone: phone) else { throw NotAPhoneNumber() }
            let label = "+" + (PhoneNumber.normalise(phone) ?? phone)
            do {
                return try await admin.bootstrap(userID: userID, label: label)
            } catch let error as APIError where error.code == "admin_owner_exists" {
                throw OwnerExists()
            }
        }
    }

    /// Recomputes the audit chain; `anchor` is a head written to the log earlier.
    public static func verifyAudit(config: AppConfig, anchor: (seq: Int64, hash: String)?, logger: Logger) async throws -> AuditVerification {
        try await Server.withMigratedDatabase(config: config, logger: logger) { database, _ in
            try await AuditChain.verify(database: database, anchor: anchor)
        }
    }
}
