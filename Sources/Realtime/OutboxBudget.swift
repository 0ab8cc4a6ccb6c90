import Synchronization

/// The bytes queued on one socket's outbox and not yet written.
///
/// With the frame cap (``RealtimeLimits/outboundQueue``) this bounds what a client that
/// stops reading can cost: 2 000 queued frames of a 1 MB `presence_state` would otherwise
/// be 2 GB. The hub adds what it queues, the socket's writer removes what it has written.
final class OutboxBudget: Sendable {
    private let queued = Atomic<Int>(0)
    /// Most bytes that may wait on the outbox.
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts `bytes` as queued; false when that takes the socket over its budget.
    func add(_ bytes: Int) -> Bool {
        queued.add(bytes, ordering: .relaxed).newValue <= limit
    }

    /// Counts `bytes` as written.
    func remove(_ bytes: Int) {
        queued.subtract(bytes, ordering: .relaxed)
    }

    /// Bytes queued now.
    var bytes: Int { queued.load(ordering: .relaxed) }
}

extension Outbound {
    /// What the item weighs on its socket's budget: the frame's bytes, or for a change the
    /// size of the record it shares with every other subscriber (its frame is built later).
    var byteCount: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .binary(let bytes): bytes.readableBytes
        case .change(let change, _): change.forOthers.utf8.count
        }
    }
}
