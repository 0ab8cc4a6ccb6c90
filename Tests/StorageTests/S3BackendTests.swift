import Core
import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import Testing

@testable import Storage

/// `S3Backend` against a real S3-compatible server (moto, see `S3Peer`), each test on a bucket
/// of its own with the smallest part size S3 allows (5 MiB).
@Suite struct S3BackendTests {
    static let mebibyte = 1024 * 1024

    @Test func smallWriteReadStatRangeAndDelete() async throws {
        let backend = try await S3Peer.backend()
        let text = "hello, S3 world"
        let blob = try await backend.write(key: "a/small.txt", body: S3TestBody(text: text, chunk: 4), maxBytes: 1000)
        #expect(blob == StoredBlob(size: Int64(text.utf8.count), md5: Self.md5(Array(text.utf8))))
        #expect(try await backend.stat(key: "a/small.txt") == blob)
        #expect(try await Self.read(backend, "a/small.txt") == Array(text.utf8))
        #expect(try await Self.read(backend, "a/small.txt", 7..<9) == Array("S3".utf8))
        // Clamped at the end like the local backend; an empty or past-the-end range gives nothing.
        #expect(try await Self.read(backend, "a/small.txt", 10..<1000) == Array("world".utf8))
        #expect(try await Self.read(backend, "a/small.txt", 3..<3) == [])
        #expect(try await Self.read(backend, "a/small.txt", 500..<600) == [])

        try await backend.delete(key: "a/small.txt")
        #expect(try await backend.stat(key: "a/small.txt") == nil)
        try await backend.delete(key: "a/small.txt")
    }

