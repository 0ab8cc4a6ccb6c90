import Core
import Crypto
import Database
import Foundation
import Logging
import NIOCore
import Synchronization

/// What an upload declares about its bytes.
public struct UploadContent: Sendable {
    /// The object's Content-Type as declared (validated by the service).
    public var mimeType: String
    /// The cache-control field or header (`3600` becomes `max-age=3600`; nil: `no-cache`).
    public var cacheControl: String?
    /// The user metadata as JSON text (nil: `{}`).
    public var metadataJSON: String?
    /// The size the client announced (Content-Length of a raw body), to refuse early.
    public var declaredSize: Int64?

    public init(mimeType: String, cacheControl: String? = nil, metadataJSON: String? = nil, declaredSize: Int64? = nil) {
        self.mimeType = mimeType
        self.cacheControl = cacheControl
        self.metadataJSON = metadataJSON
        self.declaredSize = declaredSize
    }
}

/// One entry of a folder listing: a sub-folder (no object) or an object directly in it.
public struct ListEntry: Sendable {
    public var name: String
    public var object: StoredObject?
}

/// The storage rules: paths, bucket limits and MIME types, upserts, and the order of writes
/// that keeps every object whole (blob first, then the row, then the replaced blob), with
/// row-level security deciding who may do what (``StorageStore``).
public struct StorageService: Sendable {
    public let store: StorageStore
    public let backend: any StorageBackend
    public let settings: StorageSettings
    let database: Database
    let logger: Logger
    let keys: SigningKeyCache
    let writeLimit: ActionLimit
    /// ffmpeg/ffprobe for re-encoding images; nil when they are not installed (image uploads
    /// are then refused with 503, fail closed).
    public let media: MediaProcessor?
    let mediaSlots: MediaSlots

    public init(
        database: Database, backend: any StorageBackend, settings: StorageSettings, logger: Logger,
        media: MediaProcessor? = StorageService.locateMedia()
    ) {
        self.database = database
        self.media = media
        self.mediaSlots = MediaSlots(limit: max(2, ProcessInfo.processInfo.activeProcessorCount))
        if media == nil {
            logger.error("storage: ffmpeg/ffprobe not found on PATH: image uploads will be refused (503) until Debian's ffmpeg package is installed")
        }
        self.store = StorageStore(database: database)
        self.backend = backend
        self.settings = settings
        self.logger = logger
        self.keys = SigningKeyCache()
        self.writeLimit = ActionLimit(
            "storage_write", burst: settings.writesPerMinute, perSeconds: 60,
            allowance: "make \(settings.writesPerMinute) storage changes a minute")
    }

    // MARK: Callers

    /// Anonymous callers cannot write (no policy would let them); signed-in callers spend a
    /// token of their write allowance.
    func admitWrite(_ caller: Caller) async throws {
        switch caller.role {
        case .anon: throw StorageError.signInRequired
        case .authenticated: try await writeLimit.take(database, caller)
        case .serviceRole: return
        }
    }

    /// Spends one storage write of `owner` for a request authorised by their signed upload
    /// URL (no bearer): a token cannot be replayed faster than its owner may write.
    func admitSignedWrite(owner: UUID?) async throws {
        guard let owner else { return }
        try await writeLimit.take(database, user: owner)
    }

    // MARK: Buckets

    public func listBuckets(_ caller: Caller) async throws -> [Bucket] {
        try await store.buckets(caller)
    }

    public func bucket(_ caller: Caller, id: String) async throws -> Bucket {
        let id = try ObjectPath.bucketID(id, field: "bucket")
        guard let bucket = try await store.bucket(caller, id: id) else { throw StorageError.bucketNotFound }
        return bucket
    }

    /// Bucket settings as sent by clients, validated.
    public struct BucketOptions: Sendable {
        public var isPublic: Bool?
        /// nil: unchanged; .some(nil): no limit.
        public var fileSizeLimit: Int64??
        public var allowedMimeTypes: [String]??

