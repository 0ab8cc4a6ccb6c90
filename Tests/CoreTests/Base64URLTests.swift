import Core
import Foundation
import Testing

/// `Base64URL`, the one base64url of the project (tokens, cursors, upload URLs, links).
@Suite struct Base64URLTests {
    /// Foundation's base64 with the URL alphabet and no padding: what every caller wrote
    /// before the shared encoder.
    static func reference(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    @Test func encodesAsFoundationWithTheURLAlphabetAndNoPadding() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = Base64URL.encode(bytes)
            #expect(text == Self.reference(bytes))
            #expect(Base64URL.decode(text) == Data(bytes))
            #expect(Base64URL.decodeCanonical(text) == (length == 0 ? nil : Data(bytes)))
        }
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
    }

    /// `decode` takes padded text too; `decodeCanonical` only the one spelling `encode` writes.
    @Test func canonicalDecodingRefusesEverySecondSpelling() {
        #expect(Base64URL.decode("QQ==") == Data("A".utf8))
        #expect(Base64URL.decode("QQ") == Data("A".utf8))
        #expect(Base64URL.decodeCanonical("QQ") == Data("A".utf8))
        for other in ["QQ==", "QR", "QS", "QT", "", "Q", "Q+", "Q/", "QQ ", "QQ.", "é"] {
            #expect(Base64URL.decodeCanonical(other) == nil, "\(other)")
        }
        #expect(Base64URL.decodeCanonical("-_8") == Data([0xFB, 0xFF]))
        #expect(Base64URL.decodeCanonical("-_9") == nil)
    }
}
