import NIOCore
import Testing

@testable import Storage

/// The streaming multipart/form-data reader of uploads: supabase-py's body (spec §5.2),
/// every chunking of the same bytes giving the same result, boundary-like file bytes, CRLF
/// edge cases, each limit, precise errors, and a 50 MB upload held in bounded memory.
@Suite struct MultipartStreamTests {
    static let boundary = "76460ca87dcabb2e7a0f029f1c9be377"

    /// The body supabase-py (httpx) sent for `upload("dir/a.txt", b"hello")`, spec §5.2, with its CRLFs.
    static let specBody = Array(
        (
            "--76460ca87dcabb2e7a0f029f1c9be377\r\n"
                + "Content-Disposition: form-data; name=\"cacheControl\"\r\n"
                + "\r\n"
                + "3600\r\n"
                + "--76460ca87dcabb2e7a0f029f1c9be377\r\n"
                + "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
                + "Content-Type: text/plain\r\n"
                + "\r\n"
                + "hello\r\n"
                + "--76460ca87dcabb2e7a0f029f1c9be377--\r\n"
        ).utf8)

    /// A body of these parts (`(headers, content)`), CRLF line ends, closing boundary.
    static func body(_ parts: [(String, [UInt8])], boundary: String = boundary, preamble: String = "", epilogue: String = "\r\n") -> [UInt8] {
        var bytes = Array(preamble.utf8)
        for (headers, content) in parts {
            bytes += Array("--\(boundary)\r\n\(headers)\r\n\r\n".utf8) + content + Array("\r\n".utf8)
        }
        return bytes + Array("--\(boundary)--\(epilogue)".utf8)
    }

    static func field(_ name: String, _ value: String) -> (String, [UInt8]) {
        ("Content-Disposition: form-data; name=\"\(name)\"", Array(value.utf8))
    }

    static func file(_ content: [UInt8], filename: String = "a.txt", type: String = "text/plain") -> (String, [UInt8]) {
        ("Content-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: \(type)", content)
    }

    /// A request body of ready chunks.
    struct Body: AsyncSequence, Sendable {
        let chunks: [ByteBuffer]
        var failure: MultipartError?

        func makeAsyncIterator() -> Iterator { Iterator(chunks: chunks[...], failure: failure) }

        struct Iterator: AsyncIteratorProtocol {
            var chunks: ArraySlice<ByteBuffer>
            var failure: MultipartError?
            mutating func next() async throws -> ByteBuffer? {
                if let chunk = chunks.popFirst() { return chunk }
                if let failure { throw failure }
                return nil
            }
        }
    }

    /// `bytes` cut into chunks of the given sizes (the last size repeats).
    static func chunks(_ bytes: [UInt8], sizes: [Int]) -> [ByteBuffer] {
        var result: [ByteBuffer] = []
        var start = 0
        var index = 0
        while start < bytes.count {
            let size = max(1, sizes[min(index, sizes.count - 1)])
            let end = min(bytes.count, start + size)
            result.append(ByteBuffer(bytes: bytes[start..<end]))
            start = end
            index += 1
        }
        return result
    }