        public init(isPublic: Bool? = nil, fileSizeLimit: Int64?? = nil, allowedMimeTypes: [String]?? = nil) {
            self.isPublic = isPublic
            self.fileSizeLimit = fileSizeLimit
            self.allowedMimeTypes = allowedMimeTypes
        }
    }

    func validated(_ options: BucketOptions) throws -> BucketOptions {
        if case .some(.some(let limit)) = options.fileSizeLimit, limit <= 0 || limit > settings.maxUploadBytes {
            throw StorageError.invalid("file_size_limit", "a bucket's size limit is from 1 to \(settings.maxUploadBytes) bytes (STORAGE_MAX_UPLOAD_BYTES)")
        }
        if case .some(.some(let types)) = options.allowedMimeTypes {
            guard types.count <= 100 else { throw StorageError.invalid("allowed_mime_types", "at most 100 types") }
            for (index, type) in types.enumerated() {
                let field = "allowed_mime_types[\(index)]"
                if type == "*/*" || type == "*" { continue }
                let parts = type.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0] != "*", parts.allSatisfy({ $0 == "*" || (!$0.isEmpty && $0.lowercased().utf8.allSatisfy(MimeType.isTokenByte)) })
                else { throw StorageError.invalid(field, "a MIME type such as image/png or a wildcard such as image/* (got '\(type)')") }
            }
        }
        return options
    }

    public func createBucket(_ caller: Caller, id: String, name: String?, options: BucketOptions) async throws {
        let id = try ObjectPath.bucketID(id, field: "id")
        let name = name ?? id
        guard (1...100).contains(name.count), !name.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw StorageError.invalid("name", "a bucket name has 1 to 100 characters and no control characters")
        }
        let options = try validated(options)
        guard caller.role != .anon else { throw StorageError.rowLevelSecurity }
        do {
            try await store.createBucket(
                caller, id: id, name: name, isPublic: options.isPublic ?? false, limit: options.fileSizeLimit ?? nil,
                mimes: options.allowedMimeTypes ?? nil)
        } catch let error as APIError where error.code == "23505" {
            throw StorageError.duplicate
        } catch let error as APIError where error.code == "42501" {
            throw StorageError.rowLevelSecurity
        }
    }

    public func updateBucket(_ caller: Caller, id: String, options: BucketOptions) async throws {
        let id = try ObjectPath.bucketID(id, field: "bucket")
        let options = try validated(options)
        let changed: Bool
        do {
            changed = try await store.updateBucket(
                caller, id: id, isPublic: options.isPublic, limit: options.fileSizeLimit, mimes: options.allowedMimeTypes)
        } catch let error as APIError where error.code == "42501" {
            throw StorageError.rowLevelSecurity
        }
        if !changed {
            // Visible but not changeable: the policy refused; invisible: not found.
            if try await store.bucket(caller, id: id) != nil { throw StorageError.rowLevelSecurity }
            throw StorageError.bucketNotFound
        }
    }

    /// Deletes every object of the bucket the caller may delete, then their blobs.
    public func emptyBucket(_ caller: Caller, id: String) async throws {
        _ = try await bucket(caller, id: id)
        try await admitWrite(caller)
        let removed = try await store.removeAll(caller, bucket: id)
        await deleteBlobs(removed.map(\.blobKey))
    }

    public func deleteBucket(_ caller: Caller, id: String) async throws {
        let id = try ObjectPath.bucketID(id, field: "bucket")
        let outcome: StorageStore.BucketDeletion
        do {
            outcome = try await store.deleteBucket(caller, id: id)
        } catch let error as APIError where error.code == "42501" {
            throw StorageError.rowLevelSecurity
        }
        switch outcome {
        case .deleted: return
        case .missing: throw StorageError.bucketNotFound
        case .notEmpty:
            throw APIError(status: .conflict, code: "InvalidRequest", message: "The bucket you tried to delete is not empty")
        }
    }

    // MARK: Uploads

    /// The bucket's rules for an upload of `content` to `bucket`: its limits, as the owner.
    func uploadRules(bucket id: String, content: UploadContent) async throws -> (bucket: Bucket, mime: String, cache: String, metadata: String, limit: Int64) {
        guard let bucket = try await store.bucketRules(id) else { throw StorageError.bucketNotFound }
        let mime = try MimeType.validated(content.mimeType, field: "contentType")
        if !MimeType.isAllowed(mime, by: bucket.allowedMimeTypes) {
            throw StorageError.mimeNotAllowed(MimeType.essence(mime), allowed: bucket.allowedMimeTypes ?? [])
        }
        let limit = min(bucket.fileSizeLimit ?? settings.maxUploadBytes, settings.maxUploadBytes)
        if let declared = content.declaredSize, declared > limit { throw StorageError.tooLarge(limit: limit) }
        return (bucket, mime, try Self.cacheControl(content.cacheControl), try Self.metadata(content.metadataJSON), limit)
    }

    /// `3600` → `max-age=3600`; other values must be short printable ASCII; nil → `no-cache`.
    static func cacheControl(_ value: String?) throws -> String {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return "no-cache" }
        if value.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            guard value.utf8.count <= 10 else { throw StorageError.invalid("cacheControl", "max-age is at most 10 digits of seconds") }
            return "max-age=\(value)"
        }
        guard value.utf8.count <= 255, value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else {
            throw StorageError.invalid("cacheControl", "a Cache-Control value is at most 255 printable ASCII characters")
        }
        return value
    }

    /// User metadata: a JSON object of at most 8 KiB.
    static func metadata(_ text: String?) throws -> String {
        guard let text, !text.isEmpty else { return "{}" }
        let data = Data(text.utf8)
        guard data.count <= 8192 else { throw StorageError.invalid("metadata", "user metadata is at most 8192 bytes of JSON") }
        let object = try JSONBody.object(from: data)
        guard let canonical = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
            let result = String(data: canonical, encoding: .utf8)
        else { throw StorageError.invalid("metadata", "user metadata must be a JSON object") }
        return result
    }

    /// Uploads `body` as `name` in `bucket` for `caller` (nil with `owner`: a signed upload,
    /// authorised by its token). The blob is written under a fresh version key, the row
    /// committed, and only then the replaced version's blob deleted; a failure at any step
    /// leaves the previous state (and no blob) behind.
    ///
    /// Images are re-encoded without metadata; avatars and attachments are measured and get
    /// their renditions (``MediaPlan``), stored as objects with the upload as `parent_id` and
    /// committed in the same transaction as the upload's row. The owner's quota
    /// (``UserQuota``) is checked before anything is stored and again at commit.
    public func upload(
        _ caller: Caller?, owner: UUID? = nil, bucket: String, name: String, upsert: Bool, content: UploadContent,
        body: some AsyncSequence<ByteBuffer, any Error> & Sendable, beforeCommit: @Sendable () async throws -> Void = {}
    ) async throws -> StoredObject {
        if let caller { try await admitWrite(caller) }
        let rules = try await uploadRules(bucket: bucket, content: content)
        if !upsert, try await store.nameTaken(bucket: bucket, name: name) { throw StorageError.duplicate }
        let objectOwner = caller?.userID ?? owner
        let quotaRoom = try await quotaRoom(
            owner: objectOwner, bucket: bucket, name: name, upsert: upsert, declaredSize: content.declaredSize)
        let version = UUID()
        let key = StorageStore.blobKey(bucket: bucket, version: version)
        // The type is judged from the first bytes, which are then replayed to the backend.
        let sniffedBody = try await SniffedBody.readingAhead(body)
        let sniffed = sniffedBody.sniffedType
        guard ContentSniffer.declared(rules.mime, matchesSniffed: sniffed) else {
            throw StorageError.mimeMismatch(declared: MimeType.essence(rules.mime), detected: sniffed)
        }
        let reencode = Self.reencodes(sniffed, in: rules.bucket)
        let plan = MediaPlan(bucket: bucket, sniffed: sniffed)
        try Self.checkRenditionNames(name, plan: plan)
        // A re-encoded image's stored size is only known afterwards (checked at commit); other
        // bodies stop as soon as they pass the owner's remaining quota.
        let streamLimit = reencode ? rules.limit : min(rules.limit, quotaRoom?.room ?? rules.limit)
        var mime = rules.mime
        var mediaJSON = "{}"
        var renditions: [NewObject] = []
        let blob: StoredBlob
        do {
            if reencode || plan != .none {
                let processed = try await storeProcessed(
                    body: sniffedBody, sniffed: sniffed, bucket: rules.bucket, name: name, owner: objectOwner, cacheControl: rules.cache,
                    key: key, reencode: reencode, plan: plan, spoolLimit: streamLimit, limit: rules.limit)
                blob = processed.blob
                mime = processed.mimeType ?? mime
                mediaJSON = processed.mediaJSON
                renditions = processed.renditions
            } else {
                blob = try await backend.write(key: key, body: sniffedBody, maxBytes: streamLimit)
            }
        } catch let error as BlobTooLarge {
            if error.limit < rules.limit, let quotaRoom {
                throw StorageError.quotaExceeded(used: quotaRoom.used, quota: settings.userQuotaBytes)
            }
            throw StorageError.tooLarge(limit: rules.limit)
        }
        let written = [key] + renditions.map(\.blobKey)
        do {
            // The rest of the request (a form's closing boundary) must be whole before the row exists.
            try await beforeCommit()
        } catch {
            await deleteBlobs(written)
            throw error
        }
        var object = NewObject(
            bucketID: bucket, name: name, owner: objectOwner, size: blob.size, mimeType: mime,
            cacheControl: rules.cache, etag: blob.md5, metadataJSON: rules.metadata, version: version)
        object.mediaJSON = mediaJSON
        let committed: StoredObject
        let replaced: StorageStore.Replaced
        do {
            (committed, replaced) = try await store.commit(
                object, upsert: upsert, caller: caller, renditions: renditions, quotaBytes: settings.userQuotaBytes)
        } catch {
            await deleteBlobs(written)
            throw error
        }
        // The rows are gone and their keys queued (storage.blob_deletions); delete now, the
        // janitor retries what fails.
        await deleteBlobs((replaced.version.map { [StorageStore.blobKey(bucket: bucket, version: $0)] } ?? []) + replaced.renditionKeys)
        return committed
    }

    /// Deletes blobs whose rows are gone; a failure is logged (the blob is an orphan, never visible).
    func deleteBlobs(_ keys: [String]) async {
        for key in keys {
            do {
                try await backend.delete(key: key)
            } catch {
                logger.warning("storage: could not delete blob", metadata: ["key": "\(key)", "error": "\(error)"])
            }
        }
    }

    // MARK: Reads

    /// The object if the caller may read it, else ``StorageError/objectNotFound``.
    public func object(_ caller: Caller, bucket: String, name: String) async throws -> StoredObject {
        guard let object = try await store.object(caller, bucket: bucket, name: name) else {
            if try await store.bucketRules(bucket) == nil { throw StorageError.bucketNotFound }
            throw StorageError.objectNotFound
        }
        return object
    }

    /// An object of a public bucket (no caller), else ``StorageError/objectNotFound``.
    public func publicObject(bucket: String, name: String) async throws -> StoredObject {
        guard let rules = try await store.bucketRules(bucket), rules.isPublic,
            let object = try await store.objectAsOwner(bucket: bucket, name: name)
        else { throw StorageError.objectNotFound }
        return object
    }

    /// Whether `object`'s bytes are on the backend. A row without its blob should not exist
    /// (lost on the backend, or removed beside the server): it is logged and answered as
    /// missing, before a response's status and headers are sent rather than by a body that
    /// breaks off.
    public func hasBytes(_ object: StoredObject) async throws -> Bool {
        guard try await backend.stat(key: object.blobKey) != nil else {
            logger.error("storage: object without its bytes", metadata: ["bucket": "\(object.bucketID)", "key": "\(object.blobKey)"])
            return false
        }
        return true
    }

    /// Streams `object`'s bytes (or `range` of them) to `consume`.
    public func read(_ object: StoredObject, range: Range<Int64>?, consume: (ByteBuffer) async throws -> Void) async throws {
        try await backend.read(key: object.blobKey, range: range, consume: consume)
    }

    public func list(
        _ caller: Caller, bucket: String, prefix: String, search: String, limit: Int, offset: Int, sortColumn: String, ascending: Bool
    ) async throws -> [ListEntry] {
        _ = try await self.bucket(caller, id: bucket)
        // The prefix is a folder: "a", "a/" and "a//" name the same one.
        let folder = try ObjectPath.folder(prefix)
        return try await store.list(
            caller, bucket: bucket, folder: folder, search: search, limit: limit, offset: offset, sortColumn: sortColumn, ascending: ascending
        ).map { ListEntry(name: $0.name, object: $0.object) }
    }

    // MARK: Changes

    /// Removes the named objects the caller may remove; returns their rows (missing names skipped).
    public func remove(_ caller: Caller, bucket: String, names: [String]) async throws -> [StoredObject] {
        try await admitWrite(caller)
        _ = try await self.bucket(caller, id: bucket)
        let removed = try await store.remove(caller, bucket: bucket, names: names)
        await deleteBlobs(removed.map(\.blobKey))
        // Renditions went with their uploads; only what was asked for is reported.
        let asked = Set(names)
        return removed.filter { $0.parentID == nil || asked.contains($0.name) }
    }

    /// Renames an object within its bucket (metadata only: the blob key does not depend on the name).
    public func move(_ caller: Caller, bucket: String, from source: String, to destination: String) async throws -> StoredObject {
        try await admitWrite(caller)
        guard let moved = try await store.move(caller, bucket: bucket, from: source, to: destination) else {
            throw StorageError.objectNotFound
        }
        return moved
    }

    /// Copies an object the caller may read to a new name the caller may write (a new blob).
    public func copy(_ caller: Caller, bucket: String, from source: String, to destination: String, upsert: Bool = false) async throws -> StoredObject {
        try await admitWrite(caller)
        let original = try await object(caller, bucket: bucket, name: source)
        if !upsert, try await store.nameTaken(bucket: bucket, name: destination) { throw StorageError.duplicate }
        let version = UUID()
        let key = StorageStore.blobKey(bucket: bucket, version: version)
        try await backend.copy(from: original.blobKey, to: key)
        let object = NewObject(
            bucketID: bucket, name: destination, owner: caller.userID, size: original.size, mimeType: original.mimeType,
            cacheControl: original.cacheControl, etag: original.etag, metadataJSON: original.metadataJSON, version: version)
        do {
            let (committed, replaced) = try await store.commit(object, upsert: upsert, caller: caller, quotaBytes: settings.userQuotaBytes)
            await deleteBlobs((replaced.version.map { [StorageStore.blobKey(bucket: bucket, version: $0)] } ?? []) + replaced.renditionKeys)
            return committed
        } catch {
            await deleteBlobs([key])
            throw error
        }
    }

    // MARK: Signed URLs

    func signingKey() async throws -> SymmetricKey {
        try await keys.key { try await store.signingKey() }
    }

    /// `expiresIn` checked against ``StorageSettings/signedURLMaxExpirySeconds``.
    func expiry(_ seconds: Int) throws -> Int {
        guard seconds >= 1, seconds <= settings.signedURLMaxExpirySeconds else {
            throw StorageError.invalid("expiresIn", "seconds from 1 to \(settings.signedURLMaxExpirySeconds) (STORAGE_SIGNED_URL_MAX_EXPIRY_SECONDS)")
        }
        return seconds
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970.rounded(.down)) }

    /// A download token for an object the caller may read.
    public func signDownload(_ caller: Caller, bucket: String, name: String, expiresIn: Int) async throws -> String {
        let seconds = try expiry(expiresIn)
        _ = try await object(caller, bucket: bucket, name: name)
        let now = Self.now()
        return try SignedURLToken(url: "\(bucket)/\(name)", issuedAt: now, expiresAt: now + Int64(seconds), scope: .download)
            .signed(with: try await signingKey())
    }

    /// Download tokens for many names: nil for names the caller cannot read.
    public func signDownloads(_ caller: Caller, bucket: String, names: [String], expiresIn: Int) async throws -> [String?] {
        let seconds = try expiry(expiresIn)
        _ = try await self.bucket(caller, id: bucket)
        let key = try await signingKey()
        let now = Self.now()
        var tokens: [String?] = []
        for name in names {
            if let validName = try? ObjectPath.name(name), try await store.object(caller, bucket: bucket, name: validName) != nil {
                tokens.append(
                    try SignedURLToken(url: "\(bucket)/\(validName)", issuedAt: now, expiresAt: now + Int64(seconds), scope: .download)
                        .signed(with: key))
            } else {
                tokens.append(nil)
            }
        }
        return tokens
    }

    /// The object a download token names, after checking the token.
    public func signedObject(bucket: String, name: String, token: String) async throws -> StoredObject {
        _ = try SignedURLToken.verify(token, key: try await signingKey(), url: "\(bucket)/\(name)", scope: .download, now: Self.now())
        guard let object = try await store.objectAsOwner(bucket: bucket, name: name) else { throw StorageError.objectNotFound }
        return object
    }

    /// An upload token for a name the caller may write (checked now by trying the insert).
    public func signUpload(_ caller: Caller, bucket: String, name: String, upsert: Bool) async throws -> String {
        try await admitWrite(caller)
        guard try await store.bucketRules(bucket) != nil else { throw StorageError.bucketNotFound }
        try await store.checkCanWrite(caller, bucket: bucket, name: name, upsert: upsert)
        let now = Self.now()
        return try SignedURLToken(
            url: "\(bucket)/\(name)", issuedAt: now, expiresAt: now + Int64(settings.signedUploadExpirySeconds), scope: .upload,
            upsert: upsert, owner: caller.userID
        ).signed(with: try await signingKey())
    }

    /// Uploads with a token from ``signUpload(_:bucket:name:upsert:)``: no caller, the token's owner.
    public func uploadWithToken(
        _ token: String, bucket: String, name: String, content: UploadContent, body: some AsyncSequence<ByteBuffer, any Error> & Sendable,
        beforeCommit: @Sendable () async throws -> Void = {}
    ) async throws -> StoredObject {
        let verified = try SignedURLToken.verify(token, key: try await signingKey(), url: "\(bucket)/\(name)", scope: .upload, now: Self.now())
        return try await upload(
            nil, owner: verified.owner, bucket: bucket, name: name, upsert: verified.upsert, content: content, body: body,
            beforeCommit: beforeCommit)
    }
}

/// The signed-URL key, loaded from the database once (single flight; a failed load is retried).
final class SigningKeyCache: Sendable {
    private let loading = Mutex<Task<SymmetricKey, any Error>?>(nil)

    func key(load: @escaping @Sendable () async throws -> SymmetricKey) async throws -> SymmetricKey {
        let task = loading.withLock { current in
            if let current { return current }
            let task = Task { try await load() }
            current = task
            return task
        }
        do {
            return try await task.value
        } catch {
            loading.withLock { current in
                if current == task { current = nil }
            }
            throw error
        }
    }
}
