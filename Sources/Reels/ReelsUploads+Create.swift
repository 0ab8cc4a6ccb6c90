import Core
import Database
import Foundation
import NIOCore
import PostgresNIO
import Storage

/// The arguments of `create_reel`, checked before anything is looked up. A pure function of
/// client values (fuzz target `reel-arguments`).
struct CreateReelRequest: Sendable, Equatable {
    /// The original's name in the `reels` bucket (`<uid>/<name>`, NFC).
    var objectPath: String
    var caption: String
    var hashtags: [String]
    var visibility: String

    static let maximumCaptionCharacters = 2200
    static let visibilities: Set<String> = ["public", "followers", "private"]

    init(objectPath: String, caption: String?, visibility: String?) throws {
        self.objectPath = try ObjectPath.name(objectPath, field: "object_path")
        self.caption = try Self.caption(caption ?? "")
        self.hashtags = Hashtags.extract(self.caption)
        self.visibility = try Self.visibility(visibility ?? "public")
    }

    static func caption(_ text: String) throws -> String {
        let caption = text.precomposedStringWithCanonicalMapping.trimmingCharacters(in: .whitespacesAndNewlines)
        guard caption.count <= maximumCaptionCharacters else {
            throw APIError.invalidField("caption", "at most \(maximumCaptionCharacters) characters")
        }
        guard !caption.unicodeScalars.contains(where: { $0.value == 0 }) else {
            throw APIError.invalidField("caption", "must not contain NUL characters")
        }
        return caption
    }

    static func visibility(_ text: String) throws -> String {
        guard visibilities.contains(text) else { throw APIError.invalidField("visibility", "must be public, followers or private") }
        return text
    }

    /// Whether the name lies in `user`'s own folder of the bucket.
    func isInFolder(of user: UUID) -> Bool {
        objectPath.hasPrefix(user.uuidString.lowercased() + "/")
    }
}

/// What the checks measured about an accepted original.
struct CheckedOriginal: Sendable {
    var durationMilliseconds: Int
    var width: Int?
    var height: Int?
}

extension ReelsUploads {
    /// Creates a reel from the caller's upload: every check of docs/reels.md "Uploads" in
    /// order, then the reel (`uploaded`) and its transcoding job in one transaction. A
    /// refused original is removed; no reel row or job remains.
    func create(_ caller: Caller, _ request: CreateReelRequest) async throws -> String {
        let user = try caller.requireUser()
        guard request.isInFolder(of: user) else {
            throw APIError.invalidField("object_path", "must name your upload in your own folder: \(user.uuidString.lowercased())/<name>")
        }
        if try await reelExists(original: request.objectPath) { throw UploadRefusal.exists }
        let object: StoredObject
        do {
            object = try await storage.object(caller, bucket: Self.originals, name: request.objectPath)
        } catch let error as APIError where error.status == .notFound {
            throw UploadRefusal.notFound
        }
        guard object.owner == user else { throw UploadRefusal.notFound }

        let reel: UUID
        do {
            let admission = try await database.withOwner { connection in
                try await connection.scalarText("SELECT reels.admit_upload($1)::text", [user])
            }
            let policy: UploadPolicy
            switch try UploadPolicy.admission(json: admission ?? "") {
            case .admitted(let admitted): policy = admitted
            case let refused: throw RefusedOriginal(UploadPolicy.refusal(refused) ?? UploadRefusal.disabled)
            }
            let checked = try await check(object, policy: policy)
            reel = try await insert(user: user, request: request, attempt: policy.attempt, checked: checked)
        } catch let refused as RefusedOriginal {
            await removeOriginal(object)
            throw refused.error
        }
        return try await record(caller, id: reel)
    }

    /// Whether some reel already uses the original.
    func reelExists(original: String) async throws -> Bool {
        try await database.withOwner { connection in
            for try await _ in try await connection.rows("SELECT 1 FROM reels.reels WHERE original_path = $1", [original]) { return true }
            return false
        }
    }

