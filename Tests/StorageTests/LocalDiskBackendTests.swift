import Foundation
import NIOCore
import Storage
import Testing

/// The local backend against a real directory: atomic replacement, limits, ranges, keys.
@Suite struct LocalDiskBackendTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("storage-\(UUID().uuidString)")

    /// A backend in this test's own temporary directory.
    func makeBackend() async throws -> LocalDiskBackend { try await LocalDiskBackend(root: root.path) }

    func removeRoot() { try? FileManager.default.removeItem(at: root) }

    static func body(_ chunks: [String]) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            for chunk in chunks { continuation.yield(ByteBuffer(string: chunk)) }
            continuation.finish()
        }
    }

    static func read(_ backend: LocalDiskBackend, _ key: String, _ range: Range<Int64>? = nil) async throws -> String {
        var collected = ByteBuffer()
        try await backend.read(key: key, range: range) { chunk in
            var chunk = chunk
            collected.writeBuffer(&chunk)
        }
        return String(buffer: collected)
    }

    @Test func writesReadsAndReportsTheMD5() async throws {
        defer { removeRoot() }
        let backend = try await makeBackend()
        let blob = try await backend.write(key: "b/1/v", body: Self.body(["hel", "lo"]), maxBytes: 100)
        #expect(blob == StoredBlob(size: 5, md5: "5d41402abc4b2a76b9719d911017c592"))
        #expect(try await Self.read(backend, "b/1/v") == "hello")
        #expect(try await Self.read(backend, "b/1/v", 1..<4) == "ell")
        #expect(try await backend.stat(key: "b/1/v") == blob)
        #expect(try await backend.stat(key: "b/1/missing") == nil)
    }

    @Test func aLargeWriteStreamsInChunks() async throws {
        defer { removeRoot() }
        let backend = try await makeBackend()
        let chunk = String(repeating: "x", count: 1 << 20)
        let blob = try await backend.write(key: "b/big", body: Self.body(Array(repeating: chunk, count: 20)), maxBytes: 1 << 30)
        #expect(blob.size == 20 << 20)
        var chunks = 0
        var largest = 0
        try await backend.read(key: "b/big", range: nil) { buffer in
            chunks += 1
            largest = max(largest, buffer.readableBytes)
        }
        #expect(chunks >= 320)
        #expect(largest <= 64 << 10)
    }

    @Test func chunksOfEverySizeAreGatheredIntoBlocksInOrder() async throws {
        defer { removeRoot() }
        let backend = try await makeBackend()
        // Small chunks that straddle the 1 MiB block boundary, a chunk larger than a block
        // (taken as is when the block is empty, copied when it is not), and a short tail.
        var bytes: [UInt8] = []
        var chunks: [ByteBuffer] = []
        for size in [100_003, 100_003, 900_000, 2 << 20, 7, 1 << 20, 3 << 20, 13] {
            let chunk = (0..<size).map { UInt8(truncatingIfNeeded: (bytes.count + $0) &* 31 &+ size) }
            bytes += chunk
            chunks.append(ByteBuffer(bytes: chunk))
        }
        let body = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
            for chunk in chunks { continuation.yield(chunk) }
            continuation.finish()
        }
        let blob = try await backend.write(key: "b/blocks", body: body, maxBytes: 1 << 30)
        let whole = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
            continuation.yield(ByteBuffer(bytes: bytes))
            continuation.finish()
        }
        #expect(blob == (try await backend.write(key: "b/whole", body: whole, maxBytes: 1 << 30)))
        #expect(blob.size == Int64(bytes.count))
        var stored: [UInt8] = []
        try await backend.read(key: "b/blocks", range: nil) { buffer in stored += buffer.readableBytesView }
        #expect(stored == bytes)
    }

    @Test func aWriteOverTheLimitLeavesNothingAndKeepsTheOldBytes() async throws {
        defer { removeRoot() }
        let backend = try await makeBackend()
        _ = try await backend.write(key: "b/k", body: Self.body(["old"]), maxBytes: 10)
        await #expect(throws: BlobTooLarge.self) {
            _ = try await backend.write(key: "b/k", body: Self.body(["12345", "678901"]), maxBytes: 10)
        }
        #expect(try await Self.read(backend, "b/k") == "old")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("incoming").path)
        #expect(leftovers.isEmpty)
    }

    @Test func aFailingBodyLeavesNothingBehind() async throws {
        struct Cut: Error {}
        defer { removeRoot() }
        let backend = try await makeBackend()
        let body = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
            continuation.yield(ByteBuffer(string: "partial"))
            continuation.finish(throwing: Cut())
        }
        await #expect(throws: Cut.self) { _ = try await backend.write(key: "b/cut", body: body, maxBytes: 100) }
        #expect(try await backend.stat(key: "b/cut") == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("incoming").path).isEmpty)
    }

    @Test func copyAndDelete() async throws {
        defer { removeRoot() }
        let backend = try await makeBackend()
        _ = try await backend.write(key: "b/a", body: Self.body(["abc"]), maxBytes: 10)
        try await backend.copy(from: "b/a", to: "c/d/e")
        #expect(try await Self.read(backend, "c/d/e") == "abc")
        try await backend.delete(key: "b/a")
        try await backend.delete(key: "b/a")
        await #expect(throws: BlobNotFound.self) { try await Self.read(backend, "b/a") }
        await #expect(throws: BlobNotFound.self) { try await backend.copy(from: "b/a", to: "b/z") }
    }

    @Test func keysCannotLeaveTheDirectory() async throws {
        defer { removeRoot() }
        let backend = try await makeBackend()
        for key in ["", "../x", "a/../../x", "a//b", "a/./b", "/abs", "a/\0b", "../\u{301}x", "/\u{301}x"] {
            await #expect(throws: LocalDiskError.self, "\(key.debugDescription)") {
                _ = try await backend.write(key: key, body: Self.body(["x"]), maxBytes: 10)
            }
        }
    }

    @Test func anInterruptedWriteIsClearedAtStart() async throws {
        defer { removeRoot() }
        _ = try await makeBackend()
        let stray = root.appendingPathComponent("incoming/stray")
        let current = root.appendingPathComponent("incoming/current")
        try Data("half".utf8).write(to: stray)
        try Data("being written".utf8).write(to: current)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: stray.path)
        _ = try await makeBackend()
        #expect(!FileManager.default.fileExists(atPath: stray.path))
        #expect(FileManager.default.fileExists(atPath: current.path), "a recent file may be another instance's write in progress")
    }
}
