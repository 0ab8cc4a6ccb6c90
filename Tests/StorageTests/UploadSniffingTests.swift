import Core
import Crypto
import Foundation
import Logging
import NIOCore
import Testing
import TestSupport

@testable import Storage

/// Uploads through ``StorageService`` on a fresh database and the local backend: the type is
/// sniffed from the bytes and must match the declared one, and images are stored re-encoded
/// without metadata (fixtures made by ffmpeg at test time; nothing is committed).
@Suite struct UploadSniffingTests {
    static let service = StorageServiceTests.service

    /// A service (default or given media processor) with a private bucket `files`, and its directory.
    static func withStorage(
        media: MediaProcessor? = StorageService.locateMedia(), _ body: @Sendable (StorageService, URL) async throws -> Void
    ) async throws {
        try await TestDatabase.withDatabase { database in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sniff-test-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let backend = try await LocalDiskBackend(root: directory.path)
            var settings = StorageSettings()
            settings.maxUploadBytes = 4 * 1024 * 1024
            settings.processingDirectory = directory.appendingPathComponent("processing").path
            var logger = Logger(label: "sniff-test")
            logger.logLevel = .critical
            let storage = StorageService(database: database, backend: backend, settings: settings, logger: logger, media: media)
            try await storage.createBucket(service, id: "files", name: nil, options: .init(isPublic: false))
            try await body(storage, directory)
        }
    }

