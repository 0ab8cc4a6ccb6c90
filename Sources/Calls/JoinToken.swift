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
        let body = Self.base64url((try? JSONEncoder().encode(claims)) ?? Data())
        return "\(body).\(Self.base64url(Data(HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: key))))"
    }

    /// The claims of a token this service signed, or nil for anything forged or malformed.
    static func verify(_ token: String, key: SymmetricKey) -> Claims? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let signature = decode(String(parts[1])),
            HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Data(parts[0].utf8), using: key),
            let body = decode(String(parts[0]))
        else { return nil }
        return try? JSONDecoder().decode(Claims.self, from: body)
    }

    static func base64url(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
