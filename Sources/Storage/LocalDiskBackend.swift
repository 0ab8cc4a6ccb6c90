import Core
import Crypto
import Foundation
import NIOCore
import NIOPosix
import _NIOFileSystem

/// Blobs as files under one directory (the default backend; `<data dir>/storage`).
///
/// A write goes to `<root>/incoming/<random>` and is fsynced, then renamed over
/// `<root>/blobs/<key>` and the directory fsynced: readers see the old file or the whole new
/// one, and a crash leaves at most a stray file in `incoming/`, which a later start removes.
/// Reads stream in 64 KiB chunks, writes in blocks of 1 MiB, each written while the next
/// arrives; the MD5 is kept beside the file in an extended
/// attribute when the file system has them, and recomputed otherwise.
public struct LocalDiskBackend: StorageBackend {
    let root: FilePath
    let fileSystem: FileSystem
    static let md5Attribute = "user.ecomansoni.md5"
    static let chunkLength = ByteCount.kibibytes(64)
    /// Bytes gathered before a write (fewer, larger writes; with one in flight at most two
    /// blocks are held per upload).
    static let writeBlockLength = 1 << 20

    /// Uses (and creates) `root`; removes what interrupted writes left in `incoming/` (files
    /// older than `staleAfter` seconds, so another instance's writes in progress stay).
    public init(root: String, staleAfter: TimeInterval = 3600) async throws {
        self.root = FilePath(root)
        self.fileSystem = .shared
        try await fileSystem.createDirectory(at: self.root.appending("blobs"), withIntermediateDirectories: true)
        let incoming = self.root.appending("incoming")
        try await fileSystem.createDirectory(at: incoming, withIntermediateDirectories: true)
        StaleFiles.remove(in: incoming.string, olderThan: staleAfter)
    }

    public func write(
        key: String, body: some AsyncSequence<ByteBuffer, any Error> & Sendable, maxBytes: Int64
    ) async throws -> StoredBlob {
        let destination = try path(of: key)
        let temporary = root.appending("incoming").appending(UUID().uuidString)
        do {
            let blob = try await fileSystem.withFileHandle(
                forWritingAt: temporary, options: .newFile(replaceExisting: false)
            ) { handle in
                var hash = Insecure.MD5()
                var written: Int64 = 0
                // The body's chunks are gathered into blocks of `writeBlockLength` and each block
                // is written while the next one arrives and is hashed (one write in flight).
                try await withThrowingTaskGroup(of: Void.self) { writes in
                    var block = ByteBuffer()
                    var blockOffset: Int64 = 0
                    var inFlight = false
                    func flush() async throws {
                        if inFlight { try await writes.next() }
                        let (bytes, offset) = (block, blockOffset)
                        writes.addTask { try await handle.write(contentsOf: bytes, toAbsoluteOffset: offset) }
                        inFlight = true
                        blockOffset += Int64(bytes.readableBytes)
                        block = ByteBuffer()
                    }
                    for try await chunk in body {
                        let (total, overflow) = written.addingReportingOverflow(Int64(chunk.readableBytes))
                        guard !overflow, total <= maxBytes else { throw BlobTooLarge(limit: maxBytes) }
                        chunk.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
                        written = total
                        if block.readableBytes == 0, chunk.readableBytes >= Self.writeBlockLength {
                            block = chunk
                        } else {
                            if block.capacity == 0 { block.reserveCapacity(Self.writeBlockLength) }
                            block.writeImmutableBuffer(chunk)
                        }
                        if block.readableBytes >= Self.writeBlockLength { try await flush() }
                    }
                    if block.readableBytes > 0 { try await flush() }
                    try await writes.waitForAll()
                }
                let md5 = Hex.lowercase(hash.finalize())
                try? await handle.updateValueForAttribute(Array(md5.utf8), attribute: Self.md5Attribute)
                try await handle.synchronize()
                return StoredBlob(size: written, md5: md5)
            }
            try await publish(temporary, at: destination)
            return blob
        } catch {
            _ = try? await fileSystem.removeItem(at: temporary)
            throw error
        }
    }

