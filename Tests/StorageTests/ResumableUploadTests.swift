import Core
import Foundation
import Logging
import NIOCore
import Testing
import TestSupport

@testable import Storage

/// Resumable (TUS) uploads against a real database and the local backend: chunks, offsets,
/// a body cut midway, the rules checked at creation, other users, expiry, and that a final
/// upload the storage rules refuse leaves nothing behind.
@Suite struct ResumableUploadTests {
    typealias Base = StorageServiceTests

    /// A body that yields `bytes` and then fails, as a request whose connection was cut.
    static func cutBody(_ bytes: [UInt8]) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            continuation.yield(ByteBuffer(bytes: bytes))
            continuation.finish(throwing: CancellationError())
        }
    }

    static func expectStatus(_ status: HTTPResponse.Status, _ work: () async throws -> Void) async {
        do {
            try await work()
            Issue.record("expected \(status)")
        } catch let error as APIError {
            #expect(error.status == status, "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    static func objectCount(_ storage: StorageService) async throws -> Int {
        try await storage.database.withOwner { connection in
            var count = 0
            for try await value in try await connection.rows("SELECT count(*) FROM storage.objects", []).decode(Int.self) { count = value }
            return count
        }
    }

    static func uploadRows(_ storage: StorageService) async throws -> Int {
        try await storage.database.withOwner { connection in
            var count = 0
            for try await value in try await connection.rows("SELECT count(*) FROM storage.resumable_uploads", []).decode(Int.self) {
                count = value
            }
            return count
        }
    }

    @Test func chunksAssembleIntoOneObject() async throws {
        try await Base.withService { storage, ids, directory in
            let uploads = ResumableUploads(storage: storage, readSize: 3)
            let owner = Base.user(ids[0])
            let text = "hello, resumable world"
            let upload = try await uploads.create(
                owner,
                .init(bucket: "files", name: "\(ids[0])/r.txt", length: Int64(text.utf8.count), upsert: false, contentType: "text/plain",
                      cacheControl: "60", metadataJSON: #"{"a":1}"#))
            #expect(upload.offset == 0 && upload.cacheControl == "max-age=60")
            let first = try await uploads.append(owner, upload.uploadID, offset: 0, declaredSize: 5, body: Base.text("hello"))
            #expect(first.upload.offset == 5 && first.object == nil)
            #expect(try await uploads.status(owner, upload.uploadID).offset == 5)
            let second = try await uploads.append(owner, upload.uploadID, offset: 5, declaredSize: nil, body: Base.text(", resumable"))
            #expect(second.upload.offset == 16)
            let last = try await uploads.append(owner, upload.uploadID, offset: 16, declaredSize: nil, body: Base.text(" world"))
            let object = try #require(last.object)
            #expect(object.size == Int64(text.utf8.count) && object.metadataJSON.replacingOccurrences(of: " ", with: "") == #"{"a":1}"#)
            #expect(object.cacheControl == "max-age=60" && object.mimeType == "text/plain")
            #expect(object.owner == ids[0])
            #expect(try await Base.read(storage, object) == text)
            // The chunks are gone; the row says "complete" until it expires.
            #expect(Base.blobCount(directory) == 1)
            let done = try await uploads.status(owner, upload.uploadID)
            #expect(done.offset == done.length && done.status == .done)
            // A repeated last PATCH at the length changes nothing.
            let again = try await uploads.append(owner, upload.uploadID, offset: done.length, declaredSize: 0, body: Base.text(""))
            #expect(again.upload.offset == done.length && again.object == nil)
        }
    }

    @Test func aCutBodyKeepsWhatArrivedAndResumes() async throws {
        try await Base.withService { storage, ids, directory in
            let uploads = ResumableUploads(storage: storage)
            let owner = Base.user(ids[0])
            let bytes = (0..<100).map { UInt8($0 % 26) + UInt8(ascii: "a") }
            let upload = try await uploads.create(owner, .init(bucket: "files", name: "cut.txt", length: 100, upsert: false, contentType: "text/plain"))
            let cut = try await uploads.append(owner, upload.uploadID, offset: 0, declaredSize: 60, body: Self.cutBody(Array(bytes[0..<37])))
            #expect(cut.upload.offset == 37)
            #expect(try await uploads.status(owner, upload.uploadID).offset == 37)
            // A body cut before any byte arrived stores nothing and leaves the offset.
            await #expect(throws: CancellationError.self) {
                _ = try await uploads.append(owner, upload.uploadID, offset: 37, declaredSize: 10, body: Self.cutBody([]))
            }
            #expect(try await uploads.status(owner, upload.uploadID).offset == 37)
            let rest = try await uploads.append(owner, upload.uploadID, offset: 37, declaredSize: 63, body: Base.body(Array(bytes[37...])))
            let object = try #require(rest.object)
            #expect(try await Base.read(storage, object) == String(decoding: bytes, as: UTF8.self))
            #expect(Base.blobCount(directory) == 1)
        }
    }

    @Test func offsetsAndLengthsAreEnforced() async throws {
        try await Base.withService { storage, ids, directory in
            let uploads = ResumableUploads(storage: storage)
            let owner = Base.user(ids[0])
            // Larger than the bucket allows (the test service's limit is 1 MiB): 413 at creation.
            await Self.expectStatus(.contentTooLarge) {
                _ = try await uploads.create(owner, .init(bucket: "files", name: "big.bin", length: 1024 * 1024 + 1, upsert: false))
            }
            let upload = try await uploads.create(owner, .init(bucket: "files", name: "ten.txt", length: 10, upsert: false, contentType: "text/plain"))
            await Self.expectStatus(.conflict) {
                _ = try await uploads.append(owner, upload.uploadID, offset: 3, declaredSize: nil, body: Base.text("abc"))
            }
            // More than is left: by Content-Length before reading, and by the bytes themselves.
            await Self.expectStatus(.contentTooLarge) {
                _ = try await uploads.append(owner, upload.uploadID, offset: 0, declaredSize: 11, body: Base.text("abcdefghijk"))
            }
            await Self.expectStatus(.contentTooLarge) {
                _ = try await uploads.append(owner, upload.uploadID, offset: 0, declaredSize: nil, body: Base.text("abcdefghijk"))
            }
            #expect(try await uploads.status(owner, upload.uploadID).offset == 0)
            #expect(Base.blobCount(directory) == 0)
            // Unknown bucket, bad names, an existing object without upsert, anonymous callers.
            await Self.expectStatus(.notFound) {
                _ = try await uploads.create(owner, .init(bucket: "nope", name: "a.txt", length: 1, upsert: false))
            }
            await Self.expectStatus(.badRequest) {
                _ = try await uploads.create(owner, .init(bucket: "files", name: "../a.txt", length: 1, upsert: false))
            }
            _ = try await storage.upload(
                owner, bucket: "files", name: "taken.txt", upsert: false, content: UploadContent(mimeType: "text/plain"), body: Base.text("x"))
            await Self.expectStatus(.conflict) {
                _ = try await uploads.create(owner, .init(bucket: "files", name: "taken.txt", length: 1, upsert: false))
            }
            _ = try await uploads.create(owner, .init(bucket: "files", name: "taken.txt", length: 1, upsert: true, contentType: "text/plain"))
            await Self.expectStatus(.forbidden) {
                _ = try await uploads.create(.anonymous, .init(bucket: "files", name: "anon.txt", length: 1, upsert: false))
            }
        }
    }

    @Test func anotherUsersUploadIsNotFound() async throws {
        try await Base.withService { storage, ids, _ in
            let uploads = ResumableUploads(storage: storage)
            let owner = Base.user(ids[0])
            let other = Base.user(ids[1])
            let upload = try await uploads.create(owner, .init(bucket: "files", name: "mine.txt", length: 4, upsert: false, contentType: "text/plain"))
            await Self.expectStatus(.notFound) { _ = try await uploads.status(other, upload.uploadID) }
            await Self.expectStatus(.notFound) {
                _ = try await uploads.append(other, upload.uploadID, offset: 0, declaredSize: nil, body: Base.text("abcd"))
            }
            await Self.expectStatus(.notFound) { try await uploads.terminate(other, upload.uploadID) }
            await Self.expectStatus(.notFound) { _ = try await uploads.status(.anonymous, upload.uploadID) }
            // The id must name the upload's own bucket and path.
            var forged = upload.uploadID
            forged.name = "other.txt"
            await Self.expectStatus(.notFound) { _ = try await uploads.status(owner, forged) }
            #expect(try await uploads.status(owner, upload.uploadID).offset == 0)
            // The service role sees every upload.
            #expect(try await uploads.status(Base.service, upload.uploadID).offset == 0)
        }
    }

    @Test func terminationRemovesChunks() async throws {
        try await Base.withService { storage, ids, directory in
            let uploads = ResumableUploads(storage: storage)
            let owner = Base.user(ids[0])
            let upload = try await uploads.create(owner, .init(bucket: "files", name: "gone.txt", length: 8, upsert: false, contentType: "text/plain"))
            _ = try await uploads.append(owner, upload.uploadID, offset: 0, declaredSize: nil, body: Base.text("abcd"))
            #expect(Base.blobCount(directory) == 1)
            try await uploads.terminate(owner, upload.uploadID)
            #expect(Base.blobCount(directory) == 0)
            #expect(try await Self.uploadRows(storage) == 0)
            await Self.expectStatus(.notFound) { _ = try await uploads.status(owner, upload.uploadID) }
        }
    }

    @Test func chunksOfCascadedUploadsAreQueuedForTheJanitor() async throws {
        try await Base.withService { storage, ids, _ in
            let uploads = ResumableUploads(storage: storage)
            let owner = Base.user(ids[0])
            let upload = try await uploads.create(owner, .init(bucket: "files", name: "left.txt", length: 8, upsert: false, contentType: "text/plain"))
            _ = try await uploads.append(owner, upload.uploadID, offset: 0, declaredSize: nil, body: Base.text("abcd"))
            let key = try #require(try await uploads.store.parts(id: upload.id).first?.blobKey)
            // The user goes (account deletion): the upload and its parts cascade, the chunk is queued.
            let queued: [String] = try await storage.database.withOwner { connection in
                try await connection.execute("DELETE FROM auth.users WHERE id = $1", [ids[0]])
                var keys: [String] = []
                for try await key in try await connection.rows("SELECT blob_key FROM storage.blob_deletions", []).decode(String.self) {
                    keys.append(key)
                }
                return keys
            }
            #expect(queued.contains(key))
            #expect(try await Self.uploadRows(storage) == 0)
        }
    }

    @Test func expiredUploadsAreSweptWithTheirChunks() async throws {
        try await Base.withService { storage, ids, directory in
            let uploads = ResumableUploads(storage: storage)
            let owner = Base.user(ids[0])
            let upload = try await uploads.create(owner, .init(bucket: "files", name: "old.txt", length: 8, upsert: false, contentType: "text/plain"))
            _ = try await uploads.append(owner, upload.uploadID, offset: 0, declaredSize: nil, body: Base.text("abcd"))
            // Its time runs out (set in the row rather than waited for: no race with a busy machine).
            try await storage.database.withOwner { connection in
                try await connection.execute(
                    "UPDATE storage.resumable_uploads SET expires_at = now() - interval '1 second' WHERE id = $1", [upload.id])
            }
            await Self.expectStatus(.notFound) { _ = try await uploads.status(owner, upload.uploadID) }
            await Self.expectStatus(.notFound) {
                _ = try await uploads.append(owner, upload.uploadID, offset: 4, declaredSize: nil, body: Base.text("efgh"))
            }
            // The storage janitor removes it: the row, its chunk rows (cascade) and, through
            // the deletion queue, the chunk's blob.
            var settings = storage.settings
            settings.orphanTTLSeconds = 86_400
            let janitor = StorageJanitor(database: storage.database, backend: storage.backend, settings: settings, logger: storage.logger)
            let pass = try await janitor.runOnce()
            #expect(pass.resumableUploadsRemoved == 1 && pass.blobsDeleted == 1, "\(pass)")
            #expect(Base.blobCount(directory) == 0)
            #expect(try await Self.uploadRows(storage) == 0)
        }
    }

    @Test func aRefusedFinalUploadLeavesNothing() async throws {
        try await Base.withService { storage, ids, directory in
            let uploads = ResumableUploads(storage: storage)
            let owner = Base.user(ids[0])
            // Declared a PNG, the bytes are HTML: the storage rules refuse it when it is complete.
            let html = Array("<!doctype html><html><body>not an image</body></html>".utf8)
            let upload = try await uploads.create(
                owner, .init(bucket: "files", name: "fake.png", length: Int64(html.count), upsert: false, contentType: "image/png"))
            _ = try await uploads.append(owner, upload.uploadID, offset: 0, declaredSize: nil, body: Base.body(Array(html[0..<10])))
            await Self.expectStatus(.unsupportedMediaType) {
                _ = try await uploads.append(owner, upload.uploadID, offset: 10, declaredSize: nil, body: Base.body(Array(html[10...])))
            }
            #expect(Base.blobCount(directory) == 0)
            #expect(try await Self.uploadRows(storage) == 0)
            #expect(try await Self.objectCount(storage) == 0)
            await Self.expectStatus(.notFound) { _ = try await uploads.status(owner, upload.uploadID) }
        }
    }

    @Test func anEmptyUploadCompletesAtOnce() async throws {
        try await Base.withService { storage, ids, _ in
            let uploads = ResumableUploads(storage: storage)
            let owner = Base.user(ids[0])
            let upload = try await uploads.create(owner, .init(bucket: "files", name: "empty.txt", length: 0, upsert: false))
            let progress = try await uploads.append(owner, upload.uploadID, offset: 0, declaredSize: 0, body: Base.body([]))
            #expect(progress.object?.size == 0 && progress.upload.status == .done)
        }
    }

    @Test func twoPatchesAtOneOffsetStoreOnce() async throws {
        try await Base.withService { storage, ids, directory in
            let uploads = ResumableUploads(storage: storage)
            let owner = Base.user(ids[0])
            let upload = try await uploads.create(owner, .init(bucket: "files", name: "race.txt", length: 8, upsert: false, contentType: "text/plain"))
            // A slow first PATCH (a retry's original, still streaming) and a fast second one.
            let (slow, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
            continuation.yield(ByteBuffer(string: "SLOW"))
            let first = Task { try await uploads.append(owner, upload.uploadID, offset: 0, declaredSize: 4, body: slow) }
            try await Task.sleep(for: .milliseconds(200))
            let second = try await uploads.append(owner, upload.uploadID, offset: 0, declaredSize: 4, body: Base.text("fast"))
            #expect(second.upload.offset == 4)
            continuation.finish()
            await Self.expectStatus(.conflict) { _ = try await first.value }
            #expect(Base.blobCount(directory) == 1)
            let done = try await uploads.append(owner, upload.uploadID, offset: 4, declaredSize: 4, body: Base.text("-end"))
            #expect(try await Base.read(storage, try #require(done.object)) == "fast-end")
        }
    }

    @Test func chunkCountAndQuotaAreBounded() async throws {
        try await Base.withService { storage, ids, _ in
            let owner = Base.user(ids[0])
            let uploads = ResumableUploads(storage: storage, maxParts: 3)
            let upload = try await uploads.create(owner, .init(bucket: "files", name: "tiny.txt", length: 6, upsert: false, contentType: "text/plain"))
            _ = try await uploads.append(owner, upload.uploadID, offset: 0, declaredSize: 1, body: Base.text("a"))
            _ = try await uploads.append(owner, upload.uploadID, offset: 1, declaredSize: 1, body: Base.text("b"))
            // The third and last chunk allowed must carry the rest.
            await Self.expectStatus(.badRequest) {
                _ = try await uploads.append(owner, upload.uploadID, offset: 2, declaredSize: 1, body: Base.text("c"))
            }
            let done = try await uploads.append(owner, upload.uploadID, offset: 2, declaredSize: 4, body: Base.text("cdef"))
            #expect(try await Base.read(storage, try #require(done.object)) == "abcdef")

            // Unfinished uploads count against the owner's quota.
            let limited = ResumableUploads(storage: Base.service(storage) { $0.userQuotaBytes = 100 })
            _ = try await limited.create(owner, .init(bucket: "files", name: "q1.txt", length: 60, upsert: false, contentType: "text/plain"))
            await Self.expectStatus(.contentTooLarge) {
                _ = try await limited.create(owner, .init(bucket: "files", name: "q2.txt", length: 60, upsert: false, contentType: "text/plain"))
            }
            // An ordinary upload counts them too: 60 reserved + 50 > 100.
            await Self.expectStatus(.contentTooLarge) {
                _ = try await limited.storage.upload(
                    owner, bucket: "files", name: "plain.txt", upsert: false, content: UploadContent(mimeType: "text/plain"),
                    body: Base.body(Array(repeating: 0x61, count: 50)))
            }
            _ = try await limited.create(Base.user(ids[1]), .init(bucket: "files", name: "q3.txt", length: 60, upsert: false))
        }
    }

    @Test func parallelCreationsCannotEachPassTheQuota() async throws {
        try await Base.withService { storage, ids, _ in
            let limited = ResumableUploads(storage: Base.service(storage) { $0.userQuotaBytes = 1000 })
            let owner = Base.user(ids[0])
            // Six at once, 400 bytes each, under 1000: the quota check and the insert share the
            // owner's lock, so exactly two are recorded.
            let created = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        (try? await limited.create(owner, .init(bucket: "files", name: "p\(index).bin", length: 400, upsert: false))) != nil
                    }
                }
                var count = 0
                for await ok in group where ok { count += 1 }
                return count
            }
            let rows = try await Self.uploadRows(storage)
            #expect(created == 2 && rows == 2, "created \(created), rows \(rows)")
        }
    }

    @Test func anUploadLeftFinishingIsTakenOverByHEAD() async throws {
        try await Base.withService { storage, ids, _ in
            let uploads = ResumableUploads(storage: storage)
            let owner = Base.user(ids[0])
            let upload = try await uploads.create(owner, .init(bucket: "files", name: "crash.txt", length: 8, upsert: false, contentType: "text/plain"))
            _ = try await uploads.append(owner, upload.uploadID, offset: 0, declaredSize: nil, body: Base.text("abcd"))
            // The rest arrived and a finishing began on an instance that then died: its chunk
            // is stored and recorded, the upload says 'finishing'.
            let key = "~resumable/\(upload.id.uuidString.lowercased())/4-crashed"
            _ = try await storage.backend.write(key: key, body: Base.text("efgh"), maxBytes: 4)
            func leaveFinishing(since minutesAgo: Int) async throws {
                try await storage.database.withOwner { connection in
                    try await connection.execute(
                        """
                        UPDATE storage.resumable_uploads SET "offset" = 8, status = 'finishing',
                            finishing_since = now() - make_interval(mins => $2::int) WHERE id = $1
                        """, [upload.id, minutesAgo])
                }
            }
            try await storage.database.withOwner { connection in
                try await connection.execute(
                    "INSERT INTO storage.resumable_upload_parts (upload_id, start, size, blob_key) VALUES ($1, 4, 4, $2)", [upload.id, key])
            }
            // Recently: another request may still be storing it. HEAD says complete, PATCH 409.
            try await leaveFinishing(since: 1)
            let recent = try await uploads.status(owner, upload.uploadID)
            #expect(recent.offset == 8 && recent.status == .finishing)
            await #expect(throws: StorageError.objectNotFound) { try await storage.object(owner, bucket: "files", name: "crash.txt") }
            // Past the takeover time: HEAD stores the object.
            try await leaveFinishing(since: 16)
            #expect(try await uploads.status(owner, upload.uploadID).status == .done)
            let object = try await storage.object(owner, bucket: "files", name: "crash.txt")
            #expect(try await Base.read(storage, object) == "abcdefgh")
        }
    }

    @Test func signedUploadTokensAuthoriseOneName() async throws {
        try await Base.withService { storage, ids, _ in
            let uploads = ResumableUploads(storage: storage)
            let owner = Base.user(ids[0])
            let token = try await storage.signUpload(owner, bucket: "files", name: "signed.txt", upsert: false)
            await Self.expectStatus(.badRequest) {
                _ = try await uploads.createSigned(token: token, .init(bucket: "files", name: "other.txt", length: 3, upsert: false))
            }
            await Self.expectStatus(.badRequest) {
                _ = try await uploads.createSigned(token: token + "x", .init(bucket: "files", name: "signed.txt", length: 3, upsert: false))
            }
            let upload = try await uploads.createSigned(
                token: token, .init(bucket: "files", name: "signed.txt", length: 3, upsert: true, contentType: "text/plain"))
            #expect(upload.owner == ids[0] && upload.upsert == false)
            // A token for the same name made for another user does not open this upload.
            let other = try await storage.signUpload(Base.user(ids[1]), bucket: "files", name: "signed.txt", upsert: false)
            await Self.expectStatus(.notFound) { _ = try await uploads.signedCaller(token: other, upload.uploadID) }
            let caller = try await uploads.signedCaller(token: token, upload.uploadID)
            let done = try await uploads.append(caller, upload.uploadID, offset: 0, declaredSize: 3, body: Base.text("abc"))
            #expect(done.object?.owner == ids[0])
        }
    }

    @Test func signedCreationsSpendTheTokenOwnersWrites() async throws {
        try await Base.withService { storage, ids, _ in
            let limited = Base.service(storage) { $0.writesPerMinute = 3 }
            let uploads = ResumableUploads(storage: limited)
            let owner = Base.user(ids[0])
            // Asking for the token is one write, each creation with it another: a token cannot
            // create uploads faster than its owner may write.
            let token = try await limited.signUpload(owner, bucket: "files", name: "flood.txt", upsert: true)
            for _ in 0..<2 {
                _ = try await uploads.createSigned(token: token, .init(bucket: "files", name: "flood.txt", length: 1, upsert: true))
            }
            await Self.expectStatus(.tooManyRequests) {
                _ = try await uploads.createSigned(token: token, .init(bucket: "files", name: "flood.txt", length: 1, upsert: true))
            }
            #expect(try await Self.uploadRows(storage) == 2)
        }
    }

    /// The same flow over the S3 backend (moto): chunk blobs under `~resumable/`, ranged
    /// read-back across chunks, and no chunk left once the object is stored.
    @Test func chunksWorkOverTheS3Backend() async throws {
        let backend = try await S3Peer.backend()
        try await TestDatabase.withDatabase { database in
            let user: UUID = try await database.withOwner { connection in
                var id = UUID()
                for try await value in try await connection.rows(
                    "INSERT INTO auth.users (phone) VALUES ($1) RETURNING id", [TestPhone.unique()]
                ).decode(UUID.self) { id = value }
                return id
            }
            var settings = StorageSettings()
            settings.maxUploadBytes = 16 * 1024 * 1024
            let storage = StorageService(database: database, backend: backend, settings: settings, logger: Logger(label: "tus-s3-test"))
            try await storage.createBucket(Base.service, id: "files", name: nil, options: .init(isPublic: false))
            let uploads = ResumableUploads(storage: storage, readSize: 1024 * 1024)
            let owner = Base.user(user)
            let bytes = (0..<(3 * 1024 * 1024 + 17)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let upload = try await uploads.create(owner, .init(bucket: "files", name: "big.bin", length: Int64(bytes.count), upsert: false))
            let cut = try await uploads.append(owner, upload.uploadID, offset: 0, declaredSize: nil, body: Self.cutBody(Array(bytes[0..<1_500_000])))
            #expect(cut.upload.offset == 1_500_000)
            let part = try await store(uploads).parts(id: upload.id)
            #expect(part.count == 1 && part[0].blobKey.hasPrefix("~resumable/"))
            #expect(try await backend.stat(key: part[0].blobKey)?.size == 1_500_000)
            let done = try await uploads.append(
                owner, upload.uploadID, offset: 1_500_000, declaredSize: nil, body: Base.body(Array(bytes[1_500_000...])))
            let object = try #require(done.object)
            var read: [UInt8] = []
            try await storage.read(object, range: nil) { buffer in read += Array(buffer.readableBytesView) }
            #expect(read == bytes)
            #expect(try await backend.stat(key: part[0].blobKey) == nil)
        }
    }

    func store(_ uploads: ResumableUploads) -> ResumableUploadStore { uploads.store }
}
