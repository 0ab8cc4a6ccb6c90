import Foundation
import NIOCore
import Storage
import Testing
import TestSupport

@testable import Reels

/// How the worker stores an attempt's outputs: several at once, every one or an error, the
/// poster's bytes as ffmpeg wrote them.
@Suite struct ReelsWorkerMediaTests {
    /// A directory with `files` (relative name → bytes).
    private func directory(_ files: [String: [UInt8]]) throws -> String {
        let root = try ReelJobsFixture.temporaryDirectory()
        for (name, bytes) in files {
            let path = root + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        return root
    }

    /// A JPEG made by ffmpeg, as the pipeline's poster is.
    private func jpeg() throws -> [UInt8] {
        let root = try ReelJobsFixture.temporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        process.arguments = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1", root + "/p.jpg"]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/p.jpg")))
    }

    private func storedBytes(_ storage: StorageService, _ name: String) async throws -> [UInt8] {
        let object = try await storage.object(ReelsWorkerMedia.caller, bucket: ReelsWorkerMedia.mediaBucket, name: name)
        var bytes: [UInt8] = []
        try await storage.read(object, range: nil) { bytes += Array($0.readableBytesView) }
        return bytes
    }

    @Test func outputsAreStoredLargestFirstWithNamesBreakingTies() throws {
        let root = try directory(["a": [UInt8](repeating: 1, count: 10), "b": [UInt8](repeating: 1, count: 300), "c": [UInt8](repeating: 1, count: 10), "d": []])
        #expect(ReelsWorkerMedia.largestFirst(["d", "c", "b", "a", "missing"], in: root) == ["b", "a", "c", "d", "missing"])
    }

    @Test func everyOutputIsStoredAndCountedAndThePosterKeepsItsBytes() async throws {
        try await TestDatabase.withDatabase { db in
            let storage = try await ReelJobsFixture.storage(db)
            let media = ReelsWorkerMedia(storage: storage)
            let poster = try jpeg()
            var files: [String: [UInt8]] = ["poster.jpg": poster, "master.m3u8": Array("#EXTM3U\n".utf8)]
            for index in 0..<9 { files["360p/seg_\(index).m4s"] = [UInt8](repeating: UInt8(index), count: 1000 * (index + 1)) }
            let root = try directory(files)
            let prefix = UUID().uuidString.lowercased() + "/" + UUID().uuidString.lowercased()
            let counts = Counts()
            try await media.upload(files: Array(files.keys), from: root, prefix: prefix) { counts.add($0) }
            #expect(counts.values == Array(1...files.count))
            for (name, bytes) in files {
                #expect(try await storedBytes(storage, prefix + "/" + name) == bytes, "\(name)")
            }
            let object = try await storage.object(ReelsWorkerMedia.caller, bucket: ReelsWorkerMedia.mediaBucket, name: prefix + "/poster.jpg")
            #expect(object.mimeType == "image/jpeg")
        }
    }

    @Test func aFileThatCannotBeReadFailsTheWholeUpload() async throws {
        try await TestDatabase.withDatabase { db in
            let storage = try await ReelJobsFixture.storage(db)
            let media = ReelsWorkerMedia(storage: storage)
            let root = try directory(["a.m4s": [1, 2, 3], "b.m4s": [4]])
            let prefix = UUID().uuidString.lowercased() + "/" + UUID().uuidString.lowercased()
            await #expect(throws: (any Error).self) {
                try await media.upload(files: ["a.m4s", "gone.m4s", "b.m4s"], from: root, prefix: prefix)
            }
        }
    }
}

/// Counts reported by an upload, in order.
private final class Counts: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [Int] = []
    func add(_ count: Int) { lock.withLock { seen.append(count) } }
    var values: [Int] { lock.withLock { seen } }
}
