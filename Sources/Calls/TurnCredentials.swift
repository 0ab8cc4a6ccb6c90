import Crypto
import Foundation

/// coturn REST credentials (`use-auth-secret`): `username = "<expiry>:<userId>"`,
/// `credential = base64(HMAC-SHA1(secret, username))`.
public struct TurnCredentials: Sendable, Equatable {
    public let username: String
    public let credential: String
    public let expiresAt: Int

    /// Mints credentials for `userID` valid for the configured lifetime.
    public init(settings: TurnSettings, userID: UUID, now: Date = Date()) {
        expiresAt = Int(now.timeIntervalSince1970) + settings.ttlSeconds
        username = "\(expiresAt):\(userID.uuidString.lowercased())"
        credential = Self.sign(username, secret: settings.sharedSecret)
    }

    static func sign(_ username: String, secret: String) -> String {
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(username.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).base64EncodedString()
    }

    /// The WebRTC `iceServers` list: STUN URLs bare, TURN URLs with these credentials.
    public func iceServers(urls: [String]) -> [[String: Any]] {
        let stun = urls.filter { $0.hasPrefix("stun:") || $0.hasPrefix("stuns:") }
        let turn = urls.filter { $0.hasPrefix("turn:") || $0.hasPrefix("turns:") }
        var servers: [[String: Any]] = []
        if !stun.isEmpty { servers.append(["urls": stun]) }
        if !turn.isEmpty { servers.append(["urls": turn, "username": username, "credential": credential]) }
        return servers
    }
}
