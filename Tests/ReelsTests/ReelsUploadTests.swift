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

/// create_reel on real clips made by ffmpeg: the accepted path, each refusal with its reason
/// and nothing left behind (no reel, no job, no original), and the policies read from
/// `reels.upload_policy` at each upload.
@Suite struct ReelsUploadTests {
    @Test func aGoodClipBecomesAnUploadedReelWithItsJob() async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            let path = try await env.upload(author, UploadClips.good, name: "good.mp4")
            let record = try await env.call("create_reel", #"{"object_path":"\#(path)","caption":"  Summer #Cars #машина #car_1 #CAR_1 #bad-tag ","visibility":"followers"}"#, author)
            #expect(record["state"] == .string("uploaded"))
            #expect(record["caption"] == .string("Summer #Cars #машина #car_1 #CAR_1 #bad-tag"))
            #expect(record["hashtags"] == .array([.string("cars"), .string("машина"), .string("car_1"), .string("bad")]))
            #expect(record["visibility"] == .string("followers"))
            #expect(record["moderation"] == .string("pending"))
            #expect(record["media"] == .null)
            #expect(abs(number(record["duration_ms"]) - 2000) < 200)
            #expect(record["width"] == .number(360))
            #expect(record["height"] == .number(640))
            guard case .string(let id) = record["id"], let reel = UUID(uuidString: id) else { Issue.record("no id"); return }
            #expect(try await env.count("SELECT count(*) FROM reels.jobs WHERE reel_id = $1 AND state = 'queued'", reel) == 1)
            #expect(try await env.originalExists(path))
            // The same original again: 409, and the original stays (it is the reel's).
            let again = await env.error("create_reel", #"{"object_path":"\#(path)"}"#, author)
            #expect(again?.status == .conflict)
            #expect(again?.code == "reel_exists")
            #expect(try await env.originalExists(path))
        }
    }

