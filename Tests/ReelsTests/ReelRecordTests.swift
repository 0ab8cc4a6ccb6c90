import Crypto
import Foundation
import Testing

@testable import Reels

/// `ReelRecord.splice`, which adds `media` to the record text PostgreSQL returned.
@Suite struct ReelRecordTests {
    @Test func aMemberIsAddedBeforeTheClosingBrace() {
        #expect(ReelRecord.splice(#"{"id": "a"}"#, key: "media", value: "null") == #"{"id": "a", "media": null}"#)
        #expect(ReelRecord.splice(" {\"id\": 1}\t ", key: "media", value: "{}") == #"{"id": 1, "media": {}}"#)
    }

    @Test func anEmptyObjectGetsNoSeparator() {
        #expect(ReelRecord.splice("{}", key: "media", value: "null") == #"{"media": null}"#)
        #expect(ReelRecord.splice("{  }", key: "media", value: "null") == #"{"media": null}"#)
    }

    @Test func textThatIsNotAnObjectComesBackUnchanged() {
        for text in ["", "   ", "null", "[1]", #"{"a": 1"#, "é"] {
            #expect(ReelRecord.splice(text, key: "media", value: "null") == text)
        }
    }

    @Test func mediaLinksAreTheJSONAnEncoderWrites() async throws {
        let media = ReelMedia(key: SymmetricKey(size: .bits256))
        let links = try #require(try await media.links(for: "\(UUID().uuidString.lowercased())/attempt-1_A"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(links.json == String(decoding: try encoder.encode(links), as: UTF8.self))
    }
}
