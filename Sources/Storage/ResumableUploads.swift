import Core
import Foundation
import HTTPTypes
import Logging
import NIOCore

/// Resumable uploads (TUS 1.0.0 as Supabase serves it, docs/storage.md "Resumable uploads").
///
/// Each PATCH's bytes become one chunk blob in the ``StorageBackend`` (so any instance of
/// the server, with either backend, can continue an upload), and the offset advances in the
/// same transaction that records the chunk: the offset a client learns from HEAD counts only
/// stored bytes. A PATCH whose connection is cut keeps what arrived. When the last byte is
/// stored the chunks are read back in order into ``StorageService/upload(_:owner:bucket:name:upsert:content:body:beforeCommit:)``,
/// the normal path (sniffing, re-encoding, limits, row-level security), then deleted.
public struct ResumableUploads: Sendable {
    let storage: StorageService
    let store: ResumableUploadStore
    /// `STORAGE_RESUMABLE_TTL_SECONDS`: how long an upload may stay unfinished after its last chunk.
    public let ttlSeconds: Int
    /// How many bytes of a chunk blob are read at once while the object is assembled.
    let readSize: Int64
    /// The most chunks one upload may have (each PATCH, or each cut, makes one): past it a
    /// PATCH that does not complete the upload is refused, so tiny PATCHes cannot fill the
    /// database and the backend with rows and blobs.
    let maxParts: Int

    public init(storage: StorageService, ttlSeconds: Int = 86_400, readSize: Int64 = 4 * 1024 * 1024, maxParts: Int = 10_000) {
        self.maxParts = max(1, maxParts)
        self.storage = storage
        self.store = ResumableUploadStore(database: storage.database)
        self.ttlSeconds = ttlSeconds
        self.readSize = max(1, readSize)
    }

    /// What a client declares when it creates an upload (`Upload-Length`, `Upload-Metadata`, `x-upsert`).
    public struct Declaration: Sendable {
        public var bucket: String
        public var name: String
        public var length: Int64
        public var upsert: Bool
        public var contentType: String?
        public var cacheControl: String?
        public var metadataJSON: String?

        public init(
            bucket: String, name: String, length: Int64, upsert: Bool, contentType: String? = nil, cacheControl: String? = nil,
            metadataJSON: String? = nil
        ) {
            self.bucket = bucket
            self.name = name
            self.length = length
            self.upsert = upsert
            self.contentType = contentType
            self.cacheControl = cacheControl
            self.metadataJSON = metadataJSON
        }
    }

    /// The answer to a PATCH: the upload as it is now, and the object once it is complete.
    public struct Progress: Sendable {
        public var upload: ResumableUpload
        public var object: StoredObject?
        /// The body broke off (the client's connection was cut); what arrived is stored.
        public var connectionCut = false
    }

    static let notFound = APIError(status: .notFound, code: "not_found", message: "Upload not found")

    static func conflict(_ message: String) -> APIError {
        APIError(status: .conflict, code: "InvalidRequest", message: message)
    }

    /// Another request is storing this complete upload's object.
    static let beingStored = conflict("the upload is complete and its object is being stored")

    // MARK: Create

    /// Checks everything an upload of these bytes would be checked for up front (bucket,
    /// size limit, MIME rules, the caller's right to write the name, an existing object
    /// without upsert) and records the upload. Spends one storage write of the caller.
    public func create(_ caller: Caller, _ declaration: Declaration) async throws -> ResumableUpload {
        try await create(caller, declaration, owner: caller.role == .authenticated ? caller.userID : nil)
    }

