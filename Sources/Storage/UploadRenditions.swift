import Core
import Foundation
import NIOCore
import _NIOFileSystem

/// What the server measures and makes for an upload, by bucket and sniffed type
/// (docs/storage.md, "Renditions"):
///
/// - `avatars`, images: 64 and 256 px square JPEGs (`<name>.64.jpg`, `<name>.256.jpg`);
/// - `attachments`, images: width/height and a JPEG thumbnail within 320 px (`<name>.thumb.jpg`);
/// - `attachments`, video: width/height, duration and a JPEG poster frame (`<name>.poster.jpg`);
///   a video container without a picture is measured as audio;
/// - `attachments`, audio: duration and a 64-level waveform.
enum MediaPlan: Sendable, Equatable {
    case none, avatar, attachmentImage, attachmentVideo, attachmentAudio

    init(bucket: String, sniffed: String) {
        switch bucket {
        case "avatars" where MediaProcessor.images.contains(sniffed): self = .avatar
        case "attachments" where MediaProcessor.images.contains(sniffed): self = .attachmentImage
        case "attachments" where MediaProcessor.videos.contains(sniffed): self = .attachmentVideo
        case "attachments" where MediaProcessor.audio.contains(sniffed): self = .attachmentAudio
        default: self = .none
        }
    }

    /// The suffixes of the renditions this plan may make (for the name-length check).
    var renditionSuffixes: [String] {
        switch self {
        case .none, .attachmentAudio: return []
        case .avatar: return MediaProcessor.avatarSizes.map { ".\($0).jpg" }
        case .attachmentImage: return [UploadRendition.thumbnailSuffix]
        case .attachmentVideo: return [UploadRendition.posterSuffix]
        }
    }
}

/// The `media` column of an object: what the server measured (every key optional).
struct MeasuredMedia: Encodable, Sendable, Equatable {
    var width: Int?
    var height: Int?
    var durationMilliseconds: Int?
    /// 0…255 peak levels of a voice message or audio file.
    var waveform: [UInt8]?
    /// The name of the thumbnail rendition (same bucket).
    var thumbnail: String?
    /// The name of the poster rendition (same bucket).
    var poster: String?
    /// Avatar sizes: `{"64": name, "256": name}`.
    var sizes: [String: String]?

    enum CodingKeys: String, CodingKey {
        case width, height, waveform, thumbnail, poster, sizes
        case durationMilliseconds = "duration_ms"
    }

    /// Compact JSON object text (`{}` when nothing was measured).
    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self), let text = String(data: data, encoding: .utf8) else { return "{}" }
        return text
    }

    static func milliseconds(_ seconds: Double?) -> Int? {
        guard let seconds, seconds.isFinite, seconds >= 0, seconds <= MediaProbe.maximumDuration else { return nil }
        return Int((seconds * 1000).rounded())
    }
}

/// A rendition file made in the processing directory, to be stored as an object whose
/// `parent_id` is the upload.
struct UploadRendition: Sendable {
    static let thumbnailSuffix = ".thumb.jpg"
    static let posterSuffix = ".poster.jpg"

    /// Appended to the upload's name.
    var suffix: String
    /// The JPEG in the processing directory.
    var path: String
}

/// An upload after processing: its blob, stored MIME type, measurements and the renditions'
/// rows (their blobs already written).
struct ProcessedUpload: Sendable {
    var blob: StoredBlob
    /// The re-encoded format's type (nil: not re-encoded, the declared type stands).
    var mimeType: String?
    var mediaJSON: String
    var renditions: [NewObject]
}