    @Test func missingKeyIsBlobNotFound() async throws {
        let backend = try await S3Peer.backend()
        var consumed = false
        await #expect(throws: BlobNotFound.self) {
            try await backend.read(key: "nothing/here", range: nil) { _ in consumed = true }
        }
        await #expect(throws: BlobNotFound.self) {
            try await backend.read(key: "nothing/here", range: 0..<0) { _ in consumed = true }
        }
        #expect(!consumed)
        #expect(try await backend.stat(key: "nothing/here") == nil)
        let error = await #expect(throws: BlobNotFound.self) {
            try await backend.copy(from: "nothing/here", to: "elsewhere")
        }
        #expect(error?.key == "nothing/here")
    }

    @Test func emptyAndOverwrittenBlobs() async throws {
        let backend = try await S3Peer.backend()
        let empty = try await backend.write(key: "empty", body: S3TestBody(length: 0), maxBytes: 0)
        #expect(empty == StoredBlob(size: 0, md5: "d41d8cd98f00b204e9800998ecf8427e"))
        #expect(try await backend.stat(key: "empty") == empty)
        #expect(try await Self.read(backend, "empty") == [])

        _ = try await backend.write(key: "k", body: S3TestBody(text: "first version"), maxBytes: 100)
        let second = try await backend.write(key: "k", body: S3TestBody(text: "second"), maxBytes: 100)
        #expect(try await Self.read(backend, "k") == Array("second".utf8))
        #expect(try await backend.stat(key: "k") == second)
    }

    /// ~12 MiB in 5 MiB parts: three parts, the MD5 of the whole body, readable back whole and by
    /// ranges across part boundaries, and no upload left pending.
    @Test func multipartWrite() async throws {
        let backend = try await S3Peer.backend(partSize: 5 * Self.mebibyte)
        let length = 12 * Self.mebibyte + 12_345
        let blob = try await backend.write(key: "big/object.bin", body: S3TestBody(length: length, chunk: 100_000), maxBytes: Int64(length))
        let expected = StoredBlob(size: Int64(length), md5: Self.md5(S3TestBody.bytes(0..<length)))
        #expect(blob == expected)
        #expect(try await backend.stat(key: "big/object.bin") == expected)
        let head = try await backend.send("HeadObject", key: "big/object.bin", method: .HEAD, path: backend.objectPath("big/object.bin"))
        #expect(head.headers.first(name: S3Backend.md5Header) == expected.md5)

        var md5 = Insecure.MD5()
        var size = 0
        try await backend.read(key: "big/object.bin", range: nil) { chunk in
            size += chunk.readableBytes
            chunk.withUnsafeReadableBytes { md5.update(bufferPointer: $0) }
        }
        #expect(size == length)
        #expect(Hex.lowercase(md5.finalize()) == expected.md5)

        let boundary = 5 * Self.mebibyte
        #expect(try await Self.read(backend, "big/object.bin", Int64(boundary - 10)..<Int64(boundary + 10)) == S3TestBody.bytes(boundary - 10..<boundary + 10))
        #expect(try await Self.read(backend, "big/object.bin", Int64(length - 5)..<Int64(length + 5)) == S3TestBody.bytes(length - 5..<length))
        #expect(try await backend.pendingMultipartUploads().isEmpty)

        // A copy keeps the recorded MD5 of a multipart object.
        try await backend.copy(from: "big/object.bin", to: "big/copy.bin")
        #expect(try await backend.stat(key: "big/copy.bin") == expected)
    }

    /// A body of exactly one part goes in one PUT (its ETag is a plain MD5).
    @Test func bodyOfExactlyOnePartIsOnePut() async throws {
        let backend = try await S3Peer.backend(partSize: 5 * Self.mebibyte)
        let length = 5 * Self.mebibyte
        let blob = try await backend.write(key: "one", body: S3TestBody(length: length, chunk: 65_536), maxBytes: Int64(length))
        #expect(blob.md5 == Self.md5(S3TestBody.bytes(0..<length)))
        let response = try await backend.send("HeadObject", key: "one", method: .HEAD, path: backend.objectPath("one"))
        #expect(response.headers.first(name: "etag") == "\"\(blob.md5)\"")
    }

    @Test func maxBytesExceededLeavesNothing() async throws {
        let backend = try await S3Peer.backend(partSize: 5 * Self.mebibyte)
        await #expect(throws: BlobTooLarge.self) {
            try await backend.write(key: "small", body: S3TestBody(length: 101), maxBytes: 100)
        }
        #expect(try await backend.stat(key: "small") == nil)

        // Past the first part: the multipart upload has begun and must be aborted.
        let error = await #expect(throws: BlobTooLarge.self) {
            try await backend.write(key: "large", body: S3TestBody(length: 12 * Self.mebibyte, chunk: 1_000_000), maxBytes: Int64(11 * Self.mebibyte))
        }
        #expect(error?.limit == Int64(11 * Self.mebibyte))
        #expect(try await backend.stat(key: "large") == nil)
        #expect(try await backend.pendingMultipartUploads().isEmpty)

        // An existing object stays as it was.
        let kept = try await backend.write(key: "kept", body: S3TestBody(text: "original"), maxBytes: 100)
        await #expect(throws: BlobTooLarge.self) {
            try await backend.write(key: "kept", body: S3TestBody(length: 12 * Self.mebibyte, chunk: 1_000_000), maxBytes: Int64(6 * Self.mebibyte))
        }
        #expect(try await backend.stat(key: "kept") == kept)
        #expect(try await backend.pendingMultipartUploads().isEmpty)
    }

    @Test func failingBodyAbortsTheUpload() async throws {
        let backend = try await S3Peer.backend(partSize: 5 * Self.mebibyte)
        await #expect(throws: S3TestBody.Broken.self) {
            try await backend.write(key: "broken", body: S3TestBody(length: 12 * Self.mebibyte, chunk: 1_000_000, failAfter: 7 * Self.mebibyte), maxBytes: .max)
        }
        #expect(try await backend.stat(key: "broken") == nil)
        #expect(try await backend.pendingMultipartUploads().isEmpty)
    }

    @Test func presignedGetURL() async throws {
        let backend = try await S3Peer.backend()
        _ = try await backend.write(key: "shared/a b+c.txt", body: S3TestBody(text: "presigned"), maxBytes: 100)
        let url = try backend.presignedURL(key: "shared/a b+c.txt", expiresSeconds: 60)
        #expect(url.contains("/shared/a%20b%2Bc.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&"))
        #expect(url.contains("&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature="))
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        #expect(response.status == .ok)
        var body = try await response.body.collect(upTo: 1000)
        #expect(body.readString(length: body.readableBytes) == "presigned")
    }

    @Test func copyAndDelete() async throws {
        let backend = try await S3Peer.backend()
        let blob = try await backend.write(key: "src/one", body: S3TestBody(text: "copy me"), maxBytes: 100)
        try await backend.copy(from: "src/one", to: "dst/two")
        #expect(try await backend.stat(key: "dst/two") == blob)
        #expect(try await Self.read(backend, "dst/two") == Array("copy me".utf8))
        try await backend.delete(key: "src/one")
        #expect(try await backend.stat(key: "src/one") == nil)
        #expect(try await Self.read(backend, "dst/two") == Array("copy me".utf8))
    }

    /// Keys are stored exactly: spaces, non-ASCII, `+`, `%`, `?`, `#`, `&`, `=`, quotes.
    @Test(arguments: [
        "with space/file name.txt",
        "ünïcødé/日本語/✓ emoji 🎉.bin",
        "plus+sign/a+b=c&d",
        "percent%20literal/q?x=1#frag",
        "quotes/'single' \"double\" <angle> (paren) * ! ~ ; , @ $",
    ])
    func keysAreEncoded(key: String) async throws {
        let backend = try await S3Peer.backend()
        let blob = try await backend.write(key: key, body: S3TestBody(text: key), maxBytes: 1000)
        #expect(try await backend.stat(key: key) == blob)
        #expect(try await Self.read(backend, key) == Array(key.utf8))
        #expect(try await Self.listKeys(backend) == [key])
        try await backend.copy(from: key, to: key + " copy")
        #expect(try await Self.read(backend, key + " copy") == Array(key.utf8))
        try await backend.delete(key: key)
        try await backend.delete(key: key + " copy")
        #expect(try await Self.listKeys(backend) == [])
    }

    @Test func peerErrorsNameTheOperationAndCode() async throws {
        let endpoint = try await S3Peer.shared.endpoint()
        let backend = try S3Backend(settings: S3Peer.settings(endpoint: endpoint, bucket: "no-such-bucket-\(UInt32.random(in: 0...UInt32.max))"))
        let error = await #expect(throws: S3Error.self) {
            try await backend.write(key: "k", body: S3TestBody(text: "x"), maxBytes: 10)
        }
        #expect(error?.operation == "PutObject")
        #expect(error?.code == "NoSuchBucket")
        #expect(error?.status == 404)
        #expect(error.map { "\($0)" }?.contains("PutObject") == true)
        #expect(error.map { "\($0)" }?.contains("NoSuchBucket") == true)
        await #expect(throws: S3Error.self) { try await backend.delete(key: "k") }
    }

    @Test func unreachablePeerIsAnS3Error() async throws {
        var settings = S3Peer.settings(endpoint: "http://127.0.0.1:9", bucket: "bucket")
        settings.requestTimeoutSeconds = 2  // the client retries a refused connection until the deadline
        let backend = try S3Backend(settings: settings)
        let error = await #expect(throws: S3Error.self) { try await backend.stat(key: "k") }
        #expect(error?.operation == "HeadObject")
        #expect(error?.code == "RequestFailed")
    }

    @Test func settingsAreChecked() throws {
        #expect(throws: S3SettingsError.self) {
            try S3Backend(settings: S3Peer.settings(endpoint: "ftp://x", bucket: "b"))
        }
        #expect(throws: S3SettingsError.self) {
            try S3Backend(settings: S3Peer.settings(endpoint: "http://127.0.0.1:9", bucket: "b", partSize: 1024))
        }
        let settings = try S3Settings(environment: [
            "S3_ENDPOINT": "https://s3.example:9000/prefix/", "S3_BUCKET": "media", "S3_ACCESS_KEY_ID": "id",
            "S3_SECRET_ACCESS_KEY": "secret", "S3_PART_SIZE_BYTES": "16777216",
        ])
        #expect(settings.region == "us-east-1")
        #expect(settings.partSizeBytes == 16 * Self.mebibyte)
        let backend = try S3Backend(settings: settings)
        #expect(backend.hostHeader == "s3.example:9000")
        #expect(backend.objectPath("a b") == "/prefix/media/a%20b")
        #expect(throws: S3SettingsError.self) { try S3Settings(environment: ["S3_ENDPOINT": "http://x"]) }
    }

    @Test func xmlIsReadMinimally() {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>NoSuchKey</Code><Message>a &lt;b&gt; &amp; &#233;&#x2713; &bogus; &</Message></Error>
            """
        #expect(S3XML.isError(xml))
        #expect(S3XML.text("Code", in: xml) == "NoSuchKey")
        #expect(S3XML.text("Message", in: xml) == "a <b> & é✓ &bogus; &")
        #expect(S3XML.text("Missing", in: xml) == nil)
        #expect(!S3XML.isError("<CopyObjectResult><ETag>x</ETag></CopyObjectResult>"))
        #expect(S3XML.escape("\"a\"&<") == "&quot;a&quot;&amp;&lt;")
    }

    // MARK: - Helpers

    static func read(_ backend: S3Backend, _ key: String, _ range: Range<Int64>? = nil) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        try await backend.read(key: key, range: range) { chunk in bytes += chunk.readableBytesView }
        return bytes
    }

    static func md5(_ bytes: [UInt8]) -> String {
        Hex.lowercase(Insecure.MD5.hash(data: bytes))
    }

    /// The keys the server holds (ListObjectsV2, decoded by the server, not by us).
    static func listKeys(_ backend: S3Backend) async throws -> [String] {
        let response = try await backend.send(
            "ListObjectsV2", key: nil, method: .GET, path: backend.bucketPath(), query: [("list-type", "2")]
        )
        let xml = try await backend.xmlBody("ListObjectsV2", key: nil, response)
        return S3XML.elements("Contents", in: xml).compactMap { S3XML.text("Key", in: $0) }.sorted()
    }
}

/// A request body generated on the fly: `length` bytes of a fixed pattern (or a text) in
/// chunks, optionally failing part-way.
struct S3TestBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    typealias Failure = any Error
    struct Broken: Error {}

    let length: Int
    let chunk: Int
    let failAfter: Int?
    let text: [UInt8]?

    init(length: Int, chunk: Int = 65_536, failAfter: Int? = nil) {
        self.length = length
        self.chunk = chunk
        self.failAfter = failAfter
        self.text = nil
    }

    init(text: String, chunk: Int = 65_536) {
        self.text = Array(text.utf8)
        self.length = text.utf8.count
        self.chunk = chunk
        self.failAfter = nil
    }

    static func byte(at index: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: index &* 7 &+ index >> 9 &+ index >> 17)
    }

    static func bytes(_ range: Range<Int>) -> [UInt8] {
        range.map(byte(at:))
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let body: S3TestBody
        var offset = 0

        mutating func next() async throws -> ByteBuffer? {
            if let failAfter = body.failAfter, offset >= failAfter { throw Broken() }
            guard offset < body.length else { return nil }
            let end = Swift.min(body.length, offset + body.chunk)
            let bytes = body.text.map { Array($0[offset..<end]) } ?? S3TestBody.bytes(offset..<end)
            offset = end
            return ByteBuffer(bytes: bytes)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }
}
