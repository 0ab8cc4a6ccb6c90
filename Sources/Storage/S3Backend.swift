import Core
import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Blobs in one bucket of an S3-compatible service, addressed path-style
/// (`endpoint/bucket/key`) and signed with SigV4.
///
/// Writes buffer at most one part (`partSizeBytes`): a body that fits goes in one PUT, a larger
/// one in a multipart upload that is aborted on any failure, on cancellation and when
/// `maxBytes` is exceeded. The MD5 of the bytes is stored as `x-amz-meta-md5` (a multipart
/// object gets it by an in-place, `If-Match`-guarded copy after completion, because its ETag
/// is not an MD5). Reads stream the response body to the caller.
public struct S3Backend: StorageBackend {
    let settings: S3Settings
    let client: HTTPClient
    let signer: SigV4Signer
    let logger: Logger
    /// `scheme://host[:port]`
    let origin: String
    /// The `Host` header as sent and signed.
    let hostHeader: String
    /// The endpoint's own path (already encoded, no trailing `/`), usually empty.
    let pathPrefix: String

    static let md5Header = "x-amz-meta-md5"
    /// S3 allows at most this many parts in one upload.
    static let maximumParts = 10_000
    /// Largest error or result document read from the peer.
    static let maximumXMLBytes = 1 << 20

