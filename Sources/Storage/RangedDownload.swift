import Core
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Answers a `GET` or `HEAD` for one stored object — the HTTP part shared by Storage's object
/// downloads and the reels media route: the strong `ETag` and `If-None-Match` (304, weak tags
/// and `*` match too), one `Range` (206 with `Content-Range`, 416 with `bytes */size`, others
/// ignored, see ``ByteRange``), `Accept-Ranges`, `Content-Length`, and the bytes streamed from
/// the backend. The surfaces differ only in the representation headers they send and in the
/// shape of their errors, which the caller supplies.
public struct RangedDownload: Sendable {
    let storage: StorageService
    /// The JSON body of a 416 answer, in the surface's error shape.
    let unsatisfiableRangeBody: String
    /// Thrown when the object's row exists but its bytes are gone.
    let missingBytes: APIError

    public init(storage: StorageService, unsatisfiableRangeBody: String, missingBytes: APIError) {
        self.storage = storage
        self.unsatisfiableRangeBody = unsatisfiableRangeBody
        self.missingBytes = missingBytes
    }

    /// The answer for `object`. `contentType` and `cacheControl` describe the representation,
    /// `extraHeaders` (e.g. `Last-Modified`, `Content-Disposition`) follow the `ETag`; a 304
    /// carries them all but `Content-Type`.
    public func response(
        _ object: StoredObject, contentType: String, cacheControl: String, extraHeaders: HTTPFields = [:], request: Request, head: Bool
    ) async throws -> Response {
        let etag = "\"\(object.etag)\""
        var headers: HTTPFields = [.contentType: contentType, .cacheControl: cacheControl, .eTag: etag]
        headers.append(contentsOf: extraHeaders)
        headers[.acceptRanges] = "bytes"
        if let match = request.headers[.ifNoneMatch], Self.matches(match, etag: etag) {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        var status = HTTPResponse.Status.ok
        var range: Range<Int64>?
        switch ByteRange.resolve(request.headers[.range], size: object.size) {
        case .partial(let bytes):
            status = .partialContent
            range = bytes
            headers[.contentRange] = ByteRange.contentRange(of: bytes, size: object.size)
        case .unsatisfiable:
            let refused: HTTPFields = [
                .contentType: "application/json", .contentRange: ByteRange.unsatisfiedContentRange(size: object.size), .acceptRanges: "bytes",
            ]
            return Response(status: .rangeNotSatisfiable, headers: refused, body: .init(byteBuffer: ByteBuffer(string: unsatisfiableRangeBody)))
        case .ignore:
            break
        }
        guard try await storage.hasBytes(object) else { throw missingBytes }
        let length = range.map { $0.upperBound - $0.lowerBound } ?? object.size
        headers[.contentLength] = String(length)
        if head { return Response(status: status, headers: headers) }
        let storage = self.storage
        let selected = range
        return Response(status: status, headers: headers, body: ResponseBody(contentLength: Int(exactly: length)) { writer in
            try await storage.read(object, range: selected) { buffer in try await writer.write(buffer) }
            try await writer.finish(nil)
        })
    }

    /// Whether an If-None-Match value names `etag` (or is `*`); weak tags compare equal too.
    static func matches(_ header: String, etag: String) -> Bool {
        for candidate in header.split(separator: ",") {
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            if tag == etag { return true }
        }
        return false
    }
}