    func create(_ caller: Caller, _ declaration: Declaration, owner: UUID?) async throws -> ResumableUpload {
        try await storage.admitWrite(caller)
        let bucket = try ObjectPath.bucketID(declaration.bucket, field: "bucketName")
        let name = try ObjectPath.name(declaration.name, field: "objectName")
        let rules = try await storage.uploadRules(
            bucket: bucket,
            content: UploadContent(
                mimeType: declaration.contentType ?? "application/octet-stream", cacheControl: declaration.cacheControl,
                metadataJSON: declaration.metadataJSON, declaredSize: declaration.length))
        if !declaration.upsert, try await storage.store.nameTaken(bucket: bucket, name: name) { throw StorageError.duplicate }
        try await storage.store.checkCanWrite(caller, bucket: bucket, name: name, upsert: declaration.upsert)
        // The owner's quota must hold this upload on top of their objects and other uploads
        // still receiving (checked again under the quota lock when the upload is recorded).
        _ = try await storage.quotaRoom(
            owner: owner, bucket: bucket, name: name, upsert: declaration.upsert, declaredSize: declaration.length)
        let upload = ResumableUpload(
            id: UUID(), bucket: bucket, name: name, owner: owner, upsert: declaration.upsert,
            length: declaration.length, offset: 0, mimeType: rules.mime, cacheControl: rules.cache, metadataJSON: rules.metadata,
            status: .receiving, expiresAt: expiry())
        try await store.create(caller, upload, quotaBytes: storage.settings.userQuotaBytes)
        return upload
    }

    func expiry() -> Date { Date().addingTimeInterval(TimeInterval(ttlSeconds)) }

    // MARK: Signed uploads

