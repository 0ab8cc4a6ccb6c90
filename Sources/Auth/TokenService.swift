import Core
import Crypto
import Database
import Foundation
import JWTKit

/// Issues and verifies ES256 JWTs: user access tokens and the two API keys.
///
/// The signing key lives in the database, so every instance on the same database signs
/// with the same key and verifies every other instance's tokens locally.
public final class TokenService: Sendable {
    /// The anon API key (a JWT with `role: anon`).
    public let anonKey: String
    /// The service-role API key (a JWT with `role: service_role`).
    public let serviceRoleKey: String
    /// The key id in every token header and in the JWKS.
    public let keyID: String
    let keys: JWTKeyCollection
    /// Tokens already verified, so a signature is checked once per token.
    let verified = VerifiedTokenCache()
    let publicJWK: [String: String]
    let settings: AuthSettings
    /// The signing key again, for access tokens signed without JWTKit's encoder
    /// (``issueAccessToken(user:sessionID:amr:)``).
    let signingKey: P256.Signing.PrivateKey
    /// The encoded JOSE header of every access token: `{"alg":"ES256","kid":…,"typ":"JWT"}`.
    let accessTokenHeader: String

    /// Loads (or on first start creates) the shared signing key and API keys.
    public static func load(database: Database, settings: AuthSettings) async throws -> TokenService {
        let secrets = try await InstanceSecrets.loadOrCreate(database)
        let privateKey = try ES256PrivateKey(pem: secrets.signingKeyPEM)
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: privateKey, kid: JWKIdentifier(string: secrets.keyID))
        let now = Int(Date().timeIntervalSince1970)
        let tenYears = 10 * 365 * 24 * 3600
        let candidates = [
            "anon_key": try await keys.sign(APIKeyClaims(role: "anon", iat: now, exp: now + tenYears), kid: JWKIdentifier(string: secrets.keyID)),
            "service_role_key": try await keys.sign(APIKeyClaims(role: "service_role", iat: now, exp: now + tenYears), kid: JWKIdentifier(string: secrets.keyID)),
        ]
        let stored = try await database.withOwner { connection in
            try await InstanceSecrets.insertMissing(candidates, connection, database)
        }
        guard let parameters = privateKey.publicKey.parameters, let anon = stored["anon_key"], let service = stored["service_role_key"] else {
            throw AuthConfigurationError("could not load the API keys")
        }
        let jwk = [
            "kty": "EC", "crv": "P-256", "x": parameters.x, "y": parameters.y,
            "kid": secrets.keyID, "alg": "ES256", "use": "sig",
        ]
        return TokenService(
            anonKey: anon, serviceRoleKey: service, keyID: secrets.keyID, keys: keys, publicJWK: jwk, settings: settings,
            signingKey: try P256.Signing.PrivateKey(pemRepresentation: secrets.signingKeyPEM))
    }

    init(
        anonKey: String, serviceRoleKey: String, keyID: String, keys: JWTKeyCollection, publicJWK: [String: String], settings: AuthSettings,
        signingKey: P256.Signing.PrivateKey
    ) {
        self.anonKey = anonKey
        self.serviceRoleKey = serviceRoleKey
        self.keyID = keyID
        self.keys = keys
        self.publicJWK = publicJWK
        self.settings = settings
        self.signingKey = signingKey
        let header = (try? JSONSerialization.data(withJSONObject: ["alg": "ES256", "kid": keyID, "typ": "JWT"], options: [.sortedKeys])) ?? Data()
        self.accessTokenHeader = Base64URL.encode(header)
    }

    /// Signs an access token for a session; returns the token and its expiry (unix seconds).
    func issueAccessToken(user: UserRecord, sessionID: UUID, amr: AccessTokenClaims.AMR) async throws -> (token: String, expiresAt: Int) {
        let now = Int(Date().timeIntervalSince1970)
        let exp = now + settings.jwtExpirySeconds
        let claims = AccessTokenClaims(
            iss: settings.issuer, sub: user.id.uuidString.lowercased(), aud: "authenticated", exp: exp, iat: now,
            email: "", phone: user.phone ?? "",
            app_metadata: user.appMetadata, user_metadata: user.userMetadata,
            role: "authenticated", aal: "aal1", amr: [amr], session_id: sessionID.uuidString.lowercased(), is_anonymous: false)
        // A JWS like JWTKit's (ES256: the raw r‖s signature of the SHA-256 of header.payload),
        // with the claims written by SessionWriter instead of JSONEncoder (issue 12 profile).
        let signingInput = accessTokenHeader + "." + Base64URL.encode(SessionWriter.claims(claims))
        let signature = try signingKey.signature(for: Data(signingInput.utf8))
        return (signingInput + "." + Base64URL.encode(signature.rawRepresentation), exp)
    }

    /// Verifies a bearer token's signature and expiry and returns the caller it stands for
    /// (a token verified before is only checked for expiry: ``VerifiedTokenCache``).
    public func caller(fromToken token: String) async throws(TokenError) -> Caller {
        if let known = verified.caller(for: token, now: Int(Date().timeIntervalSince1970)) { return known }
        let claims: VerifiedClaims
        do {
            claims = try await keys.verify(token, as: VerifiedClaims.self)
        } catch let error as TokenError {
            throw error
        } catch {
            throw .invalid
        }
        let payload = token.split(separator: ".").dropFirst().first.map(String.init) ?? ""
        let claimsJSON = Base64URL.decode(payload).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let caller: Caller
        switch claims.role {
        case "anon":
            caller = Caller(role: .anon, claimsJSON: claimsJSON)
        case "service_role":
            caller = Caller(role: .serviceRole, claimsJSON: claimsJSON)
        case "authenticated":
            guard let sub = claims.sub.flatMap(UUID.init(uuidString:)) else { throw .invalid }
            caller = Caller(role: .authenticated, userID: sub, sessionID: claims.session_id.flatMap(UUID.init(uuidString:)), claimsJSON: claimsJSON)
        default:
            throw .invalid
        }
        verified.remember(token, caller: caller, expiresAt: claims.exp)
        return caller
    }

    /// Whether `key` is one of this deployment's API keys.
    public func isAPIKey(_ key: String) -> Bool {
        key == anonKey || key == serviceRoleKey
    }

    /// The JWKS document (`{"keys":[…]}`) with the public signing key.
    public var jwksJSON: Data {
        var key: [String: Any] = publicJWK
        key["key_ops"] = ["verify"]
        return (try? JSONSerialization.data(withJSONObject: ["keys": [key]], options: [.sortedKeys])) ?? Data()
    }
}

/// Why a bearer token was refused.
public enum TokenError: Error, Sendable {
    case expired
    case invalid
}

/// Claims of an access token, in GoTrue's shape (`aud` a string, `amr` objects).
struct AccessTokenClaims: JWTPayload {
    struct AMR: Codable, Sendable {
        var method: String
        var timestamp: Int
    }

    var iss: String
    var sub: String
    var aud: String
    var exp: Int
    var iat: Int
    var email: String
    var phone: String
    var app_metadata: JSONValue
    var user_metadata: JSONValue
    var role: String
    var aal: String
    var amr: [AMR]
    var session_id: String
    var is_anonymous: Bool

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Claims of the API keys (`role` anon or service_role, far-future `exp`).
struct APIKeyClaims: JWTPayload {
    var iss = "supabase"
    var role: String
    var iat: Int
    var exp: Int

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// The claims read back from any token this server signed.
struct VerifiedClaims: JWTPayload {
    var role: String
    var exp: Int
    var sub: String?
    var session_id: String?

    func verify(using algorithm: some JWTAlgorithm) async throws {
        if exp <= Int(Date().timeIntervalSince1970) { throw TokenError.expired }
    }
}
