import Core
import Crypto
import Foundation
import Testing

@testable import Storage

/// Findings of the fuzz targets `object-path` and `signed-url-token` (docs/fuzzing.md);
/// their inputs are in Fuzz/Regressions/<target>/.
@Suite struct StorageDecoderFindingsTests {
    /// A '/' followed by a combining mark is one Character, so splitting the name at "/"
    /// Characters let a '..' segment, or an empty first segment, through.
    @Test(arguments: ["../\u{301}x", "/\u{301}x", "a//\u{301}", "a/./\u{301}", "x/../\u{301}"])
    func segmentsAreCutAtSlashBytes(_ name: String) {
        #expect(throws: APIError.self) { try ObjectPath.name(name) }
        #expect(throws: APIError.self) { try ObjectPath.name(urlSegments: [Substring(name)]) }
        #expect(throws: APIError.self) { try ObjectPath.folder(name) }
    }

    @Test func aSegmentMayStartWithACombiningMark() throws {
        #expect(try ObjectPath.name("a/\u{301}x") == "a/\u{301}x")
        #expect(ObjectPath.urlEncoded("a/\u{301}x") == "a/%CC%81x")
        #expect(try ObjectPath.name(urlSegments: ["a", "%CC%81x"]) == "a/\u{301}x")
    }

    /// A prepended mark such as U+0600 joins the '/' after it into one Character, so trimming
    /// a folder's trailing '/' by Characters kept it and refused the folder.
    @Test(arguments: ["\u{600}", "a/\u{600}", "\u{FFFD}\u{FFFD}\u{600}"])
    func aTrailingSlashAfterAPrependedMarkIsDropped(_ name: String) throws {
        #expect(try ObjectPath.folder(name + "/") == name)
        #expect(try ObjectPath.folder(name + "//") == name)
        #expect(try ObjectPath.folder(name) == name)
    }

    /// The last character of an unpadded base64url signature carries spare bits that
    /// `Data(base64Encoded:)` ignores: a token with them changed must not verify.
    @Test func aSignatureMustBeCanonicalBase64() throws {
        let key = SymmetricKey(data: Data(repeating: 9, count: 32))
        let token = try SignedURLToken(url: "b/a.txt", issuedAt: 0, expiresAt: 2000, scope: .download).signed(with: key)
        #expect(try SignedURLToken.verify(token, key: key, url: "b/a.txt", scope: .download, now: 1000).url == "b/a.txt")
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let last = try #require(alphabet.firstIndex(of: token.last!))
        for spare in 1..<4 {
            let changed = String(token.dropLast()) + String(alphabet[last ^ spare])
            #expect(throws: StorageError.invalidToken("jwt malformed")) {
                try SignedURLToken.verify(changed, key: key, url: "b/a.txt", scope: .download, now: 1000)
            }
        }
        #expect(Base64URL.decodeCanonical("QQ") == Data("A".utf8))
        #expect(Base64URL.decodeCanonical("QR") == nil)
    }
}
