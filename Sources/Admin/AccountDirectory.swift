import Foundation
import PostgresNIO

/// A platform account as support sees it: the phone masked, never whole.
public struct AccountSummary: Sendable, Equatable, Encodable {
    public var userID: UUID
    public var maskedPhone: String?
    public var phoneConfirmed: Bool
    public var createdAt: Date
    public var lastSignInAt: Date?
    public var suspendedUntil: Date?

    public init(userID: UUID, maskedPhone: String?, phoneConfirmed: Bool, createdAt: Date, lastSignInAt: Date?, suspendedUntil: Date?) {
        self.userID = userID
        self.maskedPhone = maskedPhone
        self.phoneConfirmed = phoneConfirmed
        self.createdAt = createdAt
        self.lastSignInAt = lastSignInAt
        self.suspendedUntil = suspendedUntil
    }

    enum CodingKeys: String, CodingKey {
        case userID = "user_id", maskedPhone = "phone_masked", phoneConfirmed = "phone_confirmed", createdAt = "created_at"
        case lastSignInAt = "last_sign_in_at", suspendedUntil = "suspended_until"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(userID.uuidString.lowercased(), forKey: .userID)
        try container.encode(maskedPhone, forKey: .maskedPhone)
        try container.encode(phoneConfirmed, forKey: .phoneConfirmed)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(lastSignInAt, forKey: .lastSignInAt)
        try container.encode(suspendedUntil, forKey: .suspendedUntil)
    }
}

/// The seam through which support looks accounts up and moderators suspend them: implemented
/// over the sign-in module by the composition root, so the admin module never reads its tables.
public protocol AccountDirectory: Sendable {
    func account(id: UUID) async throws -> AccountSummary?
    /// Nil also when `phone` is not a phone number.
    func account(phone: String) async throws -> AccountSummary?
    /// Suspends until `until` (nil lifts it) on `connection`, the admin's transaction; false when
    /// there is no such account.
    func suspend(id: UUID, until: Date?, on connection: PostgresConnection) async throws -> Bool
}
