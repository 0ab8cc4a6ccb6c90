import Foundation
@testable import Storage
import Testing

/// Type sniffing from magic numbers, and the declared-versus-sniffed rule (lies refused).
@Suite struct ContentSnifferTests {
    static func bytes(_ parts: [UInt8]...) -> [UInt8] { parts.flatMap { $0 } }
    static func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// An ISO BMFF `ftyp` box with a major brand and compatible brands.
    static func ftyp(_ major: String, _ compatible: [String] = []) -> [UInt8] {
        let size = 16 + 4 * compatible.count
        return [0, 0, 0, UInt8(size)] + ascii("ftyp") + ascii(major) + [0, 0, 0, 0] + compatible.flatMap(ascii) + [0, 0, 0, 8] + ascii("mdat")
    }

    /// An EBML header with `docType`, then a Segment of unknown size holding Tracks with one
    /// track entry per `trackTypes` value.
    static func ebml(_ docType: String, trackTypes: [UInt8]) -> [UInt8] {
        let doc: [UInt8] = [0x42, 0x82, 0x80 | UInt8(docType.utf8.count)] + ascii(docType)
        let header: [UInt8] = [0x1A, 0x45, 0xDF, 0xA3, 0x80 | UInt8(doc.count + 4)] + [0x42, 0x86, 0x81, 0x01] + doc
        let info: [UInt8] = [0x15, 0x49, 0xA9, 0x66, 0x83, 0x2A, 0xD7, 0xB1]
        let entries = trackTypes.flatMap { type -> [UInt8] in [0xAE, 0x86, 0xD7, 0x81, 0x01] + [0x83, 0x81, type] }
        let tracks: [UInt8] = [0x16, 0x54, 0xAE, 0x6B, 0x80 | UInt8(entries.count)] + entries
        let segment: [UInt8] = [0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        return header + segment + info + tracks + [0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
    }

    @Test(arguments: [
        (bytes([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10]) + ascii("JFIF"), "image/jpeg"),
        (bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]) + ascii("IHDR"), "image/png"),
        (ascii("GIF89a\u{1}\0\u{1}\0"), "image/gif"),
        (ascii("GIF87a"), "image/gif"),
        (ascii("RIFF") + [0x24, 0, 0, 0] + ascii("WEBPVP8 "), "image/webp"),
        (ascii("RIFF") + [0x24, 0, 0, 0] + ascii("WAVEfmt "), "audio/wav"),
        (ftyp("heic", ["mif1", "heic"]), "image/heic"),
        (ftyp("mif1", ["heic"]), "image/heic"),
        (ftyp("heix"), "image/heic"),
        (ftyp("mif1", ["avif"]), "application/octet-stream"),
        (ftyp("isom", ["isom", "iso2", "avc1", "mp41"]), "video/mp4"),
        (ftyp("mp42"), "video/mp4"),
        (ftyp("avc1"), "video/mp4"),
        (ftyp("iso5"), "video/mp4"),
        (ftyp("qt  ", ["qt  "]), "video/quicktime"),
        (bytes([0, 0, 0, 8]) + ascii("wide") + [0, 0, 0, 8] + ascii("mdat"), "video/quicktime"),
        (ftyp("M4A ", ["M4A ", "mp42", "isom"]), "audio/mp4"),
        (ftyp("zzzz"), "application/octet-stream"),
        (ebml("webm", trackTypes: [1, 2]), "video/webm"),
        (ebml("webm", trackTypes: [2]), "audio/webm"),
        (ebml("webm", trackTypes: []), "video/webm"),
        (ebml("matroska", trackTypes: [1]), "video/x-matroska"),
        (ebml("other", trackTypes: [1]), "application/octet-stream"),
        (ascii("OggS\0\u{2}"), "audio/ogg"),
        (ascii("ID3\u{4}\0\0\0\0\0\0"), "audio/mpeg"),
        (bytes([0xFF, 0xFB, 0x90, 0x64]), "audio/mpeg"),
        (bytes([0xFF, 0xF1, 0x50, 0x80]), "application/octet-stream"),  // ADTS AAC, not MP3
        (ascii("%PDF-1.7\n"), "application/pdf"),
        (ascii("hello, мир 👋"), "text/plain"),
        (ascii("<!DOCTYPE html><script>alert(1)</script>"), "text/plain"),
        (ascii("a\0b"), "application/octet-stream"),
        (ascii("tab\tline\r\nform\u{0C}escape\u{1B}[0m"), "text/plain"),
        (ascii("a\u{01}b"), "application/octet-stream"),
        (bytes([0x68, 0xC3]), "application/octet-stream"),  // a whole object ending mid-character
        (bytes([0xED, 0xA0, 0x80]), "application/octet-stream"),  // an encoded surrogate
        (bytes([0xC0, 0xAF]), "application/octet-stream"),  // an overlong encoding
        (bytes([0x50, 0x4B, 0x03, 0x04]), "application/octet-stream"),
        ([], "application/octet-stream"),
    ] as [([UInt8], String)])
    func sniffs(_ prefix: [UInt8], _ expected: String) {
        #expect(ContentSniffer.mimeType(of: prefix) == expected)
    }

