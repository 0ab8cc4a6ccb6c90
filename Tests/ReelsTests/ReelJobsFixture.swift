import Core
import Database
import Foundation
import Logging
import NIOCore
import Realtime
import Storage
import Testing
import TestSupport

@testable import Reels

/// Clips made by ffmpeg at test time, a storage service on local disk with the `reels-media`
/// bucket, and reels with queued jobs, for the pipeline suites.
enum ReelJobsFixture {
    static let service = Caller(role: .serviceRole, claimsJSON: #"{"role":"service_role"}"#)

    /// A `seconds`-long H.264 MP4 of `width`×`height` (with a tone unless `audio` is false).
    static func clip(width: Int, height: Int, seconds: Double, audio: Bool = true, rate: Int = 25) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reels-clip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let output = directory.appendingPathComponent("clip.mp4")
        var arguments = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc=size=\(width)x\(height):rate=\(rate)"]
        if audio { arguments += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"] }
        arguments += ["-t", String(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        if audio { arguments += ["-c:a", "aac", "-shortest"] }
        arguments += [output.path]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "ffmpeg could not make the clip")
        return output
    }

    static var transcoder: Transcoder {
        get throws { try #require(Transcoder.locate(timeout: .seconds(120))) }
    }

    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("reels-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "reels-pipeline-test")
        logger.logLevel = .critical
        return logger
    }

    /// A storage service on `database` with the local backend in a temporary directory and
    /// the `reels-media` bucket (made here when migration 0021 has not made it).
    static func storage(_ database: Database) async throws -> StorageService {
        let directory = try temporaryDirectory()
        let backend = try await LocalDiskBackend(root: directory)
        var settings = StorageSettings()
        settings.processingDirectory = directory + "/processing"
        let storage = StorageService(database: database, backend: backend, settings: settings, logger: quietLogger)
        if (try? await storage.bucket(service, id: "reels-media")) == nil {
            try await storage.createBucket(service, id: "reels-media", name: nil, options: .init(isPublic: false))
        }
        return storage
    }

    /// Uploads `clip` as `author`'s original and inserts a reel for it with a queued job.
    static func reelWithJob(_ database: Database, _ storage: StorageService, author: Caller, clip: URL, caption: String = "") async throws -> UUID {
        let name = "\(author.userID?.uuidString.lowercased() ?? "x")/\(UUID().uuidString.lowercased()).mp4"
        let data = try Data(contentsOf: clip)
        _ = try await storage.upload(
            service, bucket: "reels", name: name, upsert: false, content: UploadContent(mimeType: "video/mp4"),
            body: ReelsWorkerMedia.body(data))
        return try await database.withOwner { connection in
            var created: UUID?
            for try await id in try await connection.rows(
                "INSERT INTO reels.reels (author_id, original_path, caption) VALUES ($1, $2, $3) RETURNING id", [author.userID, name, caption]
            ).decode(UUID.self) { created = id }
            guard let created else { throw FixtureError("no reel") }
            try await ReelJobs.enqueue(reel: created, on: connection)
            return created
        }
    }

    /// A reel (original path only, nothing uploaded) with a queued job, for the queue suites.
    static func queuedReel(_ database: Database, author: Caller, caption: String = "") async throws -> UUID {
        let name = "\(author.userID?.uuidString.lowercased() ?? "x")/\(UUID().uuidString.lowercased()).mp4"
        return try await database.withOwner { connection in
            var created: UUID?
            for try await id in try await connection.rows(
                "INSERT INTO reels.reels (author_id, original_path, caption) VALUES ($1, $2, $3) RETURNING id", [author.userID, name, caption]
            ).decode(UUID.self) { created = id }
            guard let created else { throw FixtureError("no reel") }
            try await ReelJobs.enqueue(reel: created, on: connection)
            return created
        }
    }

    /// The job row of `reel`'s newest job: state, attempts, seconds until run_after, last_error.
    static func job(_ database: Database, reel: UUID) async throws -> (state: String, attempts: Int, dueIn: Double, lastError: String?) {
        try await database.withOwner { connection in
            for try await row in try await connection.rows(
                """
                SELECT state, attempts, extract(epoch FROM run_after - now())::float8, last_error FROM reels.jobs
                WHERE reel_id = $1 ORDER BY created_at DESC LIMIT 1
                """, [reel]
            ).decode((String, Int, Double, String?).self) {
                return (row.0, row.1, row.2, row.3)
            }
            throw FixtureError("no job")
        }
    }

    /// state, progress, moderation, failure_reason, media_prefix of a reel.
    static func reelState(_ database: Database, _ reel: UUID) async throws -> (state: String, progress: Int, moderation: String, failure: String?, prefix: String?) {
        try await database.withOwner { connection in
            for try await row in try await connection.rows(
                "SELECT state, progress::int, moderation, failure_reason, media_prefix FROM reels.reels WHERE id = $1", [reel]
            ).decode((String, Int, String, String?, String?).self) {
                return (row.0, row.1, row.2, row.3, row.4)
            }
            throw FixtureError("no reel")
        }
    }

    /// Waits until `reel` is in `state` (or `timeout` passes) and returns its state.
    static func waitFor(_ database: Database, _ reel: UUID, state: String, timeout: Duration = .seconds(90)) async throws -> String {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var current = ""
        while clock.now < deadline {
            current = try await reelState(database, reel).state
            if current == state { return current }
            try await Task.sleep(for: .milliseconds(100))
        }
        return current
    }

    /// Waits until the reel's state is no longer `state`; returns the state it has then (or
    /// still `state` at the timeout).
    static func waitFor(_ database: Database, _ reel: UUID, leaving state: String, timeout: Duration) async throws -> String {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var current = state
        while clock.now < deadline {
            current = try await reelState(database, reel).state
            if current != state { return current }
            try await Task.sleep(for: .milliseconds(100))
        }
        return current
    }
}