    /// Throws `S3SettingsError` for an unusable endpoint or part size.
    public init(settings: S3Settings, httpClient: HTTPClient = .shared, logger: Logger = Logger(label: "storage.s3")) throws {
        guard let url = URL(string: settings.endpoint), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else {
            throw S3SettingsError(variable: "S3_ENDPOINT", problem: "is not an http(s) URL: \(settings.endpoint)")
        }
        guard (S3Settings.minimumPartSize...S3Settings.maximumPartSize).contains(settings.partSizeBytes) else {
            throw S3SettingsError(variable: "S3_PART_SIZE_BYTES", problem: "must be between 5 MiB and 5 GiB")
        }
        guard !settings.bucket.isEmpty else { throw S3SettingsError(variable: "S3_BUCKET", problem: "is empty") }
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        var hostHeader = bracketed
        if let port = url.port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) {
            hostHeader += ":\(port)"
        }
        var prefix = url.path
        while prefix.hasSuffix("/") { prefix.removeLast() }
        self.settings = settings
        self.client = httpClient
        self.signer = SigV4Signer(
            accessKeyID: settings.accessKeyID, secretAccessKey: settings.secretAccessKey, region: settings.region
        )
        self.logger = logger
        self.origin = "\(scheme)://\(hostHeader)"
        self.hostHeader = hostHeader
        self.pathPrefix = prefix.isEmpty ? "" : SigV4Signer.uriEncode(prefix, keepSlash: true)
    }

    // MARK: - StorageBackend

    public func write(
        key: String, body: some AsyncSequence<ByteBuffer, any Error> & Sendable, maxBytes: Int64
    ) async throws -> StoredBlob {
        try checkKey(key)
        let partSize = settings.partSizeBytes
        var md5 = Insecure.MD5()
        var total: Int64 = 0
        var part = ByteBufferAllocator().buffer(capacity: 0)
        var upload: MultipartUpload?
        do {
            for try await chunk in body {
                var chunk = chunk
                let (sum, overflow) = total.addingReportingOverflow(Int64(chunk.readableBytes))
                guard !overflow, sum <= maxBytes else { throw BlobTooLarge(limit: maxBytes) }
                total = sum
                chunk.withUnsafeReadableBytes { md5.update(bufferPointer: $0) }
                while chunk.readableBytes > 0 {
                    // A full part is sent only once more bytes arrive, so that a body of exactly
                    // one part still goes in a single PUT.
                    if part.readableBytes == partSize {
                        if upload == nil { upload = try await createMultipartUpload(key: key) }
                        try await upload?.send(part: part, backend: self)
                        part = ByteBufferAllocator().buffer(capacity: partSize)
                    }
                    let take = min(chunk.readableBytes, partSize - part.readableBytes)
                    guard var slice = chunk.readSlice(length: take) else { break }
                    if part.capacity == 0 { part.reserveCapacity(min(partSize, max(take, 64 * 1024))) }
                    part.writeBuffer(&slice)
                }
            }
            let digest = Hex.lowercase(md5.finalize())
            guard var upload else {
                try await putObject(key: key, body: part, md5: digest)
                return StoredBlob(size: total, md5: digest)
            }
            try await upload.send(part: part, backend: self)
            let eTag = try await completeMultipartUpload(upload)
            if total <= Int64(S3Settings.maximumPartSize) {
                // CopyObject's limit is 5 GiB; beyond it `stat` computes the MD5 instead.
                await recordMD5(key: key, md5: digest, eTag: eTag)
            }
            return StoredBlob(size: total, md5: digest)
        } catch {
            if let upload {
                // Not cancelled with the caller: the abort must run even when the write was cancelled.
                let backend = self
                await Task { await backend.abortMultipartUpload(upload) }.value
            }
            throw error
        }
    }

    public func read(key: String, range: Range<Int64>?, consume: (ByteBuffer) async throws -> Void) async throws {
        try checkKey(key)
        var headers: [(String, String)] = []
        if let range {
            guard range.lowerBound >= 0 else {
                throw S3Error(operation: "GetObject", key: key, status: 0, code: "InvalidRange", message: "negative offset \(range.lowerBound)")
            }
            if range.isEmpty {
                guard try await stat(key: key) != nil else { throw BlobNotFound(key: key) }
                return
            }
            headers.append(("range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)"))
        }
        let response = try await send("GetObject", key: key, method: .GET, path: objectPath(key), headers: headers)
        switch response.status.code {
        case 200, 206:
            break
        case 404:
            let error = try await failure("GetObject", key: key, response)
            if error.code == "NoSuchKey" || error.code == "NotFound" { throw BlobNotFound(key: key) }
            throw error
        case 416:
            // The range starts at or after the end: like the local backend, nothing to deliver.
            _ = try? await response.body.collect(upTo: Self.maximumXMLBytes)
            return
        default:
            throw try await failure("GetObject", key: key, response)
        }
        // A peer that ignores Range answers 200 with the whole object: cut the range out here.
        var skip: Int64 = 0
        var remaining: Int64 = .max
        if let range, response.status.code == 200 {
            skip = range.lowerBound
            remaining = range.upperBound - range.lowerBound
        }
        let expected = response.headers.first(name: "content-length").flatMap { Int64($0) }
        var received: Int64 = 0
        for try await chunk in response.body {
            var chunk = chunk
            received += Int64(chunk.readableBytes)
            if skip > 0 {
                let drop = Int(clamping: min(skip, Int64(chunk.readableBytes)))
                chunk.moveReaderIndex(forwardBy: drop)
                skip -= Int64(drop)
            }
            if remaining < Int64(chunk.readableBytes) {
                chunk = chunk.getSlice(at: chunk.readerIndex, length: Int(clamping: remaining)) ?? ByteBuffer()
            }
            guard chunk.readableBytes > 0, remaining > 0 else { continue }
            remaining -= Int64(chunk.readableBytes)
            try await consume(chunk)
        }
        if let expected, expected != received {
            throw S3Error(
                operation: "GetObject", key: key, status: Int(clamping: response.status.code), code: "IncompleteBody",
                message: "received \(received) of \(expected) bytes"
            )
        }
    }

    public func stat(key: String) async throws -> StoredBlob? {
        try checkKey(key)
        let response = try await send("HeadObject", key: key, method: .HEAD, path: objectPath(key))
        switch response.status.code {
        case 200:
            break
        case 404:
            _ = try? await response.body.collect(upTo: Self.maximumXMLBytes)
            return nil
        default:
            throw try await failure("HeadObject", key: key, response)
        }
        guard let length = response.headers.first(name: "content-length"), let size = Int64(length), size >= 0 else {
            throw S3Error(operation: "HeadObject", key: key, status: 200, code: "InvalidResponse", message: "no usable Content-Length")
        }
        if let md5 = response.headers.first(name: Self.md5Header), Self.isMD5(md5) {
            return StoredBlob(size: size, md5: md5.lowercased())
        }
        if let eTag = response.headers.first(name: "etag").map(Self.unquote), Self.isMD5(eTag) {
            return StoredBlob(size: size, md5: eTag.lowercased())
        }
        // A multipart object whose MD5 could not be recorded: compute it.
        var md5 = Insecure.MD5()
        var counted: Int64 = 0
        try await read(key: key, range: nil) { chunk in
            counted += Int64(chunk.readableBytes)
            chunk.withUnsafeReadableBytes { md5.update(bufferPointer: $0) }
        }
        return StoredBlob(size: counted, md5: Hex.lowercase(md5.finalize()))
    }

    public func copy(from source: String, to destination: String) async throws {
        try checkKey(source)
        try checkKey(destination)
        let response = try await send(
            "CopyObject", key: destination, method: .PUT, path: objectPath(destination),
            headers: [("x-amz-copy-source", objectPath(source, withPrefix: false))]
        )
        let text = try await xmlBody("CopyObject", key: destination, response)
        if response.status.code == 404 || (response.status.code == 200 && S3XML.isError(text)) || response.status.code >= 300 {
            let error = Self.error("CopyObject", key: destination, status: Int(clamping: response.status.code), xml: text)
            if error.code == "NoSuchKey" { throw BlobNotFound(key: source) }
            throw error
        }
    }

    public func delete(key: String) async throws {
        try checkKey(key)
        let response = try await send("DeleteObject", key: key, method: .DELETE, path: objectPath(key))
        let text = try await xmlBody("DeleteObject", key: key, response)
        switch response.status.code {
        case 200..<300:
            return
        default:
            let error = Self.error("DeleteObject", key: key, status: Int(clamping: response.status.code), xml: text)
            if error.code == "NoSuchKey" { return }
            throw error
        }
    }

    // MARK: - Presigned URLs

    /// A URL that grants `method` (GET, PUT, HEAD, DELETE) on `key` without credentials for
    /// `expiresSeconds` (1…604800, S3's limit) from `now`.
    public func presignedURL(key: String, method: String = "GET", expiresSeconds: Int, now: Date = Date()) throws -> String {
        try checkKey(key)
        let path = objectPath(key)
        let query = signer.presignedQuery(method: method, path: path, host: hostHeader, expires: expiresSeconds, date: now)
        return origin + path + "?" + query
    }

    // MARK: - Bucket

    /// Creates the bucket; an existing bucket of this owner is fine. For set-up and tests.
    public func createBucketIfMissing() async throws {
        var body: ByteBuffer?
        if settings.region != "us-east-1" {
            body = ByteBuffer(string: """
                <CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
                <LocationConstraint>\(S3XML.escape(settings.region))</LocationConstraint></CreateBucketConfiguration>
                """)
        }
        let response = try await send("CreateBucket", key: nil, method: .PUT, path: bucketPath(), body: body)
        let text = try await xmlBody("CreateBucket", key: nil, response)
        guard (200..<300).contains(response.status.code) else {
            let error = Self.error("CreateBucket", key: nil, status: Int(clamping: response.status.code), xml: text)
            if error.code == "BucketAlreadyOwnedByYou" { return }
            throw error
        }
    }

    /// The bucket's unfinished multipart uploads (key, upload id); first page only (1000).
    func pendingMultipartUploads() async throws -> [(key: String, uploadID: String)] {
        let response = try await send("ListMultipartUploads", key: nil, method: .GET, path: bucketPath(), query: [("uploads", "")])
        let text = try await xmlBody("ListMultipartUploads", key: nil, response)
        guard response.status.code == 200, !S3XML.isError(text) else {
            throw Self.error("ListMultipartUploads", key: nil, status: Int(clamping: response.status.code), xml: text)
        }
        return S3XML.elements("Upload", in: text).compactMap { upload in
            guard let key = S3XML.text("Key", in: upload), let id = S3XML.text("UploadId", in: upload) else { return nil }
            return (key, id)
        }
    }

    // MARK: - Single PUT

    func putObject(key: String, body: ByteBuffer, md5: String) async throws {
        var headers = [("content-type", "application/octet-stream"), (Self.md5Header, md5)]
        if let bytes = Self.bytes(ofHex: md5) {
            headers.append(("content-md5", Data(bytes).base64EncodedString()))
        }
        let response = try await send("PutObject", key: key, method: .PUT, path: objectPath(key), headers: headers, body: body)
        guard (200..<300).contains(response.status.code) else { throw try await failure("PutObject", key: key, response) }
        _ = try await response.body.collect(upTo: Self.maximumXMLBytes)
    }

    // MARK: - Multipart

    /// An upload in progress: its id and the ETags of the parts sent so far.
    struct MultipartUpload: Sendable {
        let key: String
        let id: String
        var parts: [(number: Int, eTag: String)] = []

        mutating func send(part: ByteBuffer, backend: S3Backend) async throws {
            let number = parts.count + 1
            guard number <= S3Backend.maximumParts else {
                throw S3Error(
                    operation: "UploadPart", key: key, status: 0, code: "TooManyParts",
                    message: "more than \(S3Backend.maximumParts) parts; raise S3_PART_SIZE_BYTES"
                )
            }
            let response = try await backend.send(
                "UploadPart", key: key, method: .PUT, path: backend.objectPath(key),
                query: [("partNumber", String(number)), ("uploadId", id)],
                headers: [("content-type", "application/octet-stream")], body: part
            )
            guard (200..<300).contains(response.status.code) else {
                throw try await backend.failure("UploadPart", key: key, response)
            }
            _ = try await response.body.collect(upTo: S3Backend.maximumXMLBytes)
            guard let eTag = response.headers.first(name: "etag"), !eTag.isEmpty else {
                throw S3Error(operation: "UploadPart", key: key, status: Int(clamping: response.status.code), code: "InvalidResponse", message: "no ETag for part \(number)")
            }
            parts.append((number, eTag))
        }
    }

    func createMultipartUpload(key: String) async throws -> MultipartUpload {
        let response = try await send(
            "CreateMultipartUpload", key: key, method: .POST, path: objectPath(key), query: [("uploads", "")],
            headers: [("content-type", "application/octet-stream")]
        )
        let text = try await xmlBody("CreateMultipartUpload", key: key, response)
        guard response.status.code == 200, !S3XML.isError(text), let id = S3XML.text("UploadId", in: text), !id.isEmpty else {
            throw Self.error("CreateMultipartUpload", key: key, status: Int(clamping: response.status.code), xml: text)
        }
        return MultipartUpload(key: key, id: id)
    }

    /// Completes the upload; returns the object's ETag.
    func completeMultipartUpload(_ upload: MultipartUpload) async throws -> String? {
        var xml = "<CompleteMultipartUpload>"
        for part in upload.parts {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(S3XML.escape(part.eTag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let response = try await send(
            "CompleteMultipartUpload", key: upload.key, method: .POST, path: objectPath(upload.key),
            query: [("uploadId", upload.id)], headers: [("content-type", "application/xml")], body: ByteBuffer(string: xml)
        )
        // S3 may answer 200 and still report an error in the body.
        let text = try await xmlBody("CompleteMultipartUpload", key: upload.key, response)
        guard response.status.code == 200, !S3XML.isError(text) else {
            throw Self.error("CompleteMultipartUpload", key: upload.key, status: Int(clamping: response.status.code), xml: text)
        }
        return S3XML.text("ETag", in: text) ?? response.headers.first(name: "etag")
    }

    /// Best effort: an upload that cannot be aborted is logged (a bucket lifecycle rule for
    /// incomplete uploads is the backstop).
    func abortMultipartUpload(_ upload: MultipartUpload) async {
        do {
            let response = try await send(
                "AbortMultipartUpload", key: upload.key, method: .DELETE, path: objectPath(upload.key),
                query: [("uploadId", upload.id)]
            )
            let text = try await xmlBody("AbortMultipartUpload", key: upload.key, response)
            guard (200..<300).contains(response.status.code) || response.status.code == 404 else {
                throw Self.error("AbortMultipartUpload", key: upload.key, status: Int(clamping: response.status.code), xml: text)
            }
        } catch {
            logger.error("could not abort multipart upload", metadata: ["key": "\(upload.key)", "uploadId": "\(upload.id)", "error": "\(error)"])
        }
    }

    /// Stores the MD5 of a multipart object as metadata by copying it onto itself, only if it is
    /// still the object just completed. Failure is logged: `stat` then computes the MD5.
    func recordMD5(key: String, md5: String, eTag: String?) async {
        var headers = [
            ("x-amz-copy-source", objectPath(key, withPrefix: false)),
            ("x-amz-metadata-directive", "REPLACE"),
            ("content-type", "application/octet-stream"),
            (Self.md5Header, md5),
        ]
        if let eTag { headers.append(("x-amz-copy-source-if-match", eTag)) }
        do {
            let response = try await send("CopyObject", key: key, method: .PUT, path: objectPath(key), headers: headers)
            let text = try await xmlBody("CopyObject", key: key, response)
            guard response.status.code == 200, !S3XML.isError(text) else {
                throw Self.error("CopyObject", key: key, status: Int(clamping: response.status.code), xml: text)
            }
        } catch {
            logger.warning("could not record the MD5 of a multipart object", metadata: ["key": "\(key)", "error": "\(error)"])
        }
    }

    // MARK: - Requests

    func bucketPath() -> String {
        pathPrefix + SigV4Signer.encodePath(settings.bucket)
    }

    /// `/bucket/key`, each key segment encoded once (also the `x-amz-copy-source` form without the prefix).
    func objectPath(_ key: String, withPrefix: Bool = true) -> String {
        (withPrefix ? pathPrefix : "") + SigV4Signer.encodePath(settings.bucket, key)
    }

    /// Signs and sends one request; the caller reads (or drains) the body.
    func send(
        _ operation: String, key: String?, method: HTTPMethod, path: String,
        query: [(String, String)] = [], headers: [(String, String)] = [], body: ByteBuffer? = nil
    ) async throws -> HTTPClientResponse {
        let payloadHash: String
        if let body, body.readableBytes > 0 {
            var hash = SHA256()
            body.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
            payloadHash = Hex.lowercase(hash.finalize())
        } else {
            payloadHash = SigV4Signer.emptyPayloadHash
        }
        let signed = signer.sign(
            method: method.rawValue, path: path, query: query, headers: [("host", hostHeader)] + headers,
            payloadHash: payloadHash, date: Date()
        )
        let queryString = SigV4Signer.canonicalQuery(query)
        var request = HTTPClientRequest(url: origin + path + (queryString.isEmpty ? "" : "?" + queryString))
        request.method = method
        request.headers.add(name: "host", value: hostHeader)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.headers.add(name: "x-amz-date", value: signed.amzDate)
        request.headers.add(name: "x-amz-content-sha256", value: signed.contentSHA256)
        request.headers.add(name: "authorization", value: signed.authorization)
        if let body { request.body = .bytes(body) }
        do {
            return try await client.execute(request, timeout: .seconds(settings.requestTimeoutSeconds), logger: logger)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // Connection refused, TLS, deadline…: named like the peer's own errors.
            throw S3Error(operation: operation, key: key, status: 0, code: "RequestFailed", message: "\(error)")
        }
    }

    /// Reads a bounded XML body (error or result document).
    func xmlBody(_ operation: String, key: String?, _ response: HTTPClientResponse) async throws -> String {
        do {
            var buffer = try await response.body.collect(upTo: Self.maximumXMLBytes)
            return buffer.readString(length: buffer.readableBytes) ?? ""
        } catch is NIOTooManyBytesError {
            throw S3Error(
                operation: operation, key: key, status: Int(clamping: response.status.code), code: "InvalidResponse",
                message: "answer larger than \(Self.maximumXMLBytes) bytes"
            )
        }
    }

    /// The error a failed response describes (its body read, bounded).
    func failure(_ operation: String, key: String?, _ response: HTTPClientResponse) async throws -> S3Error {
        let text = try await xmlBody(operation, key: key, response)
        return Self.error(operation, key: key, status: Int(clamping: response.status.code), xml: text)
    }

    static func error(_ operation: String, key: String?, status: Int, xml: String) -> S3Error {
        let code = S3XML.text("Code", in: xml).flatMap { $0.isEmpty ? nil : $0 }
        let fallback: String
        switch status {
        case 403: fallback = "AccessDenied"
        case 404: fallback = "NotFound"
        case 412: fallback = "PreconditionFailed"
        default: fallback = "HTTP\(status)"
        }
        return S3Error(
            operation: operation, key: key, status: status, code: code ?? fallback,
            message: S3XML.text("Message", in: xml) ?? ""
        )
    }

    func checkKey(_ key: String) throws {
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !key.isEmpty, !segments.contains(where: { $0 == "." || $0 == ".." }) else {
            throw S3Error(operation: "ValidateKey", key: key, status: 0, code: "InvalidKey", message: "empty key or a \".\" / \"..\" segment")
        }
    }

    static func isMD5(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) || (65...70).contains($0) }
    }

    static func unquote(_ eTag: String) -> String {
        var text = eTag
        if text.hasPrefix("W/") { text.removeFirst(2) }
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = String(text.dropFirst().dropLast()) }
        return text
    }

    static func bytes(ofHex text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var index = 0
        while index < utf8.count {
            guard let byte = UInt8(String(decoding: utf8[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
            index += 2
        }
        return out
    }
}
