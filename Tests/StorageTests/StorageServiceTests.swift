import Core
import Crypto
import Database
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Testing
import TestSupport

@testable import Storage

/// The storage rules against a real database (a fresh one per test) and the local backend
/// in a temporary directory: path rules, row-level security between users, upserts, bucket
/// limits and MIME rules, and that a refused upload leaves no blob behind.
@Suite struct StorageServiceTests {
    static let service = Caller(role: .serviceRole, claimsJSON: #"{"role":"service_role"}"#)

    static func user(_ id: UUID) -> Caller {
        Caller(role: .authenticated, userID: id, claimsJSON: #"{"sub":"\#(id.uuidString.lowercased())","role":"authenticated"}"#)
    }

    static func body(_ bytes: [UInt8]) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            continuation.yield(ByteBuffer(bytes: bytes))
            continuation.finish()
        }
    }

    static func text(_ string: String) -> AsyncThrowingStream<ByteBuffer, any Error> { body(Array(string.utf8)) }

    /// A valid 1×1 PNG (image uploads must be real images: they are sniffed and re-encoded).
    static let onePixelPNG: [UInt8] = [UInt8](
        Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==") ?? Data())

    /// An insert of the columns a client's upload decides (nine values), as a request role
    /// would try it directly.
    static let insertSQL = """
        INSERT INTO storage.objects (bucket_id, name, owner, size, mime_type, cache_control, etag, user_metadata, version)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
        """

    /// The same service (database, backend, logger) with `adjust`ed settings.
    static func service(_ storage: StorageService, _ adjust: (inout StorageSettings) -> Void) -> StorageService {
        var settings = storage.settings
        adjust(&settings)
        return StorageService(database: storage.database, backend: storage.backend, settings: settings, logger: storage.logger)
    }

    /// A service on a fresh database with two users, a private bucket `files`, and the blob directory.
    static func withService(_ body: @Sendable (StorageService, [UUID], URL) async throws -> Void) async throws {
        try await TestDatabase.withDatabase { database in
            let ids: [UUID] = try await database.withOwner { connection in
                var ids: [UUID] = []
                for _ in 0..<2 {
                    let rows = try await connection.query(
                        "INSERT INTO auth.users (phone) VALUES (\(TestPhone.unique())) RETURNING id",
                        logger: connection.logger)
                    for try await id in rows.decode(UUID.self) { ids.append(id) }
                }
                return ids
            }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("storage-test-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let backend = try await LocalDiskBackend(root: directory.path)
            var settings = StorageSettings()
            settings.maxUploadBytes = 1024 * 1024
            var logger = Logger(label: "storage-test")
            logger.logLevel = .warning
            let storage = StorageService(database: database, backend: backend, settings: settings, logger: logger)
            try await storage.createBucket(service, id: "files", name: nil, options: .init(isPublic: false))
            try await body(storage, ids, directory)
        }
    }

    /// The files under the backend's blob directory.
    static func blobCount(_ directory: URL) -> Int {
        let blobs = directory.appendingPathComponent("blobs")
        guard let enumerator = FileManager.default.enumerator(at: blobs, includingPropertiesForKeys: [.isRegularFileKey]) else { return 0 }
        var count = 0
        for case let url as URL in enumerator where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            count += 1
        }
        return count
    }

    static func read(_ storage: StorageService, _ object: StoredObject) async throws -> String {
        var bytes: [UInt8] = []
        try await storage.read(object, range: nil) { buffer in bytes += Array(buffer.readableBytesView) }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Path rules (no database)

    @Test func pathRulesNormaliseAndRefuse() throws {
        #expect(try ObjectPath.name(urlSegments: ["dir", "a%20b.txt"]) == "dir/a b.txt")
        // NFD "é" becomes NFC.
        #expect(try ObjectPath.name("cafe\u{301}.txt") == "caf\u{e9}.txt")
        let refused: [(String, String)] = [
            ("", "must not be empty"), ("a//b", "empty segment"), ("/a", "empty segment"), ("a/", "empty segment"),
            ("a/../b", "'..'"), ("./a", "'..'"), ("a\u{0}b", "control characters"), ("a\u{7}b", "control characters"),
            (String(repeating: "x", count: 256), "at most 255"), (Array(repeating: "abcdefgh", count: 130).joined(separator: "/"), "at most 1024"),
        ]
        for (name, rule) in refused {
            let error = try #require(throws: APIError.self) { try ObjectPath.name(name) }
            #expect(error.status == .badRequest && error.code == "InvalidRequest")
            #expect(error.message.contains(rule), "\(name.prefix(20)): \(error.message)")
            #expect(error.field == "path")
        }
        #expect(throws: APIError.self) { try ObjectPath.name(urlSegments: ["a%2"]) }
        #expect(throws: APIError.self) { try ObjectPath.name(urlSegments: ["%ff%fe"]) }
        #expect(throws: APIError.self) { try ObjectPath.name(urlSegments: ["%2e%2e", "x"]) }
        #expect(try ObjectPath.bucketID("test-bucket") == "test-bucket")
        #expect(throws: APIError.self) { try ObjectPath.bucketID("a/b") }
        #expect(throws: APIError.self) { try ObjectPath.bucketID("..") }
        #expect(ObjectPath.urlEncoded("dir/a b.txt") == "dir/a%20b.txt")
    }

    @Test func mimeRulesAndWildcards() throws {
        #expect(MimeType.isAllowed("image/png", by: ["image/*"]))
        #expect(MimeType.isAllowed("IMAGE/PNG; q=1", by: ["image/png"]))
        #expect(!MimeType.isAllowed("text/plain", by: ["image/*", "video/mp4"]))
        #expect(!MimeType.isAllowed("imagex/png", by: ["image/*"]))
        #expect(MimeType.isAllowed("text/plain", by: nil))
        #expect(MimeType.isAllowed("text/plain", by: ["*/*"]))
        #expect(throws: APIError.self) { try MimeType.validated("not a type", field: "contentType") }
        #expect(throws: APIError.self) { try MimeType.validated("text/plain\r\nX: y", field: "contentType") }
        #expect(try MimeType.validated("text/plain;charset=UTF-8", field: "contentType") == "text/plain;charset=UTF-8")
    }

    @Test func signedTokensAreBoundToTheirObjectAndExpire() throws {
        let key = SymmetricKey(size: .bits256)
        let token = try SignedURLToken(url: "b/a.txt", issuedAt: 100, expiresAt: 200, scope: .download).signed(with: key)
        #expect(try SignedURLToken.verify(token, key: key, url: "b/a.txt", scope: .download, now: 150).url == "b/a.txt")
        #expect(throws: APIError.self) { try SignedURLToken.verify(token, key: key, url: "b/other.txt", scope: .download, now: 150) }
        #expect(throws: StorageError.invalidToken("jwt expired")) { try SignedURLToken.verify(token, key: key, url: "b/a.txt", scope: .download, now: 200) }
        #expect(throws: StorageError.invalidSignature) {
            try SignedURLToken.verify(token, key: SymmetricKey(size: .bits256), url: "b/a.txt", scope: .download, now: 150)
        }
        #expect(throws: APIError.self) { try SignedURLToken.verify(token, key: key, url: "b/a.txt", scope: .upload, now: 150) }
        #expect(throws: APIError.self) { try SignedURLToken.verify("x.y", key: key, url: "b/a.txt", scope: .download, now: 150) }
    }

    /// The storage shape answers HTTP 400 for most client errors (the real status is the body's
    /// `statusCode` string, checked end to end in Tests/e2e/test_storage.py); 401, 413, 416, 429
    /// and server errors keep theirs.
    @Test func errorsRenderWithStoragesHTTPStatus() {
        func status(_ error: APIError) -> Int { ErrorShapeMiddleware.render(error, shape: .storage).status.code }
        #expect(status(StorageError.objectNotFound) == 400)
        #expect(status(StorageError.duplicate) == 400)
        #expect(status(StorageError.rowLevelSecurity) == 400)
        #expect(status(StorageError.invalid("path", "rule")) == 400)
        #expect(status(StorageError.tooLarge(limit: 1)) == 413)
        #expect(status(APIError(status: .unauthorized, code: "invalid_api_key", message: "Invalid API key")) == 401)
        #expect(status(APIError(status: .unauthorized, code: "PGRST301", message: "JWT could not be verified")) == 400)
        #expect(status(APIError(status: .tooManyRequests, code: "rate_limited", message: "x")) == 429)
        #expect(status(APIError(status: .internalServerError, code: "unexpected_failure", message: "x")) == 500)
    }

    // MARK: With the database

    @Test func uploadDuplicateUpsertAndDownload() async throws {
        try await Self.withService { storage, ids, directory in
            let alice = Self.user(ids[0])
            let first = try await storage.upload(
                alice, bucket: "files", name: "dir/a b.txt", upsert: false, content: UploadContent(mimeType: "text/plain", cacheControl: "3600"),
                body: Self.text("hello"))
            #expect(first.size == 5 && first.etag == "5d41402abc4b2a76b9719d911017c592" && first.cacheControl == "max-age=3600")
            #expect(first.owner == ids[0])
            await #expect(throws: StorageError.duplicate) {
                try await storage.upload(
                    alice, bucket: "files", name: "dir/a b.txt", upsert: false, content: UploadContent(mimeType: "text/plain"),
                    body: Self.text("again"))
            }
            let second = try await storage.upload(
                alice, bucket: "files", name: "dir/a b.txt", upsert: true, content: UploadContent(mimeType: "text/plain"),
                body: Self.text("replaced"))
            #expect(second.id == first.id && second.version != first.version)
            #expect(try await Self.read(storage, try await storage.object(alice, bucket: "files", name: "dir/a b.txt")) == "replaced")
            // The replaced version's blob is gone; exactly one blob remains.
            #expect(try await storage.backend.stat(key: first.blobKey) == nil)
            #expect(Self.blobCount(directory) == 1)
            await #expect(throws: StorageError.objectNotFound) { try await storage.object(alice, bucket: "files", name: "missing.txt") }
            await #expect(throws: StorageError.bucketNotFound) { try await storage.object(alice, bucket: "nope", name: "a.txt") }
        }
    }

