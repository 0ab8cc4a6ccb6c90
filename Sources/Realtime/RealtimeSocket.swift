import Foundation
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import Synchronization

/// One realtime socket served by a ``RealtimeSocketHandler``: the client's messages wait in an
/// inbox that a short-lived task works through, one at a time and in the order they came.
///
/// The task exists only while there is work: an idle socket holds no task, and no stack
/// memory of one (docs/performance.md, "connections"). The first piece of work connects the
/// socket to the hub; the last, after the client has gone (the channel closed, whoever closed
/// it), disconnects it. While ``capacity`` messages wait, reads from the client wait too.
final class RealtimeSocket: Sendable {
    /// Messages waiting before reads from the client wait too.
    static let capacity = 16

    private enum Work: Sendable {
        case connect
        case message(WebSocketMessage)
        case disconnect
    }

    private struct Inbox {
        var work: [Work] = [.connect]
        var next = 0
        var working = false
        /// A read was held back while the inbox was full.
        var readsHeld = false
        /// The server ended the connection: messages still coming are dropped.
        var refusing = false
        /// The channel has closed (the disconnect is queued).
        var left = false
        var pace: ReadPace

        var waiting: Int { work.count - next }

        /// Whether a task should start working now (and marks it started).
        mutating func claim() -> Bool {
            guard !working, waiting > 0 else { return false }
            working = true
            return true
        }
    }

    let id = UUID()
    private let service: RealtimeService
    private let connection: SocketConnection
    private let session: RealtimeSession
    private let channel: any Channel
    private let version: PhoenixFrame.Version
    private let sweeper: IdleSweeper
    /// Runs once the socket is disconnected.
    private let disconnected: @Sendable () -> Void
    private let inbox: Mutex<Inbox>

    init(
        service: RealtimeService, channel: any Channel, version: PhoenixFrame.Version, token: String, sweeper: IdleSweeper = .shared,
        disconnected: @escaping @Sendable () -> Void
    ) {
        self.service = service
        self.channel = channel
        self.version = version
        self.sweeper = sweeper
        self.disconnected = disconnected
        connection = SocketConnection(limits: service.limits)
        session = RealtimeSession(
            id: id, hub: service.hub, bus: service.bus, membership: service.membership, verify: service.verify, limits: service.limits,
            socketToken: token, logger: service.logger)
        inbox = Mutex(Inbox(pace: ReadPace(limits: service.limits)))
    }

    /// Starts serving the socket (connects it to the hub).
    func start() {
        if inbox.withLock({ $0.claim() }) { startWorking() }
    }

    /// A message from the client (counts as activity for the idle timeout).
    func received(_ message: WebSocketMessage) {
        connection.watch.touch()
        let start = inbox.withLock { inbox -> Bool in
            guard !inbox.refusing else { return false }
            inbox.work.append(.message(message))
            return inbox.claim()
        }
        if start { startWorking() }
    }

    /// The channel closed: the socket is disconnected (once) when the messages before are handled.
    func clientLeft() {
        if inbox.withLock({ inbox in
            guard !inbox.left else { return false }
            inbox.left = true
            inbox.work.append(.disconnect)
            return inbox.claim()
        }) {
            startWorking()
        }
    }

    /// Whether reads from the client should wait (the inbox is full); a held read is resumed
    /// once the inbox has been worked through.
    func holdsReads() -> Bool {
        inbox.withLock { inbox in
            guard inbox.waiting >= Self.capacity else { return false }
            inbox.readsHeld = true
            return true
        }
    }

    private func startWorking() {
        Task { await self.work() }
    }

    /// Works through the inbox until it is empty.
    private func work() async {
        var pace = inbox.withLock { $0.pace }
        while true {
            let (next, resumeReads) = inbox.withLock { inbox -> (Work?, Bool) in
                guard inbox.next < inbox.work.count else {
                    inbox.work = []
                    inbox.next = 0
                    inbox.working = false
                    inbox.pace = pace
                    defer { inbox.readsHeld = false }
                    return (nil, inbox.readsHeld)
                }
                defer { inbox.next += 1 }
                return (inbox.work[inbox.next], false)
            }
            guard let next else {
                if resumeReads { channel.read() }
                return
            }
            switch next {
            case .connect:
                await service.hub.connect(id, version: version, outbox: connection.outbox, budget: connection.budget)
                connection.start(
                    write: { [channel] frame in try await channel.writeAndFlush(frame).get() }, close: { [channel] in Self.close(channel) },
                    version: version, sweeper: sweeper)
            case .message(let message):
                guard await service.receive(message, session: session, version: version, pace: &pace) else {
                    refuse()
                    continue
                }
            case .disconnect:
                connection.end(sweeper: sweeper)
                await session.disconnected()
                disconnected()
            }
        }
    }

    /// The client was refused too often: what is queued for it is dropped, messages still
    /// coming are ignored, and the socket is closed.
    private func refuse() {
        inbox.withLock { inbox in
            inbox.refusing = true
            inbox.work.removeFirst(inbox.next)
            inbox.work.removeAll { if case .message = $0 { true } else { false } }
            inbox.next = 0
        }
        connection.outbox.close()
        Self.close(channel)
    }

    /// Closes the socket from the server's side (normal closure).
    private static func close(_ channel: any Channel) {
        channel.pipeline.fireUserInboundEventTriggered(RealtimeSocketHandler.Close(code: .normalClosure, reason: nil))
    }
}
