import Synchronization

/// One socket as the ``IdleSweeper`` sees it: when the client last sent anything, and the
/// outbox to stop when it has been silent too long.
///
/// One small object per socket instead of a timer task and an actor (docs/performance.md,
/// "connections").
final class SocketWatch: Sendable {
    /// Milliseconds since ``IdleSweeper/epoch`` at the client's last message.
    private let lastActivity: Atomic<Int64>
    /// Milliseconds without a client message after which the socket is closed.
    let idleTimeout: Int64
    private let outbox: SocketOutbox

    init(idleTimeoutSeconds: Int, outbox: SocketOutbox) {
        self.lastActivity = Atomic(IdleSweeper.now())
        let (milliseconds, overflow) = Int64(clamping: idleTimeoutSeconds).multipliedReportingOverflow(by: 1000)
        self.idleTimeout = overflow ? .max : milliseconds
        self.outbox = outbox
    }

    /// The client sent a message.
    func touch() {
        lastActivity.store(IdleSweeper.now(), ordering: .relaxed)
    }

    /// Whether the client has been silent for longer than the timeout at `now`.
    func isIdle(at now: Int64) -> Bool {
        now - lastActivity.load(ordering: .relaxed) > idleTimeout
    }

    /// Ends an idle connection: frames still queued are dropped and the socket closes.
    func stop() {
        outbox.stop()
    }
}

/// Closes realtime sockets whose client has sent nothing for longer than
/// ``RealtimeLimits/idleTimeoutSeconds``: one task for every socket of the process, checking
/// once a second, instead of a timer task per socket. The task runs only while sockets are
/// watched.
final class IdleSweeper: Sendable {
    static let shared = IdleSweeper(interval: .seconds(1))

    private struct State {
        var watches: [ObjectIdentifier: SocketWatch] = [:]
        var sweeping = false
    }

    private let state = Mutex(State())
    let interval: Duration

    init(interval: Duration) {
        self.interval = interval
    }

    /// Starts watching a socket.
    func add(_ watch: SocketWatch) {
        let start = state.withLock { state in
            state.watches[ObjectIdentifier(watch)] = watch
            guard !state.sweeping else { return false }
            state.sweeping = true
            return true
        }
        if start {
            Task.detached { await self.sweep() }
        }
    }

    /// Stops watching a socket (it closed).
    func remove(_ watch: SocketWatch) {
        state.withLock { _ = $0.watches.removeValue(forKey: ObjectIdentifier(watch)) }
    }

    /// Sockets watched now.
    var count: Int { state.withLock { $0.watches.count } }

    private func sweep() async {
        while true {
            try? await Task.sleep(for: interval)
            let now = Self.now()
            let idle: [SocketWatch]? = state.withLock { state in
                guard !state.watches.isEmpty else {
                    state.sweeping = false
                    return nil
                }
                var idle: [SocketWatch] = []
                for watch in state.watches.values where watch.isIdle(at: now) {
                    idle.append(watch)
                }
                for watch in idle {
                    state.watches[ObjectIdentifier(watch)] = nil
                }
                return idle
            }
            guard let idle else { return }
            for watch in idle {
                watch.stop()
            }
        }
    }

    /// The process's reference point for activity times.
    static let epoch = ContinuousClock.now

    /// Milliseconds since ``epoch``.
    static func now() -> Int64 {
        let (seconds, attoseconds) = (ContinuousClock.now - epoch).components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
