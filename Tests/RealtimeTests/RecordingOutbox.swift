@testable import Realtime

extension SocketOutbox {
    /// An outbox whose writer puts each item on a stream, and whose end finishes the stream:
    /// ``finish()`` it, then read the stream for everything the socket was sent.
    static func recording(capacity: Int = 10_000) -> (SocketOutbox, AsyncStream<Outbound>) {
        let (stream, continuation) = AsyncStream<Outbound>.makeStream()
        let outbox = SocketOutbox(capacity: capacity)
        outbox.attach(
            Writer(
                write: { item in
                    continuation.yield(item)
                    return true
                },
                end: { continuation.finish() }))
        return (outbox, stream)
    }
}
