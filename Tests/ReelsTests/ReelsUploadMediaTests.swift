import Core
import Crypto
import Foundation
import Testing

@testable import Reels

/// Media tokens (tampering, expiry, shapes), media file names, and hashtags.
@Suite struct ReelsUploadMediaTests {
    static let key = SymmetricKey(data: Data(repeating: 9, count: 32))
    static let prefix = "\(UUID().uuidString.lowercased())/\(UUID().uuidString.lowercased())"

    @Test func aTokenVerifiesToItselfUntilItExpires() throws {
        let token = try #require(ReelMediaToken(prefix: Self.prefix, expiresAt: 1_000))
        let text = token.signed(with: Self.key)
        #expect(try ReelMediaToken.verify(text, key: Self.key, now: 999) == token)
        #expect(throws: MediaTokenError.expired) { try ReelMediaToken.verify(text, key: Self.key, now: 1_000) }
        #expect(throws: MediaTokenError.badSignature) {
            try ReelMediaToken.verify(text, key: SymmetricKey(data: Data(repeating: 8, count: 32)), now: 0)
        }
    }

    @Test func noChangedCharacterOfATokenVerifies() throws {
        let text = try #require(ReelMediaToken(prefix: Self.prefix, expiresAt: 10_000)).signed(with: Self.key)
        let characters = Array(text)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
        for index in characters.indices {
            var changed = characters
            changed[index] = alphabet.first { $0 != characters[index] }!
            #expect(throws: MediaTokenError.self) { try ReelMediaToken.verify(String(changed), key: Self.key, now: 0) }
        }
        // Another reel's prefix under a forged payload with the old signature.
        let other = try #require(ReelMediaToken(prefix: "\(UUID().uuidString.lowercased())/x", expiresAt: 10_000)).signed(with: Self.key)
        let spliced = other.split(separator: ".")[0] + "." + text.split(separator: ".")[1]
        #expect(throws: MediaTokenError.badSignature) { try ReelMediaToken.verify(spliced, key: Self.key, now: 0) }
    }

    @Test func malformedTokensAre404AndBadOnes403() throws {
        for text in ["", ".", "abc", "a.b.c", String(repeating: "A", count: 600), "AQ.AQ", "====.===="] {
            #expect(throws: MediaTokenError.malformed) { try ReelMediaToken.verify(text, key: Self.key, now: 0) }
        }
        // The length limit: a token is at most 512 characters; longer text is not looked at.
        let long = try #require(ReelMediaToken(prefix: "\(UUID().uuidString.lowercased())/" + String(repeating: "a", count: 64), expiresAt: 10))
        #expect(long.signed(with: Self.key).utf8.count <= ReelMediaToken.maximumLength)
        #expect(throws: MediaTokenError.malformed) {
            try ReelMediaToken.verify(String(repeating: "A", count: ReelMediaToken.maximumLength + 1), key: Self.key, now: 0)
        }
        #expect(ReelMediaRoutes.split(ReelMedia.routePrefix + String(repeating: "a", count: 1100) + "/master.m3u8") == nil)
        #expect(MediaTokenError.malformed.apiError.status == .notFound)
        #expect(MediaTokenError.badSignature.apiError.status == .forbidden)
        #expect(MediaTokenError.expired.apiError.status == .forbidden)
        #expect(ReelMediaToken(prefix: "not-a-uuid/x", expiresAt: 1) == nil)
        #expect(ReelMediaToken(prefix: "\(UUID())/a/b", expiresAt: 1) == nil)
        #expect(ReelMediaToken(prefix: "\(UUID())/../x", expiresAt: 1) == nil)
    }

    @Test func linksLastAtLeastSixHoursAndStayTheSameWithinTheHour() async throws {
        let media = ReelMedia(key: Self.key, now: { 36_000 })
        let later = ReelMedia(key: Self.key, now: { 36_000 + 3_599 })
        let links = try #require(try await media.links(for: Self.prefix))
        #expect(try await later.links(for: Self.prefix) == links)
        let token = try await media.verify(links.hls.dropFirst(ReelMedia.routePrefix.count).split(separator: "/")[0])
        #expect(token.expiresAt - 39_599 >= ReelMedia.minimumLifetimeSeconds)
        #expect(try await media.links(for: nil) == nil)
        #expect(try await media.links(for: "garbage") == nil)
    }

    @Test func onlyThePipelinesFileNamesAreServed() {
        for good in ["master.m3u8", "video.mp4", "poster.jpg", "720p/index.m3u8", "360p/init.mp4", "540p/seg_12.m4s"] {
            #expect(ReelMediaFile.isValid(good), "\(good)")
        }
        for bad in ["", "/master.m3u8", "../master.m3u8", "720p/../x.mp4", "a/b/c.mp4", "x.txt", "720/x.m4s", "p/x.m4s", "master.m3u8.jpg",
                    ".mp4", "720p/", "%2e%2e/x.mp4", "x y.mp4"] {
            #expect(!ReelMediaFile.isValid(bad), "\(bad)")
        }
        #expect(ReelMediaFile.contentType(of: "720p/seg_1.m4s") == "video/iso.segment")
        #expect(ReelMediaFile.contentType(of: "master.m3u8") == "application/vnd.apple.mpegurl")
        #expect(ReelMediaRoutes.split("/reels/v1/media/tok/720p/seg_1.m4s")?.1 == "720p/seg_1.m4s")
        #expect(ReelMediaRoutes.split("/reels/v1/media/tok") == nil)
        #expect(ReelMediaRoutes.split("/reels/v1/media//master.m3u8") == nil)
    }

    @Test func hashtagsFollowTheSpec() {
        #expect(Hashtags.extract("#Cars #машина #car_1 #CAR_1") == ["cars", "машина", "car_1"])
        #expect(Hashtags.extract("#bad-tag") == ["bad"])
        #expect(Hashtags.extract("no#tag here, # alone, ##double, (#paren) end#") == ["double", "paren"])
        #expect(Hashtags.extract("#Straße #STRASSE") == ["straße", "strasse"])
        #expect(Hashtags.extract((0..<40).map { "#t\($0)" }.joined(separator: " ")).count == Hashtags.maximumCount)
        #expect(Hashtags.extract("#" + String(repeating: "a", count: 101)).isEmpty)
        #expect(Hashtags.extract("#e\u{301}te") == ["\u{e9}te"])
    }
}
