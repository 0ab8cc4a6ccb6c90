import Core
import Database
import Foundation

/// Accounts: support's lookup by id or phone (scope `users.lookup`; masked phone, no export,
/// every lookup audited by user id, never by number) and suspensions (scope
/// `moderation.content`).
extension AdminService {
    /// Hours a suspension may last (0 lifts one).
    public static let suspensionHours = 0...8760

    /// The account with this id or phone number.
    public func lookUpAccount(_ session: AdminSession, userID: UUID?, phone: String?) async throws -> AccountSummary {
        try await require(.usersLookup, session, action: "admin.users.lookup")
        guard let accounts else { throw AdminErrors.accountsNotServed }
        let found: AccountSummary?
        if let userID {
            found = try await accounts.account(id: userID)
        } else if let phone {
            guard phone.count <= 32 else { throw APIError.invalidField("phone", "must be a phone number") }
            found = try await accounts.account(phone: phone)
        } else {
            throw APIError.invalidField("user_id", "give user_id or phone")
        }
        try await AuditLog.record(
            AuditEvent(actor: session.userID, action: "admin.users.lookup", scope: .usersLookup,
                       target: found?.userID.uuidString.lowercased(), outcome: .allowed, requestID: session.requestID,
                       detail: ["by": .string(userID == nil ? "phone" : "user_id"), "found": .bool(found != nil)]),
            database: database)
        guard let found else { throw AdminErrors.accountNotFound }
        return found
    }

    /// Suspends an account for `hours` (0 lifts the suspension), with a reason.
    public func suspendAccount(_ session: AdminSession, userID: UUID, hours: Int, reason: String) async throws {
        let action = hours == 0 ? "admin.users.unsuspend" : "admin.users.suspend"
        let target = userID.uuidString.lowercased()
        try await require(.moderationContent, session, action: action, target: target)
        guard Self.suspensionHours.contains(hours) else { throw APIError.invalidField("hours", "must be an integer from 0 (lift) to 8760") }
        let reason = try Self.reason(reason)
        try await refuseIfSwitchedOff([.adminWrites], session, action: action, target: target)
        guard let accounts else { throw AdminErrors.accountsNotServed }
        let until = hours == 0 ? nil : now().addingTimeInterval(TimeInterval(hours * 3600))
        try await withAdminWrite(session, .moderationContent) { connection in
            guard try await accounts.suspend(id: userID, until: until, on: connection) else { throw AdminErrors.accountNotFound }
            var detail: [String: JSONValue] = ["hours": .number(Double(hours))]
            if let until { detail["until"] = .string(Timestamp.format(until)) }
            try await AuditLog.append(
                AuditEvent(actor: session.userID, action: action, scope: .moderationContent, target: target, outcome: .allowed,
                           reason: reason, requestID: session.requestID, detail: detail), on: connection)
        }
    }
}