extension StorageService {
    /// The rendition names an upload of `name` will need, checked before any byte is stored:
    /// each must be a valid object name (length limits).
    static func checkRenditionNames(_ name: String, plan: MediaPlan) throws {
        for suffix in plan.renditionSuffixes {
            let full = name + suffix
            let lastSegment = full.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).last?.count ?? 0
            guard full.utf8.count <= ObjectPath.maximumNameBytes, lastSegment <= 255 else {
                throw StorageError.invalid(
                    "path",
                    "at most \(ObjectPath.maximumNameBytes - suffix.utf8.count) bytes (and \(255 - suffix.utf8.count) in the last segment) for a file the server makes a '\(suffix)' rendition of"
                )
            }
        }
    }

    /// Stores an upload that is re-encoded (images) or measured (`plan`): the body is spooled
    /// to the processing directory (at most `spoolLimit` bytes), processed with ffmpeg, and
    /// only then are the blob (`key`) and the renditions' blobs written. Every temporary file
    /// is removed on every path; on failure no blob remains.
    func storeProcessed(
        body: some AsyncSequence<ByteBuffer, any Error> & Sendable, sniffed: String, bucket: Bucket, name: String, owner: UUID?,
        cacheControl: String, key: String, reencode: Bool, plan: MediaPlan, spoolLimit: Int64, limit: Int64
    ) async throws -> ProcessedUpload {
        guard let media else {
            logger.error("storage: an upload that needs ffmpeg was refused: ffmpeg/ffprobe are not installed (apt-get install ffmpeg)")
            throw StorageError.mediaUnavailable
        }
        let directory = settings.processingDirectory ?? FileManager.default.temporaryDirectory.path
        let fileSystem = FileSystem.shared
        try await fileSystem.createDirectory(at: FilePath(directory), withIntermediateDirectories: true)
        let base = "\(directory)/upload-\(UUID().uuidString.lowercased())"
        let input = base
        let clean = "\(base)-clean"
        // Every file this upload may make (renditions: see measure), removed on every path.
        let suffixes = MediaProcessor.avatarSizes.map { "-\($0).jpg" } + ["-thumb.jpg", "-poster.jpg"]
        let temporaries = [input, clean] + suffixes.map { base + $0 }
        defer { for path in temporaries { unlink(path) } }
        try await Self.spool(body, to: input, limit: spoolLimit)

        var mainPath = input
        var mime: String?
        var measured = MeasuredMedia()
        var made: [UploadRendition] = []
        do {
            try await withMediaSlot {
                if reencode {
                    // Images are stored re-encoded, without EXIF/GPS or any other metadata.
                    mime = try await media.reencodeImage(input: input, output: clean).mimeType
                    mainPath = clean
                }
                (measured, made) = try await self.measure(mainPath, plan: plan, name: name, base: base, media: media)
            }
        } catch let error as MediaError {
            throw reencode || plan == .avatar || plan == .attachmentImage ? mediaFailure(error) : mediaRefusal(error)
        }

        var written: [String] = []
        do {
            let blob = try await writeFile(mainPath, key: key, limit: limit)
            written.append(key)
            var renditions: [NewObject] = []
            for rendition in made {
                let version = UUID()
                let renditionKey = StorageStore.blobKey(bucket: bucket.id, version: version)
                let renditionBlob = try await writeFile(rendition.path, key: renditionKey, limit: Int64.max)
                written.append(renditionKey)
                renditions.append(
                    NewObject(
                        bucketID: bucket.id, name: name + rendition.suffix, owner: owner, size: renditionBlob.size, mimeType: "image/jpeg",
                        cacheControl: cacheControl, etag: renditionBlob.md5, metadataJSON: "{}", version: version))
            }
            return ProcessedUpload(blob: blob, mimeType: mime, mediaJSON: measured.json, renditions: renditions)
        } catch {
            await deleteBlobs(written)
            throw error
        }
    }

    /// Measures the stored file and makes its renditions (files beside `base`).
    private func measure(
        _ path: String, plan: MediaPlan, name: String, base: String, media: MediaProcessor
    ) async throws -> (MeasuredMedia, [UploadRendition]) {
        var measured = MeasuredMedia()
        var made: [UploadRendition] = []
        switch plan {
        case .none:
            break
        case .avatar:
            let info = try await media.probe(path)
            (measured.width, measured.height) = (info.width, info.height)
            var sizes: [String: String] = [:]
            for size in MediaProcessor.avatarSizes {
                let rendition = UploadRendition(suffix: ".\(size).jpg", path: "\(base)-\(size).jpg")
                made.append(rendition)
                try await media.squareThumbnail(input: path, output: rendition.path, size: size)
                sizes[String(size)] = name + rendition.suffix
            }
            measured.sizes = sizes
        case .attachmentImage:
            let info = try await media.probe(path)
            (measured.width, measured.height) = (info.width, info.height)
            let rendition = UploadRendition(suffix: UploadRendition.thumbnailSuffix, path: "\(base)-thumb.jpg")
            made.append(rendition)
            try await media.imageThumbnail(input: path, output: rendition.path, maxDimension: 320)
            measured.thumbnail = name + rendition.suffix
        case .attachmentVideo, .attachmentAudio:
            let info = try await media.probe(path)
            measured.durationMilliseconds = MeasuredMedia.milliseconds(info.durationSeconds)
            if plan == .attachmentVideo, info.hasVideo {
                (measured.width, measured.height) = (info.width, info.height)
                let rendition = UploadRendition(suffix: UploadRendition.posterSuffix, path: "\(base)-poster.jpg")
                made.append(rendition)
                try await media.posterFrame(input: path, output: rendition.path, maxDimension: 640)
                measured.poster = name + rendition.suffix
            } else if info.hasAudio {
                let decoded = try await media.decodeVoice(input: path, levels: 64)
                measured.waveform = decoded.levels
                // A recording made in a browser (MediaRecorder WebM) has no duration in its
                // container: the decode measures it.
                measured.durationMilliseconds = measured.durationMilliseconds
                    ?? MeasuredMedia.milliseconds(decoded.decodedSeconds)
            } else {
                throw MediaError(.missingStream, "the file has neither a picture nor sound", diagnostics: "no audio or video stream")
            }
        }
        return (measured, made)
    }

    /// Streams `body` into a new file, refusing more than `limit` bytes (``BlobTooLarge``).
    static func spool(_ body: some AsyncSequence<ByteBuffer, any Error> & Sendable, to path: String, limit: Int64) async throws {
        try await FileSystem.shared.withFileHandle(forWritingAt: FilePath(path), options: .newFile(replaceExisting: false)) { handle in
            var written: Int64 = 0
            for try await chunk in body {
                let (total, overflow) = written.addingReportingOverflow(Int64(chunk.readableBytes))
                guard !overflow, total <= limit else { throw BlobTooLarge(limit: limit) }
                try await handle.write(contentsOf: chunk, toAbsoluteOffset: written)
                written = total
            }
        }
    }

    /// Writes a local file to the backend under `key`.
    func writeFile(_ path: String, key: String, limit: Int64) async throws -> StoredBlob {
        try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
            let size = try await handle.info().size
            return try await backend.write(key: key, body: handle.readChunks(in: 0..<size, chunkLength: .kibibytes(64)), maxBytes: limit)
        }
    }

    /// Runs `body` in one of the media slots (bounded concurrent ffmpeg work).
    func withMediaSlot<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await mediaSlots.acquire()
        do {
            let value = try await body()
            await mediaSlots.release()
            return value
        } catch {
            await mediaSlots.release()
            throw error
        }
    }

    /// The client's error for a video or audio file ffmpeg could not read: 400 `invalid_media`
    /// (operator problems stay 503 / 500); the diagnostics go to the log only.
    func mediaRefusal(_ error: MediaError) -> APIError {
        switch error.kind {
        case .toolsMissing, .failed:
            return mediaFailure(error)
        default:
            logger.notice("storage: media refused", metadata: ["error": "\(error)"])
            return StorageError.invalidMedia(error.message)
        }
    }
}