    public func read(key: String, range: Range<Int64>?, consume: (ByteBuffer) async throws -> Void) async throws {
        let file = try path(of: key)
        do {
            try await fileSystem.withFileHandle(forReadingAt: file) { handle in
                let size = try await handle.info().size
                let wanted = (range ?? 0..<size).clamped(to: 0..<size)
                for try await chunk in handle.readChunks(in: wanted, chunkLength: Self.chunkLength) {
                    try await consume(chunk)
                }
            }
        } catch let error as FileSystemError where error.code == .notFound {
            throw BlobNotFound(key: key)
        }
    }

    public func stat(key: String) async throws -> StoredBlob? {
        let file = try path(of: key)
        do {
            return try await fileSystem.withFileHandle(forReadingAt: file) { handle in
                let size = try await handle.info().size
                if let stored = try? await handle.valueForAttribute(Self.md5Attribute),
                    let md5 = String(validating: stored, as: UTF8.self), md5.count == 32
                {
                    return StoredBlob(size: size, md5: md5)
                }
                var hash = Insecure.MD5()
                for try await chunk in handle.readChunks(in: 0..<size, chunkLength: Self.chunkLength) {
                    chunk.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
                }
                return StoredBlob(size: size, md5: Hex.lowercase(hash.finalize()))
            }
        } catch let error as FileSystemError where error.code == .notFound {
            return nil
        }
    }

    public func copy(from source: String, to destination: String) async throws {
        let from = try path(of: source)
        let to = try path(of: destination)
        let temporary = root.appending("incoming").appending(UUID().uuidString)
        do {
            try await fileSystem.copyItem(at: from, to: temporary)
            try await fileSystem.withFileHandle(forReadingAt: temporary) { try await $0.synchronize() }
            try await publish(temporary, at: to)
        } catch let error as FileSystemError where error.code == .notFound {
            _ = try? await fileSystem.removeItem(at: temporary)
            throw BlobNotFound(key: source)
        } catch {
            _ = try? await fileSystem.removeItem(at: temporary)
            throw error
        }
    }

    public func delete(key: String) async throws {
        try await fileSystem.removeItem(at: path(of: key))
    }

    /// Renames a complete, synced file over `destination` and makes the rename durable.
    private func publish(_ temporary: FilePath, at destination: FilePath) async throws {
        let directory = destination.removingLastComponent()
        try await fileSystem.createDirectory(at: directory, withIntermediateDirectories: true)
        try await NIOThreadPool.singleton.runIfActive {
            guard rename(temporary.string, destination.string) == 0 else {
                throw LocalDiskError(operation: "rename into \(destination)", errno: errno)
            }
        }
        try await fileSystem.withDirectoryHandle(atPath: directory) { try await $0.synchronize() }
    }

    /// The file of a key: keys are the service's own (`bucket/uuid/uuid`), still checked so
    /// that no key can name a file outside `blobs/`.
    func path(of key: String) throws -> FilePath {
        // Split at '/' bytes: as characters, a '/' followed by a combining mark would hide a segment.
        let segments = key.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        let valid = segments.allSatisfy { segment in
            !segment.isEmpty && !segment.elementsEqual(".".utf8) && !segment.elementsEqual("..".utf8) && !segment.contains(0)
        }
        guard !key.isEmpty, valid else {
            throw LocalDiskError(operation: "use key \(key.debugDescription)", errno: EINVAL)
        }
        return segments.reduce(root.appending("blobs")) { $0.appending(String(decoding: $1, as: UTF8.self)) }
    }}

/// A file-system call of the local backend failed.
public struct LocalDiskError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let errno: Int32
    public var description: String { "local storage could not \(operation): \(String(cString: strerror(errno)))" }
}
