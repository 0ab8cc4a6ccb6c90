import Core
import Crypto
import Foundation

@testable import Reels

// MARK: reel-uploads

extension FuzzTarget {
    /// The bytes as a media token (`ReelMediaToken.verify`), as the path of a media URL
    /// (`ReelMediaRoutes.split`, `ReelMediaFile`), as `create_reel` arguments (JSON, then
    /// `CreateReelRequest`) and as a caption (`Hashtags.extract`). Traps unless: a token that
    /// verifies is the one its fields sign to; a token made from fields cut from the bytes
    /// verifies to itself before its expiry and not at it, and no one-character change of it
    /// verifies; an accepted file name has one of the served shapes; accepted arguments have
    /// a caption of at most 2200 characters, a known visibility and hashtags that are the
    /// caption's; every hashtag is 1–100 lower-case word characters, at most 30, no repeats.
    static func reelUploads(_ data: Data, _ text: String) {
        if let token = try? ReelMediaToken.verify(text, key: reelMediaKey, now: 1_000) {
            guard token.signed(with: reelMediaKey) == text else { fatalError("reel-uploads: \(reelDebug(text)) verifies but is not canonical") }
        }
        reelTokenRoundTrip([UInt8](data))
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(16) {
            if let (_, file) = ReelMediaRoutes.split(ReelMedia.routePrefix + line) {
                guard ReelMediaFile.contentType(of: file) != nil, !file.contains(".."), !file.hasPrefix("/"), file.utf8.count <= 80 else {
                    fatalError("reel-uploads: accepted media file \(reelDebug(file))")
                }
            }
        }
        if let object = try? JSONBody.object(from: data) {
            struct Args: Decodable { var object_path: String; var caption: String?; var visibility: String? }
            if let args = try? JSONBody.decode(Args.self, from: data), let request = try? CreateReelRequest(
                objectPath: args.object_path, caption: args.caption, visibility: args.visibility)
            {
                guard request.caption.count <= CreateReelRequest.maximumCaptionCharacters,
                    CreateReelRequest.visibilities.contains(request.visibility),
                    request.hashtags == Hashtags.extract(request.caption), !request.objectPath.isEmpty
                else { fatalError("reel-uploads: accepted arguments \(reelDebug(String(describing: object)))") }
            }
        }
        checkHashtags(Hashtags.extract(text), of: text)
    }

    private static func reelDebug(_ text: String) -> String { text.unicodeScalars.map { $0.escaped(asASCII: true) }.joined() }

    private static let reelMediaKey = SymmetricKey(data: Data(repeating: 5, count: 32))

    /// Fields from the bytes: 8 bytes expiry, 1 mutation byte, the rest the attempt segment.
    private static func reelTokenRoundTrip(_ bytes: [UInt8]) {
        let padded = bytes + [UInt8](repeating: 0, count: max(0, 9 - bytes.count))
        var expiry: Int64 = 0
        for byte in padded.prefix(8) { expiry = expiry << 8 | Int64(byte) }
        let attempt = String(decoding: padded.dropFirst(9).prefix(80), as: UTF8.self)
        guard let token = ReelMediaToken(prefix: "4f1c5c0e-8d6b-4f7e-9a51-2d7c2b0a6f11/" + attempt, expiresAt: expiry) else { return }
        let text = token.signed(with: reelMediaKey)
        if expiry > Int64.min {
            guard (try? ReelMediaToken.verify(text, key: reelMediaKey, now: expiry - 1)) == token else {
                fatalError("reel-uploads: token for \(reelDebug(attempt)) at \(expiry) does not verify")
            }
        }
        guard (try? ReelMediaToken.verify(text, key: reelMediaKey, now: expiry)) == nil else {
            fatalError("reel-uploads: token verifies at its expiry")
        }
        var characters = Array(text)
        let index = Int(padded[8]) % characters.count
        characters[index] = characters[index] == "A" ? "B" : "A"
        guard (try? ReelMediaToken.verify(String(characters), key: reelMediaKey, now: Int64.min)) == nil else {
            fatalError("reel-uploads: a changed token verifies (\(index))")
        }
    }

    private static func checkHashtags(_ tags: [String], of text: String) {
        guard tags.count <= Hashtags.maximumCount, Set(tags).count == tags.count else {
            fatalError("reel-uploads: hashtags of \(reelDebug(text)) repeat or are too many")
        }
        for tag in tags {
            guard !tag.isEmpty, tag.count <= Hashtags.maximumLength, tag.allSatisfy({ Hashtags.isWordCharacter($0) }),
                tag == tag.lowercased()
            else { fatalError("reel-uploads: hashtag \(reelDebug(tag)) of \(reelDebug(text))") }
        }
    }
}
