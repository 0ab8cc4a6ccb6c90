import NIOCore
import Synchronization

/// A multipart/form-data upload read from a streaming request body (supabase-py's upload:
/// text fields such as `cacheControl` and `metadata`, and one file part, in any order).
///
/// `read` consumes the body up to the file part's headers and returns the text fields before
/// it and the file part, whose `bytes` stream the file as the body arrives (the file is never
/// held whole: the reader keeps at most one body chunk plus a delimiter's length of lookback).
/// Consume `file.bytes` once, then call `finish` for the fields that came after the file and
/// the check that the body closed properly. `file.bytes` throws if the body ends before the
/// file part's closing boundary, so a truncated upload never looks complete.
public struct MultipartUpload: Sendable {
    /// The text fields that came before the file part.
    public let fields: [String: String]
    /// The file part (the part named `fileField` of `read`).
    public let file: FilePart
    let reader: MultipartUploadReader

    /// Reads `body` (chunks of a multipart/form-data body with this `boundary`, see
    /// `MultipartContentType.boundary`) until the headers of the part named `fileField`.
    /// Throws `MultipartError` for a malformed body or a limit exceeded, and what `body` throws.
    public static func read<Body: AsyncSequence>(
        body: Body, boundary: String, fileField: String = "file", limits: MultipartLimits = MultipartLimits()
    ) async throws -> MultipartUpload where Body.Element == ByteBuffer {
        let decoder = try MultipartFormDecoder(boundary: boundary, fileField: fileField, limits: limits)
        let reader = MultipartUploadReader(body: body, decoder: decoder)
        var fields: [String: String] = [:]
        while true {
            switch try await reader.event() {
            case .field(let name, let value):
                fields[name] = value
            case .fileStart(let headers):
                let file = FilePart(
                    name: headers.name, filename: headers.filename, contentType: headers.contentType,
                    bytes: FileBytes(reader: reader)
                )
                return MultipartUpload(fields: fields, file: file, reader: reader)
            case .fileBytes:
                continue  // only after fileStart
            case .end:
                throw MultipartError.missingFilePart(fileField)  // the decoder throws this first
            }
        }
    }

    /// Reads the rest of the body (skipping file bytes not consumed) up to the closing
    /// boundary and returns every text field: those before the file and those after it.
    public func finish() async throws -> [String: String] {
        let trailing = try await reader.rest()
        return fields.merging(trailing) { first, _ in first }
    }

    /// The most body bytes the parser held at once (read once the upload is finished).
    var peakBufferedBytes: Int { reader.peakBufferedBytes }

    /// The file part: its form name, filename and Content-Type as sent, and its bytes.
    public struct FilePart: Sendable {
        /// The part's form name (`file`).
        public let name: String
        /// `filename` of its `Content-Disposition`, if any.
        public let filename: String?
        /// Its `Content-Type` header, if any (supabase-py sends the object's MIME type here).
        public let contentType: String?
        /// The file's bytes in order, as they arrive; a single pass.
        public let bytes: FileBytes
    }

    /// The bytes of the file part, streamed from the request body; iterate once.
    public struct FileBytes: AsyncSequence, Sendable {
        public typealias Element = ByteBuffer
        public typealias Failure = any Error
        let reader: MultipartUploadReader

        public func makeAsyncIterator() -> Iterator { Iterator(reader: reader) }

        /// Yields the file's chunks; nil after the file part's closing boundary.
        public struct Iterator: AsyncIteratorProtocol {
            public typealias Element = ByteBuffer
            public typealias Failure = any Error
            let reader: MultipartUploadReader

            public mutating func next() async throws -> ByteBuffer? { try await reader.nextFileChunk() }
        }
    }
}

/// The body iterator and the decoder of one upload, shared by `MultipartUpload` and its
/// `FileBytes`. Its mutable state is touched only between `enter()` and `leave()`, which
/// admit one caller at a time (a second, concurrent one gets `MultipartError.concurrentRead`),
/// hence the unchecked Sendable.
final class MultipartUploadReader: @unchecked Sendable {
    private let busy = Mutex(false)
    private let pull: () async throws -> ByteBuffer?
    private var decoder: MultipartFormDecoder
    private var bodyEnded = false
    private var ended = false
    private var fileEnded = false
    private var failure: (any Error)?
    private var stashed: MultipartFormDecoder.Event?
    private var trailing: [String: String] = [:]

    init<Body: AsyncSequence>(body: Body, decoder: MultipartFormDecoder) where Body.Element == ByteBuffer {
        var iterator = body.makeAsyncIterator()
        self.pull = { try await iterator.next() }
        self.decoder = decoder
    }

    var peakBufferedBytes: Int { decoder.parser.peakBufferedBytes }

    /// The next decoder event.
    func event() async throws -> MultipartFormDecoder.Event {
        try enter()
        defer { leave() }
        return try await nextEvent()
    }

    /// The next chunk of the file part, nil once it ended (the event that ended it is kept).
    func nextFileChunk() async throws -> ByteBuffer? {
        try enter()
        defer { leave() }
        guard !fileEnded else { return nil }
        let event = try await nextEvent()
        if case .fileBytes(let bytes) = event { return bytes }
        fileEnded = true
        stashed = event
        return nil
    }

    /// Skips the rest of the file and returns the text fields after it, up to the closing boundary.
    func rest() async throws -> [String: String] {
        try enter()
        defer { leave() }
        while true {
            switch try await nextEvent() {
            case .fileBytes, .fileStart: fileEnded = true
            case .field(let name, let value): trailing[name] = value
            case .end: return trailing
            }
        }
    }

    private func enter() throws {
        let entered = busy.withLock { busy in
            guard !busy else { return false }
            busy = true
            return true
        }
        guard entered else { throw MultipartError.concurrentRead }
    }

    private func leave() { busy.withLock { $0 = false } }

    /// Called only between `enter` and `leave`. After an error every call throws it again.
    private func nextEvent() async throws -> MultipartFormDecoder.Event {
        if let failure { throw failure }
        if let event = stashed {
            stashed = nil
            return event
        }
        if ended { return .end }
        do {
            while true {
                if let event = try decoder.next() {
                    if case .end = event { ended = true }
                    return event
                }
                if bodyEnded {
                    try decoder.finish()
                    throw MultipartError.missingClosingBoundary  // finish throws first: `end` was not seen
                }
                if let chunk = try await pull() {
                    decoder.append(chunk)
                } else {
                    bodyEnded = true
                }
            }
        } catch {
            failure = error
            throw error
        }
    }
}
