import Core
import Foundation
import NIOCore
import Storage

/// The worker's side of storage, as the service role: reads the original from `reels`,
/// stores an attempt's outputs in `reels-media` under `<reel id>/<attempt id>/`, and removes
/// an attempt's outputs (a lost, released or dead attempt).
struct ReelsWorkerMedia: Sendable {
    static let originalsBucket = "reels"
    static let mediaBucket = "reels-media"
    static let caller = Caller(role: .serviceRole, claimsJSON: #"{"role":"service_role"}"#)

    let storage: StorageService

    /// Copies the original to `file`.
    func download(_ path: String, to file: String) async throws {
        let object = try await storage.object(Self.caller, bucket: Self.originalsBucket, name: path)
        _ = FileManager.default.createFile(atPath: file, contents: nil)  // the handle below says if it failed
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        defer { try? handle.close() }
        try await storage.read(object, range: nil) { buffer in
            try handle.write(contentsOf: Data(buffer.readableBytesView))
        }
    }

    /// How many outputs are stored at once: each store waits mostly on the disk's fsync and
    /// the database's commit, so a few in flight overlap those waits.
    static let storesInFlight = 4

    /// Stores every file of `directory` under `prefix`, ``storesInFlight`` at a time (the
    /// largest first, so the last one to start is a small one); `stored` is told each count
    /// as stores finish. Returns only when every file is stored; the first failure cancels
    /// the others and is thrown.
    func upload(files: [String], from directory: String, prefix: String, stored: @Sendable (Int) async -> Void = { _ in }) async throws {
        var pending = Self.largestFirst(files, in: directory)[...]
        try await withThrowingTaskGroup(of: Void.self) { group in
            func startNext() {
                guard let file = pending.popFirst() else { return }
                group.addTask { try await store(directory + "/" + file, as: prefix + "/" + file) }
            }
            for _ in 0..<Self.storesInFlight { startNext() }
            var count = 0
            while try await group.next() != nil {
                count += 1
                await stored(count)
                startNext()
            }
        }
    }

    /// `files` ordered by size, largest first (a file that cannot be measured counts as empty;
    /// reading it reports the error).
    static func largestFirst(_ files: [String], in directory: String) -> [String] {
        let sizes = Dictionary(files.map { file in
            (file, (try? URL(fileURLWithPath: directory + "/" + file).resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0)
        }, uniquingKeysWith: { first, _ in first })
        return files.sorted { (sizes[$0] ?? 0, $1) > (sizes[$1] ?? 0, $0) }
    }

    private func store(_ path: String, as name: String) async throws {
        try Task.checkCancellation()
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        _ = try await storage.upload(
            Self.caller, bucket: Self.mediaBucket, name: name, upsert: true,
            content: UploadContent(mimeType: Self.mimeType(name), cacheControl: "31536000", declaredSize: Int64(data.count)),
            body: Self.body(data))
    }

    /// Removes everything stored under `prefix` (the files at its top and one folder down,
    /// the layout's depth).
    func removeAll(prefix: String) async throws {
        var names: [String] = []
        for entry in try await list(prefix) {
            if entry.object != nil {
                names.append(prefix + "/" + entry.name)
            } else {
                names += try await list(prefix + "/" + entry.name).filter { $0.object != nil }.map { prefix + "/" + entry.name + "/" + $0.name }
            }
        }
        for chunk in stride(from: 0, to: names.count, by: 500) {
            _ = try await storage.remove(Self.caller, bucket: Self.mediaBucket, names: Array(names[chunk..<min(names.count, chunk + 500)]))
        }
    }

    private func list(_ folder: String) async throws -> [ListEntry] {
        var all: [ListEntry] = []
        while true {
            let page = try await storage.list(
                Self.caller, bucket: Self.mediaBucket, prefix: folder, search: "", limit: 1000, offset: all.count, sortColumn: "name", ascending: true)
            all += page
            if page.count < 1000 { return all }
        }
    }

    /// The type each output is stored with. Media segments start with an `styp` box that
    /// storage's sniffer does not know, so they are stored as bytes (`application/octet-stream`).
    static func mimeType(_ file: String) -> String {
        if file.hasSuffix(".m3u8") { return "application/vnd.apple.mpegurl" }
        if file.hasSuffix(".mp4") { return "video/mp4" }
        if file.hasSuffix(".jpg") { return "image/jpeg" }
        return "application/octet-stream"
    }

    static func body(_ data: Data) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            var offset = 0
            while offset < data.count {
                let end = min(data.count, offset + 256 * 1024)
                continuation.yield(ByteBuffer(bytes: data[offset..<end]))
                offset = end
            }
            continuation.finish()
        }
    }
}
