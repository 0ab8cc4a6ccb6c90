import Foundation
import NIOCore
import Synchronization

/// Whether a ``CutTolerantBody`` ended because its source failed (the client's connection was cut).
final class CutFlag: Sendable {
    private let state = Mutex(false)
    var value: Bool { state.withLock { $0 } }
    func set() { state.withLock { $0 = true } }
}

/// A request body that ends, instead of failing, when its source fails: the bytes that
/// arrived before a cut connection are a prefix of what the client sent, so a resumable
/// upload keeps them. `cut` records that it happened.
struct CutTolerantBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    typealias Failure = any Error
    let base: Base
    let cut: CutFlag

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let cut: CutFlag
        var ended = false

        mutating func next() async throws -> ByteBuffer? {
            if ended { return nil }
            do {
                guard let buffer = try await base.next() else {
                    ended = true
                    return nil
                }
                return buffer
            } catch {
                ended = true
                cut.set()
                return nil
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), cut: cut) }
}

/// The bytes of a resumable upload's chunk blobs, in order, read `readSize` bytes at a time
/// with ranged reads (memory stays at one read whatever the size; works with every backend).
struct ChunkedBlobBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    typealias Failure = any Error
    let backend: any StorageBackend
    let parts: [ResumablePart]
    let readSize: Int64

    struct AsyncIterator: AsyncIteratorProtocol {
        let backend: any StorageBackend
        let parts: [ResumablePart]
        let readSize: Int64
        var part = 0
        var position: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            while part < parts.count {
                let current = parts[part]
                if position >= current.size {
                    part += 1
                    position = 0
                    continue
                }
                let end = Swift.min(current.size, position + readSize)
                var collected = ByteBuffer()
                collected.reserveCapacity(Int(clamping: end - position))
                try await backend.read(key: current.blobKey, range: position..<end) { buffer in
                    var buffer = buffer
                    collected.writeBuffer(&buffer)
                }
                guard Int64(collected.readableBytes) == end - position else {
                    throw ChunkReadError(key: current.blobKey, expected: end - position, got: Int64(collected.readableBytes))
                }
                position = end
                return collected
            }
            return nil
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(backend: backend, parts: parts, readSize: readSize) }
}

/// A chunk blob held fewer bytes than its row says (a damaged store).
struct ChunkReadError: Error, CustomStringConvertible {
    let key: String
    let expected: Int64
    let got: Int64
    var description: String { "resumable upload chunk \(key): expected \(expected) bytes, read \(got)" }
}
