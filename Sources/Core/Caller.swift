import Foundation

/// Who is making a request, as established from verified credentials.
///
/// The database role a request runs as is derived from ``role``; ``claimsJSON`` is what
/// row-level-security policies read through `auth.uid()` / `auth.role()`.
public struct Caller: Sendable, Equatable {
    /// The PostgreSQL role the request runs as.
    public enum Role: String, Sendable, Codable {
        case anon
        case authenticated
        case serviceRole = "service_role"
    }

    public var role: Role
    /// The signed-in user, for `authenticated` callers.
    public var userID: UUID?
    /// The sign-in session the access token belongs to.
    public var sessionID: UUID?
    /// The verified JWT claims as compact JSON (`{}` for key-only callers).
    public var claimsJSON: String

    public init(role: Role, userID: UUID? = nil, sessionID: UUID? = nil, claimsJSON: String) {
        self.role = role
        self.userID = userID
        self.sessionID = sessionID
        self.claimsJSON = claimsJSON
    }

    /// An anonymous caller (anon key only).
    public static let anonymous = Caller(role: .anon, claimsJSON: #"{"role":"anon"}"#)

    /// The user id, or an error telling the client to sign in.
    public func requireUser() throws -> UUID {
        guard role == .authenticated, let userID else {
            throw APIError(status: .unauthorized, code: "42501", message: "sign in required: this call needs an authenticated user")
        }
        return userID
    }
}
