import Synchronization

/// What one realtime socket has yet to write, and the short-lived task that writes it.
///
/// The writing task exists only while there is something to write: an idle socket holds no
/// task for its outbox (docs/performance.md, "connections"). Items are written one at a time,
/// in the order they were queued, by at most one task at a time.
///
/// The outbox ends in one of three ways:
/// - ``finish()`` (the hub: the client is too slow, or the socket is being forgotten): what is
///   queued is written, then the writer's `end` runs;
/// - ``stop()`` (the idle timeout, or a failed write): what is queued is dropped and `end` runs;
/// - ``close()`` (the connection is over already): what is queued is dropped, `end` does not run.
final class SocketOutbox: Sendable {
    /// What ``yield(_:)`` did with an item.
    enum YieldResult: Equatable {
        case queued
        /// Over ``capacity``: the client is too slow.
        case full
        /// The outbox is ending; the item was not queued.
        case ended
    }

    /// Writes items for the outbox: `write` returns false when the socket can take no more
    /// (then the outbox stops); `end` ends the connection from the server's side.
    struct Writer: Sendable {
        let write: @Sendable (Outbound) async -> Bool
        let end: @Sendable () async -> Void
    }

    private enum Ending {
        case afterQueued, now, silently
    }

    private struct State {
        var items: [Outbound] = []
        /// Index of the first item not yet taken by the writer.
        var head = 0
        var writer: Writer?
        var writing = false
        var ending: Ending?
        var endRan = false

        var queued: Int { items.count - head }

        /// Whether a writing task should start now (and marks it started).
        mutating func claimWriting() -> Writer? {
            guard !writing, !endRan, let writer, queued > 0 || ending != nil else { return nil }
            writing = true
            return writer
        }
    }

    private enum Step {
        case write(Outbound)
        case end
        case done
    }

    private let state = Mutex(State())
    /// Most items that may wait to be written.
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Queues an item.
    func yield(_ item: Outbound) -> YieldResult {
        let (result, writer): (YieldResult, Writer?) = state.withLock { state in
            guard state.ending == nil else { return (.ended, nil) }
            guard state.queued < capacity else { return (.full, nil) }
            state.items.append(item)
            return (.queued, state.claimWriting())
        }
        if let writer { startWriting(writer) }
        return result
    }

    /// Starts writing: until now items only queued.
    func attach(_ writer: Writer) {
        let claimed = state.withLock { state in
            state.writer = writer
            return state.claimWriting()
        }
        if let claimed { startWriting(claimed) }
    }

    /// Writes what is queued, then ends the connection.
    func finish() { end(.afterQueued) }

    /// Drops what is queued and ends the connection.
    func stop() { end(.now) }

    /// Drops what is queued; the connection has ended already.
    func close() { end(.silently) }

    /// Whether the outbox is ending or has ended.
    var isEnding: Bool { state.withLock { $0.ending != nil } }

    /// Items waiting to be written.
    var count: Int { state.withLock { $0.queued } }

    private func end(_ how: Ending) {
        let writer: Writer? = state.withLock { state in
            switch (state.ending, how) {
            case (nil, _), (.afterQueued, .now), (.afterQueued, .silently), (.now, .silently):
                state.ending = how
            default:
                return nil
            }
            if how != .afterQueued {
                state.items.removeAll()
                state.head = 0
            }
            if how == .silently {
                state.endRan = true
                state.writer = nil  // lets go of the socket at once
            }
            return state.claimWriting()
        }
        if let writer { startWriting(writer) }
    }

    private func startWriting(_ writer: Writer) {
        // Detached: the writer needs none of the queuing task's task-locals, and copying them
        // would cost every burst an allocation.
        Task.detached { await self.write(with: writer) }
    }

    private func write(with writer: Writer) async {
        while true {
            switch nextStep() {
            case .write(let item):
                if await !writer.write(item) { stop() }
            case .end:
                await writer.end()
                return
            case .done:
                return
            }
        }
    }

    private func nextStep() -> Step {
        state.withLock { state in
            if state.queued > 0 {  // never after stop() or close(): they empty the queue
                let item = state.items[state.head]
                state.head += 1
                if state.head == state.items.count {
                    state.items.removeAll()  // an idle socket keeps no buffer
                    state.head = 0
                } else if state.head >= 64, state.head * 2 >= state.items.count {
                    state.items.removeFirst(state.head)
                    state.head = 0
                }
                return .write(item)
            }
            if state.ending != nil, !state.endRan {
                state.endRan = true
                state.writing = false
                return .end
            }
            state.writing = false
            return .done
        }
    }
}