    /// What the database itself refuses, whatever the service code does.
    @Test func requestRolesCannotReadSecretsOrChangeBuckets() async throws {
        try await Self.withService { storage, ids, _ in
            let alice = Self.user(ids[0])
            let denied = APIError(status: .forbidden, code: "42501", message: "permission denied")
            for sql in [
                "SELECT * FROM storage.secrets", "INSERT INTO storage.buckets (id, name) VALUES ('x', 'x')",
                "UPDATE storage.buckets SET public = true WHERE id = 'attachments'", "DELETE FROM storage.buckets WHERE id = 'files'",
            ] {
                await #expect(throws: denied, "\(sql)") {
                    try await storage.database.withCaller(alice) { connection in try await connection.execute(sql, []) }
                }
            }
            for sql in ["SELECT * FROM storage.objects", "SELECT * FROM storage.buckets"] {
                await #expect(throws: denied, "anon: \(sql)") {
                    try await storage.database.withCaller(.anonymous) { connection in try await connection.execute(sql, []) }
                }
            }
            // An object in someone else's name, or outside one's folder in an app bucket, is refused by the policy.
            let folder = ids[0].uuidString.lowercased()
            for (bucket, name, owner) in [("files", "x.txt", ids[1]), ("attachments", "\(UUID().uuidString.lowercased())/x.txt", ids[0]), ("attachments", "x.txt", ids[0])] {
                await #expect(throws: denied, "\(bucket)/\(name)") {
                    try await storage.database.withCaller(alice) { connection in
                        try await connection.execute(Self.insertSQL, [bucket, name, owner, Int64(0), "text/plain", "no-cache", String(repeating: "0", count: 32), "{}", UUID()])
                    }
                }
            }
            try await storage.database.withCaller(alice) { connection in
                try await connection.execute(
                    Self.insertSQL, ["attachments", "\(folder)/x.txt", ids[0], Int64(0), "text/plain", "no-cache", String(repeating: "0", count: 32), "{}", UUID()])
            }
            #expect(try await storage.database.withCaller(alice) { connection in
                try await connection.scalarText("SELECT (storage.foldername('a/b/c.txt'))::text", [])
            } == "{a,b}")
        }
    }

    @Test func writesPerUserAreLimited() async throws {
        try await Self.withService { storage, ids, _ in
            let limited = Self.service(storage) { $0.writesPerMinute = 2 }
            let alice = Self.user(ids[0])
            for name in ["1.txt", "2.txt"] {
                _ = try await limited.upload(
                    alice, bucket: "files", name: name, upsert: false, content: UploadContent(mimeType: "text/plain"), body: Self.text(name))
            }
            let refused = await #expect(throws: APIError.self) {
                try await limited.upload(
                    alice, bucket: "files", name: "3.txt", upsert: false, content: UploadContent(mimeType: "text/plain"), body: Self.text("3"))
            }
            #expect(refused?.status == .tooManyRequests && refused?.code == "rate_limited" && (refused?.retryAfterSeconds ?? 0) >= 1)
            // The service role is not limited.
            _ = try await limited.upload(
                Self.service, bucket: "files", name: "3.txt", upsert: false, content: UploadContent(mimeType: "text/plain"), body: Self.text("3"))
        }
    }

    @Test func concurrentUpsertsOfOneNameLeaveOneBlob() async throws {
        try await Self.withService { storage, ids, directory in
            let alice = Self.user(ids[0])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        _ = try await storage.upload(
                            alice, bucket: "files", name: "race.txt", upsert: true, content: UploadContent(mimeType: "text/plain"),
                            body: Self.text("writer \(index)"))
                    }
                }
                try await group.waitForAll()
            }
            let object = try await storage.object(alice, bucket: "files", name: "race.txt")
            #expect(try await Self.read(storage, object).hasPrefix("writer "))
            #expect(Self.blobCount(directory) == 1)
        }
    }

    @Test func anotherUsersPrivateObjectIsInvisible() async throws {
        try await Self.withService { storage, ids, _ in
            let (alice, bob) = (Self.user(ids[0]), Self.user(ids[1]))
            _ = try await storage.upload(
                alice, bucket: "files", name: "secret.txt", upsert: false, content: UploadContent(mimeType: "text/plain"),
                body: Self.text("alice only"))
            await #expect(throws: StorageError.objectNotFound) { try await storage.object(bob, bucket: "files", name: "secret.txt") }
            let listed = try await storage.list(bob, bucket: "files", prefix: "", search: "", limit: 100, offset: 0, sortColumn: "name", ascending: true)
            #expect(listed.isEmpty)
            #expect(try await storage.remove(bob, bucket: "files", names: ["secret.txt"]).isEmpty)
            await #expect(throws: StorageError.objectNotFound) {
                try await storage.signDownload(bob, bucket: "files", name: "secret.txt", expiresIn: 60)
            }
            await #expect(throws: StorageError.objectNotFound) { try await storage.move(bob, bucket: "files", from: "secret.txt", to: "mine.txt") }
            // Bob cannot take the name over with an upsert; his blob is not left behind.
            await #expect(throws: StorageError.rowLevelSecurity) {
                try await storage.upload(
                    bob, bucket: "files", name: "secret.txt", upsert: true, content: UploadContent(mimeType: "text/plain"), body: Self.text("bob"))
            }
            #expect(try await Self.read(storage, try await storage.object(alice, bucket: "files", name: "secret.txt")) == "alice only")
            // The service role sees everything.
            #expect(try await storage.object(Self.service, bucket: "files", name: "secret.txt").owner == ids[0])
        }
    }

    @Test func bucketLimitsAndMimeRulesLeaveNothingBehind() async throws {
        try await Self.withService { storage, ids, directory in
            let alice = Self.user(ids[0])
            let folder = ids[0].uuidString.lowercased()
            // avatars: images only, 5 MB, the user's own folder.
            await #expect(throws: APIError.self) {
                try await storage.upload(
                    alice, bucket: "avatars", name: "\(folder)/a.txt", upsert: false, content: UploadContent(mimeType: "text/plain"),
                    body: Self.text("x"))
            }
            await #expect(throws: StorageError.rowLevelSecurity) {
                try await storage.upload(
                    alice, bucket: "avatars", name: "\(UUID().uuidString.lowercased())/a.png", upsert: false,
                    content: UploadContent(mimeType: "image/png"), body: Self.body(Self.onePixelPNG))
            }
            let avatar = try await storage.upload(
                alice, bucket: "avatars", name: "\(folder)/a.png", upsert: false, content: UploadContent(mimeType: "image/png"),
                body: Self.body(Self.onePixelPNG))
            #expect(try await storage.publicObject(bucket: "avatars", name: "\(folder)/a.png").id == avatar.id)
            await #expect(throws: StorageError.objectNotFound) { try await storage.publicObject(bucket: "files", name: "\(folder)/a.png") }
            // reels: video/* only.
            await #expect(throws: APIError.self) {
                try await storage.upload(
                    alice, bucket: "reels", name: "\(folder)/r.png", upsert: false, content: UploadContent(mimeType: "image/png"), body: Self.text("x"))
            }
            // A bucket limit: refused while streaming, and no blob stays.
            try await storage.updateBucket(Self.service, id: "files", options: .init(fileSizeLimit: .some(4)))
            await #expect(throws: StorageError.tooLarge(limit: 4)) {
                try await storage.upload(
                    alice, bucket: "files", name: "big.txt", upsert: false, content: UploadContent(mimeType: "text/plain"), body: Self.text("12345"))
            }
            // A declared length over the limit is refused before reading.
            await #expect(throws: StorageError.tooLarge(limit: 4)) {
                try await storage.upload(
                    alice, bucket: "files", name: "big.txt", upsert: false, content: UploadContent(mimeType: "text/plain", declaredSize: 5),
                    body: Self.text("12345"))
            }
            #expect(Self.blobCount(directory) == 3, "the avatar and its 64 and 256 px renditions")
            await #expect(throws: StorageError.objectNotFound) { try await storage.object(alice, bucket: "files", name: "big.txt") }
            // Anonymous callers cannot write at all.
            await #expect(throws: StorageError.signInRequired) {
                try await storage.upload(
                    .anonymous, bucket: "files", name: "anon.txt", upsert: false, content: UploadContent(mimeType: "text/plain"), body: Self.text("x"))
            }
            // Buckets are the service role's to create.
            await #expect(throws: StorageError.rowLevelSecurity) { try await storage.createBucket(alice, id: "mine", name: nil, options: .init()) }
            await #expect(throws: StorageError.duplicate) { try await storage.createBucket(Self.service, id: "files", name: nil, options: .init()) }
        }
    }

    @Test func moveCopyListAndRemove() async throws {
        try await Self.withService { storage, ids, directory in
            let alice = Self.user(ids[0])
            for name in ["a/one.txt", "a/b/two.txt", "c.txt"] {
                _ = try await storage.upload(
                    alice, bucket: "files", name: name, upsert: false, content: UploadContent(mimeType: "text/plain"), body: Self.text(name))
            }
            let root = try await storage.list(alice, bucket: "files", prefix: "", search: "", limit: 100, offset: 0, sortColumn: "name", ascending: true)
            #expect(root.map(\.name) == ["a", "c.txt"])
            #expect(root[0].object == nil && root[1].object != nil)
            let folder = try await storage.list(alice, bucket: "files", prefix: "a/", search: "", limit: 100, offset: 0, sortColumn: "name", ascending: true)
            #expect(folder.map(\.name) == ["b", "one.txt"])
            let searched = try await storage.list(alice, bucket: "files", prefix: "a", search: "ON", limit: 100, offset: 0, sortColumn: "name", ascending: true)
            #expect(searched.map(\.name) == ["one.txt"])
            let moved = try await storage.move(alice, bucket: "files", from: "c.txt", to: "a/c.txt")
            #expect(moved.name == "a/c.txt")
            #expect(try await Self.read(storage, moved) == "c.txt")
            let copied = try await storage.copy(alice, bucket: "files", from: "a/c.txt", to: "d.txt")
            #expect(copied.id != moved.id && copied.etag == moved.etag)
            await #expect(throws: StorageError.duplicate) { try await storage.copy(alice, bucket: "files", from: "a/c.txt", to: "d.txt") }
            await #expect(throws: StorageError.duplicate) { try await storage.move(alice, bucket: "files", from: "a/c.txt", to: "d.txt") }
            #expect(Self.blobCount(directory) == 4)
            let removed = try await storage.remove(alice, bucket: "files", names: ["a/c.txt", "d.txt", "nope.txt"])
            #expect(Set(removed.map(\.name)) == ["a/c.txt", "d.txt"])
            #expect(Self.blobCount(directory) == 2)
            await #expect(throws: APIError.self) { try await storage.deleteBucket(Self.service, id: "files") }
            try await storage.emptyBucket(Self.service, id: "files")
            #expect(Self.blobCount(directory) == 0)
            try await storage.deleteBucket(Self.service, id: "files")
            await #expect(throws: StorageError.bucketNotFound) { try await storage.bucket(Self.service, id: "files") }
        }
    }

    @Test func signedUploadsAndDownloads() async throws {
        try await Self.withService { storage, ids, _ in
            let alice = Self.user(ids[0])
            let token = try await storage.signUpload(alice, bucket: "files", name: "up.txt", upsert: false)
            let object = try await storage.uploadWithToken(
                token, bucket: "files", name: "up.txt", content: UploadContent(mimeType: "text/plain"), body: Self.text("signed"))
            #expect(object.owner == ids[0])
            await #expect(throws: StorageError.duplicate) {
                try await storage.uploadWithToken(
                    token, bucket: "files", name: "up.txt", content: UploadContent(mimeType: "text/plain"), body: Self.text("again"))
            }
            await #expect(throws: APIError.self) {
                try await storage.uploadWithToken(
                    token, bucket: "files", name: "other.txt", content: UploadContent(mimeType: "text/plain"), body: Self.text("x"))
            }
            // Signing needs the right to write there.
            let bob = Self.user(ids[1])
            _ = try await storage.upload(
                bob, bucket: "files", name: "bobs.txt", upsert: false, content: UploadContent(mimeType: "text/plain"), body: Self.text("b"))
            await #expect(throws: StorageError.rowLevelSecurity) { try await storage.signUpload(alice, bucket: "files", name: "bobs.txt", upsert: true) }
            await #expect(throws: StorageError.duplicate) { try await storage.signUpload(alice, bucket: "files", name: "bobs.txt", upsert: false) }
            let download = try await storage.signDownload(alice, bucket: "files", name: "up.txt", expiresIn: 60)
            #expect(try await storage.signedObject(bucket: "files", name: "up.txt", token: download).id == object.id)
            await #expect(throws: APIError.self) { try await storage.signDownload(alice, bucket: "files", name: "up.txt", expiresIn: 0) }
            let many = try await storage.signDownloads(alice, bucket: "files", names: ["up.txt", "bobs.txt", "../x"], expiresIn: 60)
            #expect(many[0] != nil && many[1] == nil && many[2] == nil)
        }
    }
}