    /// Deterministic chunk sizes 1...max.
    static func randomSizes(seed: UInt64, count: Int, max: Int) -> [Int] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(max)) + 1
        }
    }

    /// Everything a read yields, or its error's message.
    enum Outcome: Equatable {
        case read(before: [String: String], name: String, filename: String?, contentType: String?, bytes: [UInt8], all: [String: String])
        case failed(String)
    }

    static func outcome(_ chunks: [ByteBuffer], boundary: String = boundary, limits: MultipartLimits = MultipartLimits()) async -> Outcome {
        do {
            let upload = try await MultipartUpload.read(body: Body(chunks: chunks), boundary: boundary, limits: limits)
            var bytes: [UInt8] = []
            for try await chunk in upload.file.bytes { bytes += Array(chunk.readableBytesView) }
            let all = try await upload.finish()
            return .read(
                before: upload.fields, name: upload.file.name, filename: upload.file.filename,
                contentType: upload.file.contentType, bytes: bytes, all: all
            )
        } catch {
            return .failed("\(error)")
        }
    }

    static func outcome(_ bytes: [UInt8], boundary: String = boundary, limits: MultipartLimits = MultipartLimits()) async -> Outcome {
        await outcome([ByteBuffer(bytes: bytes)], boundary: boundary, limits: limits)
    }

    /// Reading `bytes` whole, then split at every byte position, in 1- and 7-byte chunks and
    /// in random chunks, gives the same outcome each time; returns it.
    static func sameForEveryChunking(_ bytes: [UInt8], boundary: String = boundary, limits: MultipartLimits = MultipartLimits()) async -> Outcome {
        let whole = await outcome(bytes, boundary: boundary, limits: limits)
        for split in 0...bytes.count {
            let pieces = [ByteBuffer(bytes: bytes[..<split]), ByteBuffer(bytes: bytes[split...])]
            let result = await outcome(pieces, boundary: boundary, limits: limits)
            #expect(result == whole, "split at \(split)")
        }
        for sizes in [[1], [7], randomSizes(seed: 1, count: bytes.count, max: 13), randomSizes(seed: 2, count: bytes.count, max: 64)] {
            let result = await outcome(chunks(bytes, sizes: sizes), boundary: boundary, limits: limits)
            #expect(result == whole, "chunk sizes \(sizes.prefix(8))…")
        }
        return whole
    }

    // MARK: - Real bodies

    @Test func specBodyAsCaptured() async throws {
        let outcome = await Self.sameForEveryChunking(Self.specBody)
        #expect(
            outcome
                == .read(
                    before: ["cacheControl": "3600"], name: "file", filename: "a.txt", contentType: "text/plain",
                    bytes: Array("hello".utf8), all: ["cacheControl": "3600"]
                ))
    }

    @Test func specBodyWithItsContentTypeHeader() throws {
        #expect(try MultipartContentType.boundary("multipart/form-data; boundary=76460ca87dcabb2e7a0f029f1c9be377") == Self.boundary)
    }

    @Test func metadataAndFieldsAfterTheFile() async {
        let metadata = #"{"owner":"ünïcode","tags":["a","b"],"quote":"\"x\""}"#
        let body = Self.body([
            Self.file(Array("file first".utf8), type: "application/json"),
            Self.field("metadata", metadata),
            Self.field("cacheControl", "60"),
        ])
        let outcome = await Self.sameForEveryChunking(body)
        #expect(
            outcome
                == .read(
                    before: [:], name: "file", filename: "a.txt", contentType: "application/json",
                    bytes: Array("file first".utf8), all: ["metadata": metadata, "cacheControl": "60"]
                ))
    }

    @Test func fieldsOnBothSidesOfTheFile() async {
        let body = Self.body([Self.field("metadata", "{}"), Self.file(Array("x".utf8)), Self.field("cacheControl", "3600")])
        let outcome = await Self.outcome(body)
        #expect(
            outcome
                == .read(
                    before: ["metadata": "{}"], name: "file", filename: "a.txt", contentType: "text/plain",
                    bytes: Array("x".utf8), all: ["metadata": "{}", "cacheControl": "3600"]
                ))
    }

    @Test func fileWithoutFilenameOrContentType() async {
        let body = Self.body([("Content-Disposition: form-data; name=file", Array("raw".utf8))])
        #expect(await Self.outcome(body) == .read(before: [:], name: "file", filename: nil, contentType: nil, bytes: Array("raw".utf8), all: [:]))
    }

    @Test func headerNamesAreCaseInsensitiveAndParametersMayBeQuotedOrEscaped() async {
        let headers = "content-disposition: FORM-DATA; filename=\"we \\\"ird\\\\ ñame.txt\" ; NAME=\"file\"\r\nX-Other: ignored\r\nCONTENT-TYPE:image/png  "
        let body = Self.body([(headers, [0, 1, 2])])
        #expect(
            await Self.outcome(body)
                == .read(before: [:], name: "file", filename: "we \"ird\\ ñame.txt", contentType: "image/png", bytes: [0, 1, 2], all: [:]))
    }

    // MARK: - Boundary-like bytes and CRLF

    @Test func boundaryLikeBytesInsideTheFile() async {
        let tricky = Array(
            ("--\(Self.boundary)\r\n"  // a boundary not preceded by CRLF is content
                + "\r\n--\(Self.boundary.dropLast())"  // a delimiter missing its last character
                + "\r\n--\r\n-\r\r\n\n--\(Self.boundary.prefix(5))"
                + "--\(Self.boundary)--"  // a close not preceded by CRLF
                + "\r\n\r\n\r").utf8) + [0, 255, 13]
        let outcome = await Self.sameForEveryChunking(Self.body([Self.field("cacheControl", "1"), Self.file(tricky)]))
        #expect(
            outcome
                == .read(
                    before: ["cacheControl": "1"], name: "file", filename: "a.txt", contentType: "text/plain", bytes: tricky,
                    all: ["cacheControl": "1"]))
    }

    @Test func aWholeDelimiterInsideTheFileFollowedByOtherBytesIsRejected() async {
        let body = Self.body([Self.file(Array("a\r\n--\(Self.boundary)X b".utf8))])
        #expect(await Self.sameForEveryChunking(body) == .failed("multipart: boundary not followed by CRLF or --"))
    }

    @Test func fileEndingInCRLFKeepsIt() async {
        for content in ["", "\r", "\n", "\r\n", "hello\r\n", "\r\n\r\n"] {
            let outcome = await Self.sameForEveryChunking(Self.body([Self.file(Array(content.utf8))]))
            #expect(outcome == .read(before: [:], name: "file", filename: "a.txt", contentType: "text/plain", bytes: Array(content.utf8), all: [:]), "\(Array(content.utf8))")
        }
    }

    @Test func preambleEpilogueAndTransportPadding() async {
        let b = Self.boundary
        let body = Array(
            ("preamble text\r\n--\(b) \t\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--\(b)--epilogue is ignored --\(b)\r\n").utf8)
        #expect(await Self.sameForEveryChunking(body) == .read(before: [:], name: "file", filename: nil, contentType: nil, bytes: [120], all: [:]))
        // A body that starts with CRLF: the CRLF belongs to the first delimiter.
        let leading = Array("\r\n".utf8) + Self.body([Self.file([1])])
        #expect(await Self.outcome(leading) == .read(before: [:], name: "file", filename: "a.txt", contentType: "text/plain", bytes: [1], all: [:]))
        // A close with nothing after it.
        let bare = Self.body([Self.file([1])], epilogue: "")
        #expect(await Self.outcome(bare) == .read(before: [:], name: "file", filename: "a.txt", contentType: "text/plain", bytes: [1], all: [:]))
    }

    @Test func bareLineFeedsAreRejected() async {
        let body = Array("--\(Self.boundary)\nContent-Disposition: form-data; name=\"file\"\n\nx\n--\(Self.boundary)--\n".utf8)
        #expect(await Self.sameForEveryChunking(body) == .failed("multipart: boundary not followed by CRLF or --"))
        let inHeaders = Array("--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"file\"\nX: y\r\n\r\nx\r\n--\(Self.boundary)--".utf8)
        #expect(await Self.sameForEveryChunking(inHeaders) == .failed("multipart: malformed part header: control character in Content-Disposition"))
    }

    @Test func truncatedBodies() async {
        let body = Self.specBody
        for cut in [0, 10, 40, 120, body.count - 40, body.count - 5] {
            let outcome = await Self.outcome(Array(body[..<cut]))
            let expected = cut < 36 ? "multipart: missing opening boundary" : "multipart: missing closing boundary"
            #expect(outcome == .failed(expected), "cut at \(cut)")
        }
    }

    @Test func theFileStreamThrowsWhenTheBodyEndsInsideTheFile() async throws {
        let body = Array("--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\npartial content".utf8)
        let upload = try await MultipartUpload.read(body: Body(chunks: [ByteBuffer(bytes: body)]), boundary: Self.boundary)
        var received: [UInt8] = []
        await #expect(throws: MultipartError.missingClosingBoundary) {
            for try await chunk in upload.file.bytes { received += Array(chunk.readableBytesView) }
        }
        #expect(received.count <= "partial content".utf8.count)
        await #expect(throws: MultipartError.missingClosingBoundary) { _ = try await upload.finish() }
    }

    @Test func errorsOfTheBodyPassThrough() async {
        let body = Body(chunks: [ByteBuffer(bytes: Self.specBody.prefix(150))], failure: .concurrentRead)
        await #expect(throws: MultipartError.concurrentRead) {
            let upload = try await MultipartUpload.read(body: body, boundary: Self.boundary)
            for try await _ in upload.file.bytes {}
        }
    }

    @Test func finishSkipsAnUnreadFile() async throws {
        let body = Self.body([Self.file(Array(repeating: 7, count: 10_000)), Self.field("cacheControl", "9")])
        let upload = try await MultipartUpload.read(body: Body(chunks: Self.chunks(body, sizes: [100])), boundary: Self.boundary)
        #expect(try await upload.finish() == ["cacheControl": "9"])
    }

    // MARK: - Malformed parts

    @Test(arguments: [
        ([MultipartStreamTests.field("cacheControl", "3600")], "multipart: no part named file"),
        ([MultipartStreamTests.file([1]), MultipartStreamTests.file([2])], "multipart: more than one file part named \"file\""),
        ([MultipartStreamTests.field("a", "1"), MultipartStreamTests.field("a", "2"), MultipartStreamTests.file([1])], "multipart: more than one part named \"a\""),
        ([("Content-Type: text/plain", [UInt8]())], "multipart: part has no Content-Disposition header"),
        ([("Content-Disposition: attachment; name=\"file\"", [UInt8]())], "multipart: Content-Disposition is \"attachment\", not form-data"),
        ([("Content-Disposition: form-data; filename=\"a\"", [UInt8]())], "multipart: Content-Disposition has no name"),
        ([("Content-Disposition: form-data; name=\"\"", [UInt8]())], "multipart: Content-Disposition has no name"),
        ([("Content-Disposition: form-data; name=\"file\"; name=\"x\"", [UInt8]())], "multipart: malformed part header: Content-Disposition repeats name"),
        ([("Content-Disposition: form-data; name=\"file", [UInt8]())], "multipart: malformed part header: unterminated quoted-string in Content-Disposition"),
        ([("Content-Disposition: form-data; name=\"file\"\r\nContent-Disposition: form-data; name=\"file\"", [UInt8]())], "multipart: part has more than one Content-Disposition header"),
        ([("Content-Disposition: form-data; name=\"file\"\r\nContent-Type: a\r\nContent-Type: b", [UInt8]())], "multipart: part has more than one Content-Type header"),
        ([("Content-Disposition: form-data; name=\"file\"\r\n folded", [UInt8]())], "multipart: malformed part header: folded header line"),
        ([("Content-Disposition: form-data; name=\"file\"\r\nNo colon here", [UInt8]())], "multipart: malformed part header: line without a colon"),
        ([("Content-Disposition: form-data; name=\"file\"\r\nBad Name: x", [UInt8]())], "multipart: malformed part header: invalid header name"),
        ([("Content-Disposition: form-data; name=\"file\"\r\nX: a\u{1}b", [UInt8]())], "multipart: malformed part header: control character in X"),
        ([MultipartStreamTests.field("cacheControl", "x"), ("Content-Disposition: form-data; name=\"metadata\"", [0xFF, 0xFE]), MultipartStreamTests.file([])], "multipart: field \"metadata\" is not UTF-8"),
    ] as [([(String, [UInt8])], String)])
    func malformedPartsAreRejectedPrecisely(_ parts: [(String, [UInt8])], _ message: String) async {
        #expect(await Self.sameForEveryChunking(Self.body(parts)) == .failed(message))
    }

    @Test func invalidUTF8InAHeaderIsRejected() async {
        var body = Array("--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"".utf8)
        body += [0xC3, 0x28] + Array("\"\r\n\r\nx\r\n--\(Self.boundary)--".utf8)
        #expect(await Self.outcome(body) == .failed("multipart: malformed part header: Content-Disposition is not UTF-8"))
    }

    @Test func aBoundaryRFC2046DoesNotAllowIsRejected() async {
        #expect(await Self.outcome(Self.specBody, boundary: "") == .failed("multipart: invalid boundary: empty"))
        #expect(await Self.outcome(Self.specBody, boundary: "a\"b") == .failed("multipart: invalid boundary: character outside RFC 2046 bchars"))
    }

    // MARK: - Limits: each one at its bound and one byte past it

    @Test func fieldLimit() async {
        let limits = MultipartLimits(maxFieldBytes: 64)
        let atLimit = Self.body([Self.field("metadata", String(repeating: "m", count: 64)), Self.file([1])])
        if case .failed(let message) = await Self.outcome(atLimit, limits: limits) { Issue.record("64 bytes: \(message)") }
        let over = Self.body([Self.field("metadata", String(repeating: "m", count: 65)), Self.file([1])])
        #expect(await Self.sameForEveryChunking(over, limits: limits) == .failed("multipart: field \"metadata\" exceeds 64 bytes"))
        // The file is not a field: it may be far larger.
        let bigFile = Self.body([Self.file(Array(repeating: 1, count: 10_000))])
        if case .failed(let message) = await Self.outcome(bigFile, limits: limits) { Issue.record("file: \(message)") }
        // The default, in its message.
        let huge = Self.body([Self.field("metadata", String(repeating: "m", count: 65_537)), Self.file([1])])
        #expect(await Self.outcome(huge) == .failed("multipart: field \"metadata\" exceeds 64 KiB"))
    }

    @Test func headerLimit() async {
        // The header block counts from the end of the boundary (its CRLF included) to the blank line.
        let disposition = "Content-Disposition: form-data; name=\"file\""
        let padding = { (count: Int) in "\r\nX-Pad: " + String(repeating: "p", count: count) }
        let base = 2 + disposition.utf8.count + padding(0).utf8.count
        let limits = MultipartLimits(maxHeaderBytes: 200)
        let atLimit = Self.body([(disposition + padding(200 - base), [1])])
        if case .failed(let message) = await Self.sameForEveryChunking(atLimit, limits: limits) { Issue.record("at limit: \(message)") }
        let over = Self.body([(disposition + padding(201 - base), [1])])
        #expect(await Self.sameForEveryChunking(over, limits: limits) == .failed("multipart: part headers exceed 200 bytes"))
        // Headers that never end.
        let endless = Array("--\(Self.boundary)\r\n".utf8) + Array(repeating: UInt8(ascii: "a"), count: 20_000)
        #expect(await Self.outcome(Self.chunks(endless, sizes: [1000])) == .failed("multipart: part headers exceed 16 KiB"))
    }

    @Test func headerCountLimit() async {
        let limits = MultipartLimits(maxHeadersPerPart: 3)
        let three = "Content-Disposition: form-data; name=\"file\"\r\nA: 1\r\nB: 2"
        if case .failed(let message) = await Self.outcome(Self.body([(three, [1])]), limits: limits) { Issue.record("3 headers: \(message)") }
        #expect(await Self.sameForEveryChunking(Self.body([(three + "\r\nC: 3", [1])]), limits: limits) == .failed("multipart: more than 3 headers in a part"))
    }

    @Test func partLimit() async {
        let limits = MultipartLimits(maxParts: 3)
        let three = Self.body([Self.field("a", "1"), Self.field("b", "2"), Self.file([1])])
        if case .failed(let message) = await Self.outcome(three, limits: limits) { Issue.record("3 parts: \(message)") }
        let four = Self.body([Self.field("a", "1"), Self.field("b", "2"), Self.field("c", "3"), Self.file([1])])
        #expect(await Self.sameForEveryChunking(four, limits: limits) == .failed("multipart: more than 3 parts"))
        // Parts after the file count too.
        let after = Self.body([Self.file([1]), Self.field("a", "1"), Self.field("b", "2"), Self.field("c", "3")])
        #expect(await Self.outcome(after, limits: limits) == .failed("multipart: more than 3 parts"))
    }

    /// The preamble is what precedes the opening boundary's line (the CRLF before it belongs to the boundary).
    @Test func preambleLimit() async {
        let limits = MultipartLimits(maxPreambleBytes: 10)
        let atLimit = Self.body([Self.file([1])], preamble: String(repeating: "x", count: 10) + "\r\n")
        if case .failed(let message) = await Self.sameForEveryChunking(atLimit, limits: limits) { Issue.record("10 bytes: \(message)") }
        let over = Self.body([Self.file([1])], preamble: String(repeating: "x", count: 11) + "\r\n")
        #expect(await Self.sameForEveryChunking(over, limits: limits) == .failed("multipart: no opening boundary within the first 10 bytes"))
        let noBoundary = Array(repeating: UInt8(ascii: "z"), count: 5000)
        #expect(await Self.outcome(Self.chunks(noBoundary, sizes: [100])) == .failed("multipart: no opening boundary within the first 1 KiB"))
    }

    @Test func concurrentReadsAreRefused() async throws {
        let body = Self.body([Self.file(Array(repeating: 1, count: 1000))])
        let upload = try await MultipartUpload.read(body: Body(chunks: Self.chunks(body, sizes: [10])), boundary: Self.boundary)
        async let first = Self.drain(upload)
        async let second = Self.drain(upload)
        let (a, b) = await (first, second)
        // Either one task read it all and the other found it ended or busy, or they collided.
        #expect(a + b == 1000 || a == -1 || b == -1, "\(a) \(b)")
    }

    static func drain(_ upload: MultipartUpload) async -> Int {
        var count = 0
        do {
            for try await chunk in upload.file.bytes { count += chunk.readableBytes }
        } catch {
            return error as? MultipartError == .concurrentRead ? -1 : -2
        }
        return count
    }

    // MARK: - A large upload in bounded memory

    /// A generated upload: a `cacheControl` field, a file of `chunkCount` × 64 KiB pseudo-random
    /// bytes (every third chunk ending in all but the last byte of a delimiter, every chunk starting with 0), a trailing
    /// field. Chunks are made on demand, so the test itself holds one at a time.
    struct LargeBody: AsyncSequence, Sendable {
        static let chunkSize = 65_536
        let chunkCount: Int

        func makeAsyncIterator() -> Iterator { Iterator(chunkCount: chunkCount) }

        /// 64 KiB of xorshift bytes, made once.
        static let randomBytes: [UInt8] = {
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            return (0..<chunkSize).map { _ in
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                return UInt8(truncatingIfNeeded: state)
            }
        }()

        /// File chunk `index`: the random bytes, starting with 0 (never the delimiter's last
        /// byte, so the previous chunk's almost-delimiter stays content) and the index, every
        /// third one ending in all but the last byte of a delimiter.
        static func fileChunk(_ index: Int) -> ByteBuffer {
            var buffer = ByteBuffer(bytes: randomBytes)
            buffer.setInteger(UInt8(0), at: 0)
            buffer.setInteger(UInt64(index), at: 1)
            if index % 3 == 0 {
                let almost = Array("\r\n--\(MultipartStreamTests.boundary)".utf8.dropLast())
                buffer.setBytes(almost, at: chunkSize - almost.count)
            }
            return buffer
        }

        struct Iterator: AsyncIteratorProtocol {
            let chunkCount: Int
            var index = -1

            mutating func next() async throws -> ByteBuffer? {
                defer { index += 1 }
                let b = MultipartStreamTests.boundary
                switch index {
                case -1:
                    return ByteBuffer(string: "--\(b)\r\nContent-Disposition: form-data; name=\"cacheControl\"\r\n\r\n3600\r\n--\(b)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                case 0..<chunkCount:
                    return LargeBody.fileChunk(index)
                case chunkCount:
                    return ByteBuffer(string: "\r\n--\(b)\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{\"size\":\"large\"}\r\n--\(b)--\r\n")
                default:
                    return nil
                }
            }
        }
    }

    /// Compares received file chunks, cut anywhere, with the generated file (memcmp, one generated chunk at a time).
    struct ExpectedFile {
        var chunk = LargeBody.fileChunk(0)
        var index = 0
        var matched = 0
        var mismatch = false

        mutating func check(_ received: ByteBuffer) {
            var received = received
            while received.readableBytes > 0 {
                if chunk.readableBytes == 0 {
                    index += 1
                    chunk = LargeBody.fileChunk(index)
                }
                let count = min(received.readableBytes, chunk.readableBytes)
                if received.readSlice(length: count) != chunk.readSlice(length: count) { mismatch = true }
                matched += count
            }
        }
    }

    @Test func fiftyMegabytesStreamWithBoundedBuffering() async throws {
        let chunkCount = 800  // 800 × 64 KiB = 50 MiB
        let upload = try await MultipartUpload.read(body: LargeBody(chunkCount: chunkCount), boundary: Self.boundary)
        #expect(upload.fields == ["cacheControl": "3600"])
        #expect(upload.file.filename == "big.bin")
        var expected = ExpectedFile()
        var largestChunk = 0
        for try await chunk in upload.file.bytes {
            expected.check(chunk)
            largestChunk = max(largestChunk, chunk.readableBytes)
        }
        #expect(try await upload.finish() == ["cacheControl": "3600", "metadata": #"{"size":"large"}"#])
        #expect(!expected.mismatch)
        #expect(expected.matched == chunkCount * LargeBody.chunkSize)
        // The reader held at most one body chunk plus a delimiter's length of lookback.
        let delimiter = "\r\n--\(Self.boundary)".utf8.count
        #expect(upload.peakBufferedBytes <= LargeBody.chunkSize + delimiter, "peak \(upload.peakBufferedBytes)")
        #expect(largestChunk <= LargeBody.chunkSize + delimiter)
    }
}

/// The strict `Content-Type: multipart/form-data; boundary=...` parser.
@Suite struct MultipartContentTypeTests {
    @Test(arguments: [
        ("multipart/form-data; boundary=76460ca87dcabb2e7a0f029f1c9be377", "76460ca87dcabb2e7a0f029f1c9be377"),
        ("Multipart/Form-Data;BOUNDARY=abc", "abc"),
        ("multipart/form-data; charset=utf-8; boundary=\"a b'()+_,-./:=?\"", "a b'()+_,-./:=?"),
        ("multipart/form-data; boundary=\"q\\uote\"", "quote"),
        ("multipart/form-data ; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW ;", "----WebKitFormBoundary7MA4YWxkTrZu0gW"),
        ("  multipart/form-data;\tboundary=x  ", "x"),
        ("multipart/form-data; boundary=" + String(repeating: "b", count: 70), String(repeating: "b", count: 70)),
    ])
    func validBoundaries(_ header: String, _ boundary: String) throws {
        #expect(try MultipartContentType.boundary(header) == boundary)
    }

    @Test(arguments: [
        ("application/json", "multipart: Content-Type is \"application/json\", not multipart/form-data"),
        ("multipart/mixed; boundary=x", "multipart: Content-Type is \"multipart/mixed\", not multipart/form-data"),
        ("", "multipart: Content-Type is \"\", not multipart/form-data"),
        ("multipart/form-data", "multipart: Content-Type has no boundary parameter"),
        ("multipart/form-data; charset=utf-8", "multipart: Content-Type has no boundary parameter"),
        ("multipart/form-data; boundary=", "multipart: malformed Content-Type: parameter without a value"),
        ("multipart/form-data; boundary=\"\"", "multipart: invalid boundary: empty"),
        ("multipart/form-data; boundary=\"abc", "multipart: malformed Content-Type: unterminated or invalid quoted-string"),
        ("multipart/form-data; boundary=a; boundary=b", "multipart: malformed Content-Type: boundary given twice"),
        ("multipart/form-data; boundary=a b", "multipart: malformed Content-Type: expected ; between parameters"),
        ("multipart/form-data boundary=a", "multipart: malformed Content-Type: expected ; between parameters"),
        ("multipart/form-data; boundary", "multipart: malformed Content-Type: parameter without ="),
        ("multipart/form-data; =a", "multipart: malformed Content-Type: parameter without a name"),
        ("multipart/form-data; boundary=\"trailing \"", "multipart: invalid boundary: ends in a space"),
        ("multipart/form-data; boundary=a*b", "multipart: invalid boundary: character outside RFC 2046 bchars"),
        ("multipart/form-data; boundary=\"ü\"", "multipart: invalid boundary: character outside RFC 2046 bchars"),
        ("multipart/form-data; boundary=" + String(repeating: "b", count: 71), "multipart: invalid boundary: longer than 70 characters"),
    ])
    func invalidHeaders(_ header: String, _ message: String) {
        #expect(throws: MultipartError.self) { try MultipartContentType.boundary(header) }
        do {
            _ = try MultipartContentType.boundary(header)
        } catch {
            #expect("\(error)" == message)
        }
    }
}
