import Core
import Crypto
import Foundation

/// The token in a media URL (`/reels/v1/media/<token>/<file>`): which outputs of which reel
/// it opens (the reel's `media_prefix`, `<reel id>/<attempt>`) and until when, signed with
/// HMAC-SHA256 under the key in `reels.media_keys` (migration 0021).
///
/// Text: `base64url(payload) "." base64url(mac)`, unpadded, canonical. Payload: version byte
/// `1`, the expiry (seconds since the epoch, 8 bytes big-endian), then the prefix in UTF-8.
/// A pure function of client text: every malformed token is ``MediaTokenError``.
public struct ReelMediaToken: Sendable, Equatable {
    /// `<reel id>/<attempt>`: a UUID, `/`, then 1–64 of `[A-Za-z0-9_-]`.
    public var prefix: String
    public var reelID: UUID
    public var expiresAt: Int64

    /// Longest token text looked at.
    public static let maximumLength = 512

    public init?(prefix: String, expiresAt: Int64) {
        guard let reelID = Self.reelID(ofPrefix: prefix) else { return nil }
        self.prefix = prefix
        self.reelID = reelID
        self.expiresAt = expiresAt
    }

    /// The reel id of a well-formed prefix, nil for any other text.
    public static func reelID(ofPrefix prefix: String) -> UUID? {
        let parts = prefix.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].utf8.count == 36, let id = UUID(uuidString: String(parts[0])),
            (1...64).contains(parts[1].utf8.count),
            parts[1].utf8.allSatisfy({ isAttemptByte($0) })
        else { return nil }
        return id
    }

    static func isAttemptByte(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x5F
    }

    /// The token text.
    public func signed(with key: SymmetricKey) -> String {
        var payload = Data([1])
        withUnsafeBytes(of: UInt64(bitPattern: expiresAt).bigEndian) { payload.append(contentsOf: $0) }
        payload.append(contentsOf: Array(prefix.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: payload, using: key)
        return Base64URL.encode(payload) + "." + Base64URL.encode(Data(mac))
    }

    /// Verifies `text` at `now` (seconds since the epoch).
    public static func verify(_ text: some StringProtocol, key: SymmetricKey, now: Int64) throws(MediaTokenError) -> ReelMediaToken {
        guard text.utf8.count <= maximumLength else { throw .malformed }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Base64URL.decodeCanonical(parts[0]), let mac = Base64URL.decodeCanonical(parts[1]),
            mac.count == 32, payload.count > 9, payload.first == 1
        else { throw .malformed }
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: payload, using: key) else { throw .badSignature }
        var expiry: UInt64 = 0
        for byte in payload.dropFirst().prefix(8) { expiry = expiry << 8 | UInt64(byte) }
        guard let prefix = String(bytes: payload.dropFirst(9), encoding: .utf8),
            let token = ReelMediaToken(prefix: prefix, expiresAt: Int64(bitPattern: expiry))
        else { throw .malformed }
        guard token.expiresAt > now else { throw .expired }
        return token
    }
}

/// Why a media token does not open anything.
public enum MediaTokenError: Error, Sendable, Equatable {
    /// Not a token this server makes.
    case malformed
    /// A token whose signature does not match (changed, or made with another key).
    case badSignature
    /// Past its expiry.
    case expired

    /// The answer: 404 for what is not a token, 403 for a wrong signature or an old token.
    public var apiError: APIError {
        switch self {
        case .malformed: APIError(status: .notFound, code: "not_found", message: "No such media")
        case .badSignature: APIError(status: .forbidden, code: "invalid_media_token", message: "The media link is not valid")
        case .expired:
            APIError(status: .forbidden, code: "media_token_expired", message: "The media link has expired; fetch the reel again for a new one")
        }
    }
}