    /// The request role of signed resumable uploads: the token (a signed upload URL's, from
    /// ``StorageService/signUpload(_:bucket:name:upsert:)``) is the authorisation, as for
    /// `PUT /object/upload/sign/...`; the upload belongs to the token's owner.
    static let signedCaller = Caller(role: .serviceRole, claimsJSON: #"{"role":"service_role"}"#)

    /// Creates an upload authorised by a signed upload token for exactly this bucket and name
    /// (`POST /upload/resumable/sign` with `x-signature`); upsert and owner come from the token.
    public func createSigned(token: String, _ declaration: Declaration) async throws -> ResumableUpload {
        let bucket = try ObjectPath.bucketID(declaration.bucket, field: "bucketName")
        let name = try ObjectPath.name(declaration.name, field: "objectName")
        let verified = try await verify(token, bucket: bucket, name: name)
        var declaration = declaration
        declaration.upsert = verified.upsert
        try await storage.admitSignedWrite(owner: verified.owner)
        return try await create(Self.signedCaller, declaration, owner: verified.owner)
    }

    /// The caller to act as on a signed upload `id`: the token must be valid for its bucket and
    /// name, and the upload must belong to the token's owner (else 404).
    public func signedCaller(token: String, _ id: TusHeaders.UploadID) async throws -> Caller {
        let verified = try await verify(token, bucket: id.bucket, name: id.name)
        guard try await upload(Self.signedCaller, id).owner == verified.owner else { throw Self.notFound }
        return Self.signedCaller
    }

    func verify(_ token: String, bucket: String, name: String) async throws -> SignedURLToken {
        try SignedURLToken.verify(
            token, key: try await storage.signingKey(), url: "\(bucket)/\(name)", scope: .upload, now: StorageService.now())
    }

    // MARK: Status

    /// The caller's upload (HEAD); 404 when it is unknown, expired or someone else's.
    public func upload(_ caller: Caller, _ id: TusHeaders.UploadID) async throws -> ResumableUpload {
        guard caller.role != .anon, let upload = try await store.upload(caller, id: id.id), upload.bucket == id.bucket, upload.name == id.name
        else { throw Self.notFound }
        return upload
    }

    /// The upload for HEAD. An upload whose bytes all arrived but whose object is not stored
    /// (its finishing failed for a reason other than its content) is finished now, so that a
    /// client told "complete" by the offset really has its object.
    public func status(_ caller: Caller, _ id: TusHeaders.UploadID) async throws -> ResumableUpload {
        var upload = try await self.upload(caller, id)
        if upload.status != .done, upload.offset == upload.length {
            let current = upload
            do {
                _ = try await Task { try await finish(caller, current) }.value
                upload.status = .done
            } catch let error as APIError where error == Self.beingStored {
                // Another request is storing it: complete as far as HEAD can tell.
            }
        }
        return upload
    }

    // MARK: Append

    /// Stores `body` as the bytes from `offset` on (PATCH). The offset must be the upload's;
    /// more bytes than the upload has left are refused (413) and nothing is kept. When the
    /// body breaks off (the client's connection was cut) the bytes that arrived are kept and
    /// the offset advances by them. The work runs in a task of its own so that a cancelled
    /// request (its client gone) still records what it stored.
    public func append(
        _ caller: Caller, _ id: TusHeaders.UploadID, offset: Int64, declaredSize: Int64?,
        body: some AsyncSequence<ByteBuffer, any Error> & Sendable
    ) async throws -> Progress {
        let upload = try await self.upload(caller, id)
        let work = Task { try await receive(caller, upload, offset: offset, declaredSize: declaredSize, body: body) }
        return try await work.value
    }

    func receive(
        _ caller: Caller, _ upload: ResumableUpload, offset: Int64, declaredSize: Int64?,
        body: some AsyncSequence<ByteBuffer, any Error> & Sendable
    ) async throws -> Progress {
        guard offset == upload.offset else {
            throw Self.conflict("Upload-Offset \(offset) does not match the upload's offset \(upload.offset)")
        }
        switch upload.status {
        case .done:
            return Progress(upload: upload, object: nil)
        case .finishing:
            throw Self.beingStored
        case .receiving:
            break
        }
        let remaining = upload.length - upload.offset
        if let declaredSize, declaredSize > remaining {
            throw StorageError.invalid(
                "Content-Length", "\(declaredSize) bytes from offset \(offset) would pass Upload-Length \(upload.length)")
                .with(status: .contentTooLarge)
        }
        var current = upload
        var cutHappened = false
        if remaining > 0 {
            // The last chunk the cap allows must be the whole rest (a cut one still counts).
            let parts = try await store.partCount(id: upload.id)
            if parts >= maxParts || (parts == maxParts - 1 && declaredSize != remaining) {
                throw StorageError.invalid(
                    "body", "this upload has \(parts) of at most \(maxParts) chunks: send the remaining \(remaining) bytes in one PATCH")
            }
            let key = "~resumable/\(upload.id.uuidString.lowercased())/\(offset)-\(UUID().uuidString.lowercased())"
            let cut = CutFlag()
            let blob: StoredBlob
            do {
                blob = try await storage.backend.write(key: key, body: CutTolerantBody(base: body, cut: cut), maxBytes: remaining)
            } catch is BlobTooLarge {
                throw StorageError.invalid("body", "more bytes than the \(remaining) the upload has left (Upload-Length \(upload.length))")
                    .with(status: .contentTooLarge)
            }
            if blob.size == 0 {
                await storage.deleteBlobs([key])
                if cut.value { throw CancellationError() }
                return Progress(upload: upload, object: nil)
            }
            let part = ResumablePart(start: offset, size: blob.size, blobKey: key)
            let advanced: ResumableUpload?
            do {
                advanced = try await store.appendPart(caller, id: upload.id, part: part, expiresAt: expiry())
            } catch {
                await storage.deleteBlobs([key])
                throw error
            }
            guard let advanced else {
                await storage.deleteBlobs([key])
                // The upload expired while its chunk arrived: 404, as for any expired upload.
                guard try await store.upload(caller, id: upload.id) != nil else { throw Self.notFound }
                throw Self.conflict("another request stored bytes at offset \(offset) first; HEAD the upload for its offset")
            }
            // When the client is gone what arrived is kept; it resumes from here after a HEAD.
            current = advanced
            cutHappened = cut.value
        }
        guard current.offset == current.length else { return Progress(upload: current, object: nil, connectionCut: cutHappened) }
        let object = try await finish(caller, current)
        current.status = .done
        return Progress(upload: current, object: object)
    }

    // MARK: Finish

    /// Reads the chunks back in order into the normal upload path. A storage error caused
    /// by the content (type mismatch, bad image, duplicate, quota) removes the upload; any
    /// other failure leaves it complete, so an empty PATCH at its length finishes it again.
    func finish(_ caller: Caller, _ upload: ResumableUpload) async throws -> StoredObject {
        guard try await store.claimFinishing(caller, id: upload.id) else {
            throw Self.beingStored
        }
        let parts: [ResumablePart]
        let object: StoredObject
        do {
            parts = try await store.parts(id: upload.id)
            var expected: Int64 = 0
            for part in parts {
                guard part.start == expected else { throw APIError(status: .internalServerError, code: "internal", message: "upload chunks are not contiguous") }
                expected += part.size
            }
            guard expected == upload.length else {
                throw APIError(status: .internalServerError, code: "internal", message: "upload chunks do not add up to its length")
            }
            try await storage.store.checkCanWrite(caller, bucket: upload.bucket, name: upload.name, upsert: upload.upsert)
            object = try await storage.upload(
                nil, owner: upload.owner, bucket: upload.bucket, name: upload.name, upsert: upload.upsert,
                content: UploadContent(
                    mimeType: upload.mimeType, cacheControl: upload.cacheControl, metadataJSON: upload.metadataJSON, declaredSize: upload.length),
                body: ChunkedBlobBody(backend: storage.backend, parts: parts, readSize: readSize))
        } catch let error as APIError where (400..<500).contains(error.status.code) && error.status != .tooManyRequests {
            await discard(upload.id)
            throw error
        } catch {
            try? await store.setStatus(caller, id: upload.id, .receiving)
            throw error
        }
        // The object is stored: what follows is clean-up, and its failure must not turn the
        // answer into an error. Should marking the upload done fail, its chunks stay, and a
        // later HEAD takes the finishing over (finishingTakeover) and settles it.
        do {
            try await store.complete(caller, id: upload.id)
            await storage.deleteBlobs(parts.map(\.blobKey))
        } catch {
            storage.logger.warning(
                "storage: resumable upload stored but not marked done", metadata: ["upload": "\(upload.id)", "error": "\(error)"])
        }
        return object
    }

    // MARK: Remove

    /// Deletes an unfinished upload and its chunks (DELETE, the termination extension).
    public func terminate(_ caller: Caller, _ id: TusHeaders.UploadID) async throws {
        let upload = try await self.upload(caller, id)
        guard upload.status == .receiving else {
            throw StorageError.invalid("upload", "a finished upload cannot be terminated (delete the object instead)")
        }
        await discard(upload.id)
    }

    /// Removes an upload whose creation request was cut while its first chunk arrived: the
    /// client never learnt its URL, so no one can resume it (its length would hold quota until
    /// it expired).
    public func discardUnannounced(_ upload: ResumableUpload) async {
        // A task of its own: the request's task is cancelled once its client is gone.
        let uploads = self
        await Task { await uploads.discard(upload.id) }.value
    }

    /// Deletes an upload's chunk blobs, then its row; a failure is logged (the storage janitor
    /// removes the upload once it expires).
    func discard(_ id: UUID) async {
        do {
            let parts = try await store.parts(id: id)
            await storage.deleteBlobs(parts.map(\.blobKey))
            try await store.remove(id: id)
        } catch {
            storage.logger.warning("storage: could not remove a resumable upload", metadata: ["upload": "\(id)", "error": "\(error)"])
        }
    }
}

extension APIError {
    /// The same error with another HTTP status.
    func with(status: HTTPResponse.Status) -> APIError {
        var copy = self
        copy.status = status
        return copy
    }
}