    /// The size, the first bytes, then ffprobe on a local copy; throws ``RefusedOriginal``.
    func check(_ object: StoredObject, policy: UploadPolicy) async throws -> CheckedOriginal {
        guard object.size <= policy.maxBytes else { throw RefusedOriginal(UploadRefusal.tooLarge(object.size, limit: policy.maxBytes)) }
        let sniffed = ContentSniffer.mimeType(of: try await prefix(of: object))
        guard sniffed.hasPrefix("video/") else { throw RefusedOriginal(UploadRefusal.notVideo(sniffed)) }
        guard policy.allowedTypes.contains(sniffed) else {
            throw RefusedOriginal(UploadRefusal.typeNotAllowed(sniffed, allowed: policy.allowedTypes))
        }
        guard let tools = storage.media else { throw UploadRefusal.mediaUnavailable }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("reel-original-\(UUID().uuidString)").path
        defer { unlink(path) }
        try await spool(object, to: path, limit: policy.maxBytes)
        let probe: MediaProbe
        do {
            probe = try await tools.probe(path)
        } catch let error as MediaError {
            if error.kind == .toolsMissing || error.kind == .failed { throw UploadRefusal.mediaUnavailable }
            logger.info("reels: original refused by ffprobe", metadata: ["object": "\(object.name)", "error": "\(error.diagnostics)"])
            throw RefusedOriginal(UploadRefusal.unreadable)
        }
        guard probe.hasVideo else { throw RefusedOriginal(UploadRefusal.noVideoStream) }
        guard let seconds = probe.durationSeconds else { throw RefusedOriginal(UploadRefusal.unreadable) }
        let milliseconds = Int((seconds * 1000).rounded())
        guard milliseconds <= policy.maxDurationMilliseconds else {
            throw RefusedOriginal(UploadRefusal.tooLong(milliseconds: milliseconds, limit: policy.maxDurationMilliseconds))
        }
        return CheckedOriginal(durationMilliseconds: milliseconds, width: probe.width, height: probe.height)
    }

    /// The first ``ContentSniffer/prefixLength`` bytes of the object.
    func prefix(of object: StoredObject) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        let length = min(Int64(ContentSniffer.prefixLength), object.size)
        guard length > 0 else { return [] }
        try await storage.read(object, range: 0..<length) { buffer in
            bytes.append(contentsOf: buffer.readableBytesView.prefix(ContentSniffer.prefixLength - bytes.count))
        }
        return bytes
    }

    /// Copies the object's bytes into a new local file (ffprobe reads the whole container).
    func spool(_ object: StoredObject, to path: String, limit: Int64) async throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw SpoolFailed(path: path)
        }
        defer { try? handle.close() }
        var written: Int64 = 0
        try await storage.read(object, range: nil) { buffer in
            written += Int64(buffer.readableBytes)
            guard written <= limit else { throw RefusedOriginal(UploadRefusal.tooLarge(written, limit: limit)) }
            try handle.write(contentsOf: buffer.readableBytesView)
        }
    }

    /// The reel row and its job, after the daily quota is checked again under the user's lock.
    func insert(user: UUID, request: CreateReelRequest, attempt: Int64, checked: CheckedOriginal) async throws -> UUID {
        try await database.withOwner { connection in
            var wait = 0
            for try await seconds in try await connection.rows("SELECT reels.accept_upload($1, $2)", [user, attempt]).decode(Int.self) {
                wait = seconds
            }
            if wait > 0 {
                let limit = try await connection.scalarText("SELECT reels_per_day::text FROM reels.upload_policy WHERE id", []) ?? "?"
                throw RefusedOriginal(APIError.rateLimited(
                    code: "reels_quota_exceeded", message: "You can publish \(limit) reels a day; retry in \(wait) s", retryAfter: wait))
            }
            // Under the author's lock (accept_upload): one reel per original.
            for try await _ in try await connection.rows("SELECT 1 FROM reels.reels WHERE original_path = $1", [request.objectPath]) {
                throw UploadRefusal.exists
            }
            var created: UUID?
            for try await id in try await connection.rows(
                """
                INSERT INTO reels.reels (author_id, caption, hashtags, visibility, original_path, duration_ms, width, height)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
                """,
                [user, request.caption, request.hashtags, request.visibility, request.objectPath, checked.durationMilliseconds,
                 checked.width, checked.height]
            ).decode(UUID.self) {
                created = id
            }
            guard let created else { throw ReelNotCreated() }
            try await ReelJobs.enqueue(reel: created, on: connection)
            return created
        }
    }

    /// Removes a refused original (as the service: its owner asked for the reel).
    func removeOriginal(_ object: StoredObject) async {
        do {
            _ = try await storage.remove(Self.service, bucket: Self.originals, names: [object.name])
        } catch {
            logger.warning("reels: could not remove a refused original", metadata: ["object": "\(object.name)", "error": "\(error)"])
        }
    }
}

/// A refusal after which the original is removed.
struct RefusedOriginal: Error {
    var error: APIError
    init(_ error: APIError) { self.error = error }
}

struct ReelNotCreated: Error {}

struct SpoolFailed: Error, CustomStringConvertible {
    var path: String
    var description: String { "could not create \(path)" }
}
