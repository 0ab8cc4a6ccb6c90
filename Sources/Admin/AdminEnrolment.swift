import Crypto
import Foundation

/// A new admin's second factor, shown once: the TOTP secret (base32 and as an `otpauth://`
/// link for a QR code) and ten recovery codes. Only the secret and the codes' SHA-256 are kept.
public struct AdminEnrolment: Sendable {
    public let secret: [UInt8]
    public let recoveryCodes: [String]
    public let issuer: String
    public let label: String

    /// A fresh secret (20 random bytes, RFC 4226's recommended length) and recovery codes.
    public static func generate(issuer: String, label: String) -> AdminEnrolment {
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<20).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let codes = (0..<10).map { _ in RecoveryCode.generate(using: &generator) }
        return AdminEnrolment(secret: secret, recoveryCodes: codes, issuer: issuer, label: label)
    }

    /// The secret as authenticator apps take it typed in.
    public var base32Secret: String { Base32.encode(secret) }

    /// The Key Uri Format link authenticator apps read from a QR code.
    public var otpauthURI: String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let issuerText = issuer.addingPercentEncoding(withAllowedCharacters: allowed) ?? "ECOMANSONI"
        let labelText = label.addingPercentEncoding(withAllowedCharacters: allowed) ?? "admin"
        return "otpauth://totp/\(issuerText):\(labelText)?secret=\(base32Secret)&issuer=\(issuerText)&algorithm=SHA1&digits=6&period=30"
    }
}

/// One-time recovery codes: ten base32 characters shown as `XXXXX-XXXXX` (50 random bits).
public enum RecoveryCode {
    static func generate(using generator: inout some RandomNumberGenerator) -> String {
        let characters = (0..<10).map { _ in Base32.alphabet[Int.random(in: 0..<32, using: &generator)] }
        return String(decoding: characters[0..<5], as: UTF8.self) + "-" + String(decoding: characters[5..<10], as: UTF8.self)
    }

    /// The stored form of a code as typed: upper-cased, without dashes and spaces, hashed; nil
    /// when it cannot be a recovery code.
    public static func hash(_ typed: String) -> [UInt8]? {
        let cleaned = typed.uppercased().utf8.filter { $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: " ") }
        guard cleaned.count == 10, cleaned.allSatisfy({ Base32.alphabet.contains($0) }) else { return nil }
        return Array(SHA256.hash(data: cleaned))
    }
}
