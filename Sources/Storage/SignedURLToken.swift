import Core
import Crypto
import Foundation

/// The tokens of signed URLs: HS256 JWTs `{"url":"<bucket>/<name>","iat","exp"}` (downloads)
/// and `{"url","iat","exp","scope":"upload","upsert","owner"}` (uploads), signed with a key
/// kept in `storage.secrets` and shared by every instance. A token is bound to exactly one
/// object name and expires; nothing else authorises its request.
public struct SignedURLToken: Sendable, Equatable {
    public enum Scope: String, Sendable, Codable {
        case download, upload
    }

    /// `<bucket>/<name>` (the name as stored: decoded, NFC).
    public var url: String
    public var issuedAt: Int64
    public var expiresAt: Int64
    public var scope: Scope
    /// Uploads: whether the token may replace an existing object.
    public var upsert: Bool
    /// Uploads: the user the object will belong to (nil: the service role signed it).
    public var owner: UUID?

    public init(url: String, issuedAt: Int64, expiresAt: Int64, scope: Scope, upsert: Bool = false, owner: UUID? = nil) {
        self.url = url
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.scope = scope
        self.upsert = upsert
        self.owner = owner
    }

    private struct Claims: Codable {
        var url: String
        var iat: Int64
        var exp: Int64
        var scope: Scope?
        var upsert: Bool?
        var owner: String?
    }

    /// The compact JWS text.
    public func signed(with key: SymmetricKey) throws -> String {
        let header = Base64URL.encode(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let claims = Claims(
            url: url, iat: issuedAt, exp: expiresAt, scope: scope == .upload ? .upload : nil, upsert: scope == .upload ? upsert : nil,
            owner: owner?.uuidString.lowercased())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let payload = Base64URL.encode(try encoder.encode(claims))
        let input = "\(header).\(payload)"
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: key)
        return "\(input).\(Base64URL.encode(Data(mac)))"
    }

    /// Verifies `text` for the object `url` and `scope` at `now` (seconds since the epoch).
    public static func verify(_ text: String, key: SymmetricKey, url: String, scope: Scope, now: Int64) throws -> SignedURLToken {
        guard text.utf8.count <= 4096 else { throw StorageError.invalidToken("jwt malformed") }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Base64URL.decodeCanonical(parts[0]), let payload = Base64URL.decodeCanonical(parts[1]),
            let signature = Base64URL.decodeCanonical(parts[2])
        else { throw StorageError.invalidToken("jwt malformed") }
        guard let headerObject = try? JSONSerialization.jsonObject(with: header) as? [String: Any], headerObject["alg"] as? String == "HS256"
        else { throw StorageError.invalidToken("jwt malformed") }
        let input = Data(text.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: input, using: key) else {
            throw StorageError.invalidSignature
        }
        guard let claims = try? JSONDecoder().decode(Claims.self, from: payload) else { throw StorageError.invalidToken("jwt malformed") }
        guard claims.exp > now else { throw StorageError.invalidToken("jwt expired") }
        let tokenScope = claims.scope ?? .download
        guard tokenScope == scope else { throw StorageError.invalidToken("the token was not issued for this kind of request") }
        guard claims.url == url else {
            throw APIError(status: .badRequest, code: "InvalidSignature", message: "The url do not match the signature")
        }
        return SignedURLToken(
            url: claims.url, issuedAt: claims.iat, expiresAt: claims.exp, scope: tokenScope, upsert: claims.upsert ?? false,
            owner: claims.owner.flatMap(UUID.init(uuidString:)))
    }
}