    /// `bytes` in chunks of `size` (to cross the 4 KiB read-ahead at odd places).
    static func chunked(_ bytes: [UInt8], size: Int) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + size, bytes.count)
                continuation.yield(ByteBuffer(bytes: bytes[offset..<end]))
                offset = end
            }
            continuation.finish()
        }
    }

    static func stored(_ storage: StorageService, _ object: StoredObject) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        try await storage.read(object, range: nil) { buffer in bytes += Array(buffer.readableBytesView) }
        return bytes
    }

    static func leftovers(_ directory: URL) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("processing").path)) ?? []
    }

    static func upload(
        _ storage: StorageService, _ name: String, _ type: String, _ bytes: [UInt8], chunk: Int = 1000
    ) async throws -> StoredObject {
        try await storage.upload(
            service, bucket: "files", name: name, upsert: false, content: UploadContent(mimeType: type), body: chunked(bytes, size: chunk))
    }

    /// Runs ffmpeg to make a fixture image.
    static func generate(_ arguments: [String], in directory: URL, name: String) throws -> [UInt8] {
        let media = try MediaProcessor.locate()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: media.ffmpegPath)
        process.arguments = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"] + arguments + [path]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "ffmpeg could not make \(name)")
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// A 320×240 JPEG with an Exif block (GPS IFD, a place in ImageDescription) after SOI.
    static func jpegWithGPS(in directory: URL) throws -> [UInt8] {
        let plain = try generate(["-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1"], in: directory, name: "plain.jpg")
        try #require(plain.starts(with: [0xFF, 0xD8]))
        return [0xFF, 0xD8] + MediaProcessorTests.exifWithGPS() + MediaProcessorTests.iccProfile() + plain.dropFirst(2)
    }

    // MARK: Declared vs detected

    @Test func declaredTypeThatTheBytesDoNotBackIsRefusedAndNothingIsStored() async throws {
        try await Self.withStorage { storage, directory in
            let html = Array("<!doctype html><html><script>alert(1)</script></html>".utf8)
            let refused = try await #require(throws: APIError.self) { try await Self.upload(storage, "x.png", "image/png", html) }
            #expect(refused.status == .unsupportedMediaType && refused.code == "invalid_mime_type")
            #expect(refused.message == "content-type: declared image/png but the bytes are text/plain")
            #expect(ErrorShapeMiddleware.render(refused, shape: .storage).status.code == 400)

            // A PNG is not a JPEG, and parameters or case do not change the declared type.
            let png = StorageServiceTests.onePixelPNG
            let lie = try await #require(throws: APIError.self) { try await Self.upload(storage, "p.jpg", "IMAGE/JPEG; q=1", png) }
            #expect(lie.message == "content-type: declared image/jpeg but the bytes are image/png")
            // Unrecognised binary bytes cannot claim to be a PDF or a video.
            let binary: [UInt8] = Array(0..<255) + Array(repeating: 0, count: 5000)
            await #expect(throws: APIError.self) { try await Self.upload(storage, "d.pdf", "application/pdf", binary) }
            await #expect(throws: APIError.self) { try await Self.upload(storage, "v.mp4", "video/mp4", binary) }
            // An empty object is not an image either.
            await #expect(throws: APIError.self) { try await Self.upload(storage, "e.png", "image/png", []) }

            #expect(StorageServiceTests.blobCount(directory) == 0)
            for name in ["x.png", "p.jpg", "d.pdf", "v.mp4", "e.png"] {
                await #expect(throws: StorageError.objectNotFound) { try await storage.object(Self.service, bucket: "files", name: name) }
            }
        }
    }

    @Test func textAndUnknownBinaryPassUnchanged() async throws {
        try await Self.withStorage { storage, directory in
            // Longer than the 4 KiB read-ahead, in chunks that straddle it: replayed byte for byte.
            let text = Array(String(repeating: "hello, world — привет\n", count: 400).utf8)
            let plain = try await Self.upload(storage, "a.txt", "text/plain", text, chunk: 7)
            #expect(plain.mimeType == "text/plain" && plain.size == Int64(text.count))
            #expect(try await Self.stored(storage, plain) == text)
            #expect(plain.etag == Insecure.MD5.hash(data: text).map { String(format: "%02x", $0) }.joined())
            // supabase-py's default type for bytes.
            let short = try await Self.upload(storage, "b.txt", "text/plain;charset=UTF-8", Array("hi".utf8))
            #expect(try await Self.stored(storage, short) == Array("hi".utf8))
            // Binary declared as octet-stream (or with supabase-py's default text type), and text as CSV.
            let binary: [UInt8] = Array(0..<255) + Array(repeating: 7, count: 9000)
            let unknown = try await Self.upload(storage, "c.bin", "application/octet-stream", binary, chunk: 4096)
            #expect(try await Self.stored(storage, unknown) == binary)
            let defaulted = try await Self.upload(storage, "d.bin", "text/plain;charset=UTF-8", binary, chunk: 5000)
            #expect(try await Self.stored(storage, defaulted) == binary)
            _ = try await Self.upload(storage, "e.csv", "text/csv", Array("a,b\n1,2\n".utf8))
            #expect(StorageServiceTests.blobCount(directory) == 5)
            #expect(Self.leftovers(directory).isEmpty)
        }
    }

    // MARK: Images

    @Test func jpegIsStoredWithoutExifOrGPS() async throws {
        try await Self.withStorage { storage, directory in
            let tagged = try Self.jpegWithGPS(in: directory.appendingPathComponent("fixtures"))
            #expect(MediaProcessorTests.contains(tagged, "Exif") && MediaProcessorTests.contains(tagged, "SECRET-PLACE"))
            let object = try await Self.upload(storage, "photo.jpg", "image/jpeg", tagged, chunk: 1500)
            let bytes = try await Self.stored(storage, object)
            #expect(bytes.starts(with: [0xFF, 0xD8, 0xFF]))
            for secret in ["Exif", "GPS", "SECRET-PLACE", "55.7558", "ICC_PROFILE", "PRIVATE-ICC"] {
                #expect(!MediaProcessorTests.contains(bytes, secret), "the stored JPEG still contains \(secret)")
            }
            #expect(object.mimeType == "image/jpeg" && object.size == Int64(bytes.count))
            #expect(object.etag == Insecure.MD5.hash(data: bytes).map { String(format: "%02x", $0) }.joined())
            // Declared as a download: still a photo, still cleaned.
            let download = try await Self.upload(storage, "photo.bin", "application/octet-stream", tagged)
            #expect(!MediaProcessorTests.contains(try await Self.stored(storage, download), "Exif"))
            #expect(download.mimeType == "image/jpeg")
            #expect(Self.leftovers(directory).isEmpty)
        }
    }

    @Test func gifIsStoredAsPNG() async throws {
        try await Self.withStorage { storage, directory in
            let gif = try Self.generate(
                ["-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1"], in: directory.appendingPathComponent("fixtures"), name: "a.gif")
            let object = try await Self.upload(storage, "a.gif", "image/gif", gif)
            #expect(object.mimeType == "image/png")
            #expect(try await Self.stored(storage, object).starts(with: [0x89, 0x50, 0x4E, 0x47]))
        }
    }

    @Test func undecodableImageIsRefusedAndNothingIsStored() async throws {
        try await Self.withStorage { storage, directory in
            let broken: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + Array(repeating: 0x41, count: 3000)
            let refused = try await #require(throws: APIError.self) { try await Self.upload(storage, "bad.jpg", "image/jpeg", broken) }
            #expect(refused.status == .unsupportedMediaType && refused.code == "invalid_image")
            #expect(refused.message.hasPrefix("image: "))
            #expect(StorageServiceTests.blobCount(directory) == 0)
            #expect(Self.leftovers(directory).isEmpty)
            await #expect(throws: StorageError.objectNotFound) { try await storage.object(Self.service, bucket: "files", name: "bad.jpg") }
        }
    }

    @Test func withoutFFmpegImagesFailClosed() async throws {
        try await Self.withStorage(media: nil) { storage, directory in
            let refused = try await #require(throws: APIError.self) {
                try await Self.upload(storage, "a.png", "image/png", StorageServiceTests.onePixelPNG)
            }
            #expect(refused.status == .serviceUnavailable && refused.code == "media_unavailable")
            #expect(ErrorShapeMiddleware.render(refused, shape: .storage).status.code == 503)
            #expect(StorageServiceTests.blobCount(directory) == 0)
            // Other files are not affected.
            _ = try await Self.upload(storage, "a.txt", "text/plain", Array("fine".utf8))
        }
    }

    @Test func imageOverTheLimitIsRefusedWhileStreaming() async throws {
        try await Self.withStorage { storage, directory in
            try await storage.updateBucket(Self.service, id: "files", options: .init(fileSizeLimit: .some(5000)))
            let tagged = try Self.jpegWithGPS(in: directory.appendingPathComponent("fixtures"))
            try #require(tagged.count > 5000)
            await #expect(throws: StorageError.tooLarge(limit: 5000)) { try await Self.upload(storage, "big.jpg", "image/jpeg", tagged) }
            #expect(StorageServiceTests.blobCount(directory) == 0)
            #expect(Self.leftovers(directory).isEmpty)
        }
    }
}
