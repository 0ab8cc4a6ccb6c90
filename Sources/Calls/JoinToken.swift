import Core
import Crypto
import Foundation

/// A room's join token: `base64url(claims).base64url(HMAC-SHA256)`, bound to the room, the
/// call and the users allowed in, with an expiry. Every instance shares the signing key.
struct JoinToken: Sendable, Equatable {
    struct Claims: Codable, Equatable {
        var room: UUID
        var call: UUID
        var users: [UUID]
        /// Expiry, unix seconds.
        var exp: Int
    }

    let claims: Claims

    func signed(with key: SymmetricKey) -> String {
        let body = Base64URL.encode((try? JSONEncoder().encode(claims)) ?? Data())
        return "\(body).\(Base64URL.encode(Data(HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: key))))"
    }

    /// The claims of a token this service signed, or nil for anything forged or malformed.
    static func verify(_ token: String, key: SymmetricKey) -> Claims? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let signature = Base64URL.decodeCanonical(parts[1]),
            HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Data(parts[0].utf8), using: key),
            let body = Base64URL.decodeCanonical(parts[0])
        else { return nil }
        return try? JSONDecoder().decode(Claims.self, from: body)
    }
}
