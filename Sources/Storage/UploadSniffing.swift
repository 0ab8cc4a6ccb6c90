import Core
import Foundation
import NIOCore
import _NIOFileSystem

/// An upload body whose first bytes (up to ``ContentSniffer/prefixLength``, or all of a
/// shorter body) were read ahead to judge its type: iterating it replays the chunks read
/// ahead, then continues with the rest of the original body. Only those chunks are held; the
/// rest streams. It can be iterated once.
struct SniffedBody<Base: AsyncSequence>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    typealias Failure = any Error

    /// The chunks read ahead and the original iterator, shared by the one pass over the body.
    final class Source: @unchecked Sendable {
        var buffered: [ByteBuffer]
        var iterator: Base.AsyncIterator?

        init(buffered: [ByteBuffer], iterator: Base.AsyncIterator?) {
            self.buffered = buffered
            self.iterator = iterator
        }
    }

    /// The first bytes of the body (at most ``ContentSniffer/prefixLength``).
    let prefix: [UInt8]
    let source: Source

    /// The sniffed type of ``prefix``.
    var sniffedType: String { ContentSniffer.mimeType(of: prefix) }

    struct AsyncIterator: AsyncIteratorProtocol {
        let source: Source

        mutating func next() async throws -> ByteBuffer? {
            if !source.buffered.isEmpty { return source.buffered.removeFirst() }
            guard var iterator = source.iterator else { return nil }
            let chunk = try await iterator.next()
            source.iterator = chunk == nil ? nil : iterator
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: source) }

    /// Reads `body` until ``ContentSniffer/prefixLength`` bytes are buffered or it ends.
    static func readingAhead(_ body: Base) async throws -> SniffedBody {
        var iterator = body.makeAsyncIterator()
        var buffered: [ByteBuffer] = []
        var prefix: [UInt8] = []
        var ended = false
        while prefix.count < ContentSniffer.prefixLength {
            guard let chunk = try await iterator.next() else {
                ended = true
                break
            }
            prefix += chunk.readableBytesView.prefix(ContentSniffer.prefixLength - prefix.count)
            buffered.append(chunk)
        }
        return SniffedBody(prefix: prefix, source: Source(buffered: buffered, iterator: ended ? nil : iterator))
    }
}

/// At most `limit` image re-encodings at once (each one is an ffmpeg process and a thread);
/// the others wait their turn.
actor MediaSlots {
    let limit: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = max(1, limit) }

    func acquire() async {
        if running < limit {
            running += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}

extension StorageError {
    /// The bytes are not what the declared type says (``ContentSniffer/declared(_:matchesSniffed:)``).
    public static func mimeMismatch(declared: String, detected: String) -> APIError {
        APIError(
            status: .unsupportedMediaType, code: "invalid_mime_type",
            message: "content-type: declared \(declared) but the bytes are \(detected)")
    }

    /// An image that ffmpeg could not decode (or too large, or too slow to decode).
    public static func invalidImage(_ reason: String) -> APIError {
        APIError(status: .unsupportedMediaType, code: "invalid_image", message: "image: \(reason)")
    }

    /// ffmpeg is not installed: images cannot be re-encoded, so they are not accepted.
    public static let mediaUnavailable = APIError(
        status: .serviceUnavailable, code: "media_unavailable",
        message: "image processing is not available on this server, so images cannot be uploaded right now")
}

extension StorageService {
    /// Image types that are re-encoded without metadata before they are stored.
    static let reencodedImageTypes: Set<String> = ["image/jpeg", "image/png", "image/webp", "image/gif", "image/heic"]

    /// ffmpeg and ffprobe from `PATH`, or nil (then image uploads are refused with 503).
    public static func locateMedia() -> MediaProcessor? {
        try? MediaProcessor.locate()
    }

    /// Whether an upload of `sniffed` bytes to `bucket` is re-encoded: images, except in a
    /// video bucket (`reels`, or one that accepts only `video/*` types) and in `reels-media`
    /// (only the service role writes there: the reels pipeline's own ffmpeg outputs).
    static func reencodes(_ sniffed: String, in bucket: Bucket) -> Bool {
        guard reencodedImageTypes.contains(sniffed), bucket.id != "reels", bucket.id != "reels-media" else { return false }
        if let types = bucket.allowedMimeTypes, !types.isEmpty, types.allSatisfy({ $0.lowercased().hasPrefix("video/") }) {
            return false
        }
        return true
    }

    /// The client's error for a failed re-encoding; the diagnostics go to the log only.
    func mediaFailure(_ error: MediaError) -> APIError {
        switch error.kind {
        case .toolsMissing:
            logger.error("storage: image processing is unavailable", metadata: ["error": "\(error)"])
            return StorageError.mediaUnavailable
        case .failed:
            logger.error("storage: image processing failed", metadata: ["error": "\(error)"])
            return APIError(status: .internalServerError, code: "internal", message: "the image could not be processed right now")
        default:
            logger.notice("storage: image refused", metadata: ["error": "\(error)"])
            return StorageError.invalidImage(error.message)
        }
    }
}
