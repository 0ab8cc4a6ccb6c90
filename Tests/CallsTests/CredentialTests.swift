@testable import Calls
import Crypto
import Foundation
import Testing

@Suite struct CredentialTests {
    @Test func turnCredentialsFollowCoturnsRESTScheme() throws {
        let user = UUID()
        let settings = TurnSettings(urls: ["stun:turn.example:3478", "turn:turn.example:3478?transport=udp"], sharedSecret: "0123456789abcdef", ttlSeconds: 3600)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let credentials = TurnCredentials(settings: settings, userID: user, now: now)
        #expect(credentials.username == "1800003600:\(user.uuidString.lowercased())")
        let expected = HMAC<Insecure.SHA1>.authenticationCode(for: Data(credentials.username.utf8), using: SymmetricKey(data: Data("0123456789abcdef".utf8)))
        #expect(credentials.credential == Data(expected).base64EncodedString())
        let servers = credentials.iceServers(urls: settings.urls)
        #expect(servers.count == 2)
        #expect(servers[0]["urls"] as? [String] == ["stun:turn.example:3478"])
        #expect(servers[1]["username"] as? String == credentials.username)
    }

    @Test func joinTokensAreBoundToTheirRoomAndKey() {
        let key = SymmetricKey(size: .bits256)
        let claims = JoinToken.Claims(room: UUID(), call: UUID(), users: [UUID()], exp: 2_000_000_000)
        let token = JoinToken(claims: claims).signed(with: key)
        #expect(JoinToken.verify(token, key: key) == claims)
        #expect(JoinToken.verify(token, key: SymmetricKey(size: .bits256)) == nil)
        var tampered = claims
        tampered.users.append(UUID())
        let forged = JoinToken(claims: tampered).signed(with: SymmetricKey(size: .bits256))
        let spliced = forged.split(separator: ".")[0] + "." + token.split(separator: ".")[1]
        #expect(JoinToken.verify(String(spliced), key: key) == nil)
        #expect(JoinToken.verify("garbage", key: key) == nil)
        // No second spelling of a token verifies: padding, or the MAC's spare low bits set.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let last = alphabet.firstIndex(of: token.last ?? "A") ?? 0
        #expect(JoinToken.verify(token + "=", key: key) == nil)
        for spare in 1..<4 {
            #expect(JoinToken.verify(String(token.dropLast()) + String(alphabet[last ^ spare]), key: key) == nil)
        }
    }
}
