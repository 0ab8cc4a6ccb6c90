import Core
import Database
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Testing
import TestSupport

@testable import Storage

/// A storage service on a fresh database with two users and the local backend in a
/// temporary directory, for the media, quota, janitor and seam suites.
struct StorageTestEnvironment: Sendable {
    let storage: StorageService
    let database: Database
    let users: [UUID]
    let directory: URL

    var alice: Caller { StorageServiceTests.user(users[0]) }
    var bob: Caller { StorageServiceTests.user(users[1]) }
    /// `<alice's id>/`: her folder in the app buckets.
    var aliceFolder: String { users[0].uuidString.lowercased() }
    var bobFolder: String { users[1].uuidString.lowercased() }

    static func with(
        configure: @Sendable (inout StorageSettings) -> Void = { _ in },
        _ body: @Sendable (StorageTestEnvironment) async throws -> Void
    ) async throws {
        try await TestDatabase.withDatabase { database in
            let users: [UUID] = try await database.withOwner { connection in
                var ids: [UUID] = []
                for _ in 0..<2 {
                    let rows = try await connection.query(
                        "INSERT INTO auth.users (phone) VALUES (\(TestPhone.unique())) RETURNING id",
                        logger: connection.logger)
                    for try await id in rows.decode(UUID.self) { ids.append(id) }
                }
                return ids
            }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("storage-media-test-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let backend = try await LocalDiskBackend(root: directory.path)
            var settings = StorageSettings()
            settings.maxUploadBytes = 8 * 1024 * 1024
            settings.processingDirectory = directory.appendingPathComponent("processing").path
            configure(&settings)
            var logger = Logger(label: "storage-media-test")
            logger.logLevel = .critical
            let storage = StorageService(database: database, backend: backend, settings: settings, logger: logger)
            try await body(StorageTestEnvironment(storage: storage, database: database, users: users, directory: directory))
        }
    }

    /// Uploads `bytes` as `caller`.
    @discardableResult
    func upload(
        _ caller: Caller, bucket: String, name: String, type: String, _ bytes: [UInt8], upsert: Bool = false, declaredSize: Int64? = nil
    ) async throws -> StoredObject {
        try await storage.upload(
            caller, bucket: bucket, name: name, upsert: upsert, content: UploadContent(mimeType: type, declaredSize: declaredSize),
            body: MediaFixtures.body(bytes))
    }

    /// Every row of storage.objects (as the owner): name → (parent_id, size).
    func rows() async throws -> [String: (parent: UUID?, size: Int64)] {
        try await database.withOwner { connection in
            var rows: [String: (UUID?, Int64)] = [:]
            let result = try await connection.rows("SELECT bucket_id || '/' || name, parent_id, size FROM storage.objects", [])
            for try await (name, parent, size) in result.decode((String, UUID?, Int64).self) { rows[name] = (parent, size) }
            return rows.mapValues { (parent: $0.0, size: $0.1) }
        }
    }

    /// The keys queued in storage.blob_deletions.
    func queuedBlobKeys() async throws -> Set<String> {
        try await database.withOwner { connection in
            var keys: Set<String> = []
            for try await key in try await connection.rows("SELECT blob_key FROM storage.blob_deletions", []).decode(String.self) {
                keys.insert(key)
            }
            return keys
        }
    }

    /// The files under the backend's blob directory.
    var blobCount: Int { StorageServiceTests.blobCount(directory) }

    /// Files left in the processing directory.
    var processingLeftovers: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("processing").path)) ?? []
    }
}