    /// Each refused kind of file: its code, and no reel, job or original afterwards.
    @Test(arguments: [
        ("text.mp4", UploadClips.Kind.text, "reel_not_video"),
        ("long.mp4", .long, "reel_too_long"),
        ("audio.mp4", .audioOnly, "reel_no_video_stream"),
        ("corrupt.mp4", .corrupt, "reel_unreadable"),
    ])
    func refusedOriginalsLeaveNothingBehind(name: String, kind: UploadClips.Kind, code: String) async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            if kind == .text {
                // Storage itself refuses text declared as video in `reels`; loosen the bucket
                // so that create_reel's own check is what refuses it.
                try await env.storage.updateBucket(ReelsUploads.service, id: "reels", options: .init(allowedMimeTypes: .some(nil)))
            }
            let path = try await env.upload(author, try UploadClips.bytes(kind), name: name, mimeType: kind == .text ? "text/plain" : "video/mp4")
            let error = await env.error("create_reel", #"{"object_path":"\#(path)"}"#, author)
            #expect(error?.status == .badRequest)
            #expect(error?.code == code)
            #expect(error?.field == "object_path")
            try await env.expectNothingLeft(author, path)
        }
    }

    @Test func theKillSwitchRefusesWith503AndRemovesTheOriginal() async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            try await env.policy("uploads_enabled = false")
            let path = try await env.upload(author, UploadClips.good, name: "a.mp4")
            let error = await env.error("create_reel", #"{"object_path":"\#(path)"}"#, author)
            #expect(error?.status == .serviceUnavailable)
            #expect(error?.code == "reels_uploads_disabled")
            try await env.expectNothingLeft(author, path)
            try await env.policy("uploads_enabled = true")
            let second = try await env.upload(author, UploadClips.good, name: "b.mp4")
            _ = try await env.call("create_reel", #"{"object_path":"\#(second)"}"#, author)
        }
    }

    @Test func theHourlyRateCountsRefusedUploadsToo() async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            try await env.policy("uploads_per_hour = 2")
            let corrupt = try await env.upload(author, try UploadClips.bytes(.corrupt), name: "c.mp4")
            #expect(await env.error("create_reel", #"{"object_path":"\#(corrupt)"}"#, author)?.code == "reel_unreadable")
            let first = try await env.upload(author, UploadClips.good, name: "1.mp4")
            _ = try await env.call("create_reel", #"{"object_path":"\#(first)"}"#, author)
            let third = try await env.upload(author, UploadClips.good, name: "3.mp4")
            let error = await env.error("create_reel", #"{"object_path":"\#(third)"}"#, author)
            #expect(error?.status == .tooManyRequests)
            #expect(error?.code == "rate_limited")
            #expect((error?.retryAfterSeconds ?? 0) > 3000)
            try await env.expectNothingLeft(author, third, reels: 1)
            // Another user has their own allowance.
            let other = try await ReelsFixture.user(env.database)
            let theirs = try await env.upload(other, UploadClips.good, name: "x.mp4")
            _ = try await env.call("create_reel", #"{"object_path":"\#(theirs)"}"#, other)
        }
    }

    @Test func theDailyQuotaHoldsEvenAfterADeletion() async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            try await env.policy("reels_per_day = 1")
            let first = try await env.upload(author, UploadClips.good, name: "1.mp4")
            let record = try await env.call("create_reel", #"{"object_path":"\#(first)"}"#, author)
            _ = try await env.call("delete_reel", #"{"reel_id":\#(record["id"]!.jsonText)}"#, author)
            let second = try await env.upload(author, UploadClips.good, name: "2.mp4")
            let error = await env.error("create_reel", #"{"object_path":"\#(second)"}"#, author)
            #expect(error?.status == .tooManyRequests)
            #expect(error?.code == "reels_quota_exceeded")
            try await env.expectNothingLeft(author, second)
        }
    }

    @Test func twoUploadsAtOnceCannotBothTakeTheLastSlotOfTheQuota() async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            try await env.policy("reels_per_day = 1")
            let first = try await env.upload(author, UploadClips.good, name: "p1.mp4")
            let second = try await env.upload(author, UploadClips.good, name: "p2.mp4")
            let outcomes = await withTaskGroup(of: APIError?.self) { group in
                for path in [first, second] {
                    group.addTask { await env.error("create_reel", #"{"object_path":"\#(path)"}"#, author) }
                }
                var outcomes: [APIError?] = []
                for await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            #expect(outcomes.filter { $0 == nil }.count == 1)
            #expect(outcomes.compactMap { $0?.code } == ["reels_quota_exceeded"])
            #expect(try await env.count("SELECT count(*) FROM reels.reels WHERE author_id = $1", author.userID!) == 1)
            let kept = [try await env.originalExists(first), try await env.originalExists(second)]
            #expect(kept.filter { $0 }.count == 1)
        }
    }

    @Test func sizeDurationAndKindsComeFromThePolicyAtEachUpload() async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            try await env.policy("max_bytes = 1000")
            let big = try await env.upload(author, UploadClips.good, name: "big.mp4")
            #expect(await env.error("create_reel", #"{"object_path":"\#(big)"}"#, author)?.code == "reel_too_large")
            try await env.expectNothingLeft(author, big)

            try await env.policy("max_bytes = 524288000, max_duration_ms = 1500")
            let long = try await env.upload(author, UploadClips.good, name: "long.mp4")
            let tooLong = await env.error("create_reel", #"{"object_path":"\#(long)"}"#, author)
            #expect(tooLong?.code == "reel_too_long")
            #expect(tooLong?.message.contains("1.5 s") == true)
            try await env.expectNothingLeft(author, long)

            try await env.policy("max_duration_ms = 90000, allowed_types = ARRAY['video/webm']")
            let mp4 = try await env.upload(author, UploadClips.good, name: "kind.mp4")
            #expect(await env.error("create_reel", #"{"object_path":"\#(mp4)"}"#, author)?.code == "reel_type_not_allowed")
            try await env.expectNothingLeft(author, mp4)

            try await env.policy("allowed_types = DEFAULT")
            let fine = try await env.upload(author, UploadClips.good, name: "fine.mp4")
            _ = try await env.call("create_reel", #"{"object_path":"\#(fine)"}"#, author)
        }
    }

    @Test func onlyTheCallersOwnUploadsBecomeReels() async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            let other = try await ReelsFixture.user(env.database)
            let theirs = try await env.upload(other, UploadClips.good, name: "theirs.mp4")
            let outside = await env.error("create_reel", #"{"object_path":"\#(theirs)"}"#, author)
            #expect(outside?.status == .badRequest)
            #expect(outside?.field == "object_path")
            #expect(try await env.originalExists(theirs))
            let mine = author.userID!.uuidString.lowercased()
            #expect(await env.error("create_reel", #"{"object_path":"\#(mine)/missing.mp4"}"#, author)?.code == "reel_original_not_found")
            #expect(await env.error("create_reel", #"{"object_path":"\#(mine)/../x.mp4"}"#, author)?.field == "object_path")
            #expect(await env.error("create_reel", #"{"object_path":"\#(mine)/a.mp4","visibility":"friends"}"#, author)?.field == "visibility")
            let longCaption = String(repeating: "a", count: 2201)
            #expect(await env.error("create_reel", #"{"object_path":"\#(mine)/a.mp4","caption":"\#(longCaption)"}"#, author)?.field == "caption")
            #expect(await env.error("create_reel", #"{"object_path":"\#(mine)/a.mp4","extra":1}"#, author)?.code == "PGRST202")
        }
    }
}

/// The number in a JSON value (NaN for anything else).
func number(_ value: JSONValue?) -> Double {
    if case .number(let number) = value { return number }
    return .nan
}

/// A storage service on a temporary disk, the uploads part, and helpers to call its RPCs.
struct UploadEnvironment: Sendable {
    let database: Database
    let storage: StorageService
    let uploads: ReelsUploads
    let directory: URL

    static func run(_ body: @Sendable (UploadEnvironment) async throws -> Void) async throws {
        try await TestDatabase.withDatabase { database in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reels-upload-test-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let backend = try await LocalDiskBackend(root: directory.path)
            var logger = Logger(label: "reels-upload-test")
            logger.logLevel = .warning
            let storage = StorageService(database: database, backend: backend, settings: StorageSettings(), logger: logger)
            let uploads = ReelsUploads(
                database: database, storage: storage, logger: logger,
                media: ReelMedia(keyBytes: UploadEnvironment.key))
            try await body(UploadEnvironment(database: database, storage: storage, uploads: uploads, directory: directory))
        }
    }

    static let key = Data(repeating: 42, count: 32)

    /// Uploads `bytes` as `caller` to `reels` at `<uid>/<name>`; returns the name.
    func upload(_ caller: Caller, _ bytes: [UInt8], name: String, mimeType: String = "video/mp4") async throws -> String {
        let path = "\(caller.userID!.uuidString.lowercased())/\(name)"
        _ = try await storage.upload(
            caller, bucket: "reels", name: path, upsert: false, content: UploadContent(mimeType: mimeType), body: Self.body(bytes))
        return path
    }

    /// Stores an output of the pipeline in `reels-media` as the service.
    func storeMedia(_ name: String, _ bytes: [UInt8], mimeType: String = "application/octet-stream") async throws {
        _ = try await storage.upload(
            ReelsUploads.service, bucket: "reels-media", name: name, upsert: true, content: UploadContent(mimeType: mimeType), body: Self.body(bytes))
    }

    static func body(_ bytes: [UInt8]) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + 65_536, bytes.count)
                continuation.yield(ByteBuffer(bytes: bytes[offset..<end]))
                offset = end
            }
            continuation.finish()
        }
    }

    /// Runs an RPC as PostgREST would (unknown keys refused) and parses its JSON object.
    func call(_ name: String, _ json: String, _ caller: Caller) async throws -> [String: JSONValue] {
        var registry = RPCRegistry()
        registry.register(uploads.rpcFunctions)
        let result = try await registry.call(RPCCall(name: name, arguments: Data(json.utf8), caller: caller))
        guard case .json(let data) = result, let object = try JSONValue.parse(String(decoding: data, as: UTF8.self)).objectValue else {
            throw FixtureError("\(name) answered no JSON object")
        }
        return object
    }

    /// The APIError an RPC throws (nil if it succeeds or throws something else).
    func error(_ name: String, _ json: String, _ caller: Caller) async -> APIError? {
        do {
            _ = try await call(name, json, caller)
            return nil
        } catch {
            return error as? APIError
        }
    }

    func policy(_ assignments: String) async throws {
        try await database.withOwner { connection in
            try await connection.execute("UPDATE reels.upload_policy SET \(assignments)", [])
        }
    }

    func count(_ sql: String, _ value: UUID) async throws -> Int {
        try await database.withOwner { connection in
            for try await count in try await connection.rows(sql, [value]).decode(Int.self) { return count }
            return 0
        }
    }

    func originalExists(_ path: String) async throws -> Bool {
        (try? await storage.object(ReelsUploads.service, bucket: "reels", name: path)) != nil
    }

    /// Only `reels` reels of the author (and as many jobs), and no original at `path`.
    func expectNothingLeft(_ author: Caller, _ path: String, reels: Int = 0, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(try await count("SELECT count(*) FROM reels.reels WHERE author_id = $1", author.userID!) == reels, sourceLocation: sourceLocation)
        #expect(
            try await count("SELECT count(*) FROM reels.jobs j JOIN reels.reels r ON r.id = j.reel_id WHERE r.author_id = $1", author.userID!) == reels,
            sourceLocation: sourceLocation)
        #expect(try await !originalExists(path), sourceLocation: sourceLocation)
    }
}

