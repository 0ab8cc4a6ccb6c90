import Foundation
import Testing

@testable import Storage

/// The TUS header decoders (client bytes): versions, byte counts, Upload-Metadata and upload ids.
@Suite struct TusHeadersTests {
    @Test func versionMustBe100() throws {
        try TusHeaders.checkVersion("1.0.0")
        #expect(throws: TusHeaderError.self) { try TusHeaders.checkVersion(nil) }
        #expect(throws: TusHeaderError.self) { try TusHeaders.checkVersion("0.2.2") }
    }

    @Test func byteCounts() throws {
        #expect(try TusHeaders.byteCount("0", header: "Upload-Offset") == 0)
        #expect(try TusHeaders.byteCount("524288000", header: "Upload-Length") == 524_288_000)
        #expect(try TusHeaders.byteCount("999999999999999999", header: "Upload-Length") == 999_999_999_999_999_999)
        for bad in [nil, "", "-1", "+1", " 1", "1.0", "1e3", "0x10", "9999999999999999999", "١٢"] {
            #expect(throws: TusHeaderError.self, "\(bad ?? "nil")") { try TusHeaders.byteCount(bad, header: "Upload-Length") }
        }
    }

    @Test func metadataPairs() throws {
        let header = "bucketName YXR0YWNobWVudHM=,objectName dXNlci/RhNCw0LnQuy50eHQ=, contentType dGV4dC9wbGFpbg==,flag"
        let pairs = try TusHeaders.metadata(header)
        #expect(pairs == ["bucketName": "attachments", "objectName": "user/файл.txt", "contentType": "text/plain", "flag": ""])
        #expect(try TusHeaders.metadata(TusHeaders.encodeMetadata(pairs)) == pairs)
        #expect(try TusHeaders.metadata(nil) == [:])
        #expect(try TusHeaders.metadata("  ") == [:])
        let bad = [
            "a YQ==,a YQ==",  // duplicate key
            "a YQ== b",  // three words
            "a YQ",  // unpadded base64
            "a YR==",  // non-canonical spare bits
            "a /w==",  // not UTF-8
            "a YQ==,",  // empty pair
            "ключ YQ==",  // non-ASCII key
            String(repeating: "k YQ==,", count: 40) + "z",  // too many pairs (and duplicates)
            "k " + String(repeating: "QUFB", count: 5000),  // over 16 KiB
        ]
        for header in bad {
            #expect(throws: TusHeaderError.self, "\(header.prefix(40))") { try TusHeaders.metadata(header) }
        }
    }

    @Test func uploadIDsRoundTripAndRefuseForgeries() throws {
        let id = TusHeaders.UploadID(bucket: "attachments", name: "u/файл 1.txt", id: UUID())
        let encoded = id.encoded
        #expect(!encoded.contains("=") && !encoded.contains("+") && !encoded.contains("/"))
        #expect(try TusHeaders.uploadID(encoded) == id)
        func segment(_ text: String) -> String {
            Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let uuid = UUID().uuidString.lowercased()
        let bad = [
            "", "!!!!", encoded + "=", segment("attachments/\(uuid)"), segment("attachments/a/not-a-uuid"),
            segment("attachments/../x/\(uuid)"), segment("bad bucket/a/\(uuid)"), segment("attachments/a/\(uuid.uppercased())"),
            segment("attachments//\(uuid)"), String(repeating: "A", count: TusHeaders.maxUploadIDBytes + 4),
        ]
        for text in bad {
            #expect(throws: TusHeaderError.self, "\(text.prefix(40))") { try TusHeaders.uploadID(text) }
        }
    }
}