    @Test func readsOnlyThePrefixAndAllowsACharacterCutByIt() {
        let text = Array(repeating: UInt8(ascii: "a"), count: ContentSniffer.prefixLength - 1) + [0xD0, 0xBC]
        #expect(ContentSniffer.mimeType(of: text) == "text/plain")
        let binaryLater = Array(repeating: UInt8(ascii: "a"), count: ContentSniffer.prefixLength) + [0]
        #expect(ContentSniffer.mimeType(of: binaryLater) == "text/plain")
        #expect(ContentSniffer.mimeType(of: Data([0xFF, 0xD8, 0xFF, 0xDB])) == "image/jpeg")
    }

    @Test(arguments: [
        // Same type, parameters and case ignored; container families.
        ("image/png", "image/png", true),
        ("IMAGE/JPEG; q=1", "image/jpeg", true),
        ("image/jpg", "image/jpeg", true),
        ("audio/webm;codecs=opus", "video/webm", true),
        ("video/webm", "audio/webm", true),
        ("audio/mp4", "video/mp4", true),
        ("video/quicktime", "video/mp4", true),
        ("audio/x-m4a", "audio/mp4", true),
        ("audio/opus", "audio/ogg", true),
        ("audio/mp3", "audio/mpeg", true),
        ("audio/x-wav", "audio/wav", true),
        ("image/heif", "image/heic", true),
        // octet-stream may be declared for anything.
        ("application/octet-stream", "image/png", true),
        ("application/octet-stream", "text/plain", true),
        // Text and unrecognised bytes: any type that needs no proof.
        ("text/plain; charset=utf-8", "text/plain", true),
        ("text/html", "text/plain", true),
        ("text/csv", "application/octet-stream", true),
        ("application/json", "text/plain", true),
        ("application/zip", "application/octet-stream", true),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/octet-stream", true),
        // Lies.
        ("image/jpeg", "image/png", false),
        ("image/png", "text/plain", false),
        ("image/svg+xml", "text/plain", false),
        ("image/png", "application/octet-stream", false),
        ("video/mp4", "video/webm", false),
        ("audio/mpeg", "video/mp4", false),
        ("image/heic", "video/mp4", false),
        ("video/mp4", "image/heic", false),
        ("application/pdf", "text/plain", false),
        ("application/zip", "image/png", false),
        ("text/plain", "application/pdf", false),
        ("text/html", "image/gif", false),
    ] as [(String, String, Bool)])
    func declaredVersusSniffed(_ declared: String, _ sniffed: String, _ expected: Bool) {
        #expect(ContentSniffer.declared(declared, matchesSniffed: sniffed) == expected)
    }

    @Test func aPNGDeclaredAsJPEGAndHTMLDeclaredAsPNGAreLies() {
        let png = Self.bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(!ContentSniffer.declared("image/jpeg", matchesSniffed: ContentSniffer.mimeType(of: png)))
        let html = Self.ascii("<html><body onload=alert(1)></body></html>")
        #expect(!ContentSniffer.declared("image/png", matchesSniffed: ContentSniffer.mimeType(of: html)))
        #expect(ContentSniffer.declared("text/html", matchesSniffed: ContentSniffer.mimeType(of: html)))
    }

    @Test func everySniffedTypeMatchesItself() {
        for family in ContentSniffer.families {
            for type in family {
                #expect(ContentSniffer.declared(type, matchesSniffed: type))
            }
        }
    }
}