/// Clips made once per test process with ffmpeg (lavfi testsrc/sine).
enum UploadClips {
    enum Kind: String, Sendable, CaseIterable, CustomTestStringConvertible {
        case good, long, audioOnly, corrupt, text
        var testDescription: String { rawValue }
    }

    static let directory: URL = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reels-clips-\(getpid())")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }()

    static var good: [UInt8] { (try? bytes(.good)) ?? [] }

    static func bytes(_ kind: Kind) throws -> [UInt8] {
        switch kind {
        case .text: return Array("hello, this is not a video\n".utf8)
        case .corrupt:
            // A real MP4's ftyp box (so the bytes sniff as video/mp4), then noise.
            var bytes = Array(try bytes(.good).prefix(32))
            var generator = SystemRandomNumberGenerator()
            bytes += (0..<20_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
            return bytes
        default:
            return Array(try Data(contentsOf: try clip(kind)))
        }
    }

    static let lock = NSLock()

    static func clip(_ kind: Kind) throws -> URL {
        lock.lock()
        defer { lock.unlock() }
        let file = directory.appendingPathComponent("\(kind.rawValue).mp4")
        if FileManager.default.fileExists(atPath: file.path) { return file }
        let arguments: [String]
        switch kind {
        case .good:
            arguments = ["-f", "lavfi", "-i", "testsrc=size=360x640:rate=25", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "2",
                         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"]
        case .long:
            arguments = ["-f", "lavfi", "-i", "testsrc=size=64x64:rate=1", "-t", "91", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        case .audioOnly:
            arguments = ["-f", "lavfi", "-i", "sine=frequency=440", "-t", "2", "-c:a", "aac"]
        default:
            throw FixtureError("no ffmpeg clip for \(kind)")
        }
        let partial = directory.appendingPathComponent("\(kind.rawValue).part.mp4")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        process.arguments = ["-v", "error", "-y"] + arguments + [partial.path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw FixtureError("ffmpeg failed for \(kind)") }
        try FileManager.default.moveItem(at: partial, to: file)
        return file
    }
}
