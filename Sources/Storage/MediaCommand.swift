import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if os(Linux)
/// glibc's `pipe2` (atomic close-on-exec pipes), which the Glibc module does not export.
@_silgen_name("pipe2")
private func linuxPipe2(_ fds: UnsafeMutablePointer<Int32>?, _ flags: Int32) -> Int32
#endif

/// Runs one ffmpeg / ffprobe process — the one process runner of Storage's media rules and
/// of the reels pipeline: `posix_spawn` with an argument array (never a shell), standard
/// input from /dev/null, standard output streamed to a consumer in chunks as it arrives
/// (ffprobe's JSON, ffmpeg's `-progress pipe:1` lines, raw samples), the last
/// ``stderrTailBytes`` of standard error kept for the log, and the process killed (SIGKILL)
/// after the deadline, when the consumer asks to stop, or as soon as the calling task is
/// cancelled — a cancelled run reaps the child and throws `CancellationError`. The blocking
/// work runs on a thread of its own, not the concurrency pool; callers bound how many runs
/// they start at once.
public struct MediaCommand: Sendable {
    public var executable: String
    public var arguments: [String]
    public var timeout: Duration

    public static let stderrTailBytes = 2048
    /// The longest a run waits before it looks at the cancellation flag and the deadline again.
    static let checkInterval = Duration.milliseconds(200)

    public init(executable: String, arguments: [String], timeout: Duration) {
        self.executable = executable
        self.arguments = arguments
        self.timeout = timeout
    }

    /// How a run that was not cancelled ended.
    public struct Outcome: Sendable {
        /// Exit status (128 + signal when killed by one).
        public var status: Int32
        public var timedOut: Bool
        /// The consumer asked to stop (too much output, or enough of it); the process was killed.
        public var stoppedByConsumer: Bool
        public var stderrTail: String

        public var succeeded: Bool { status == 0 && !timedOut && !stoppedByConsumer }

        /// Why the run ended and all of the standard error tail, for the log.
        public var diagnostics: String { diagnostics(lastStderrCharacters: MediaCommand.stderrTailBytes) }

        /// Why the run ended and at most the last `count` characters of standard error (the
        /// end of ffmpeg's output is where it says what went wrong).
        public func diagnostics(lastStderrCharacters count: Int) -> String {
            let reason = timedOut ? "killed after the time limit" : stoppedByConsumer ? "killed: too much output" : "exit \(status)"
            return "\(reason); stderr: \(stderrTail.trimmingCharacters(in: .whitespacesAndNewlines).suffix(max(0, count)))"
        }
    }

    /// Runs the command; `makeConsumer` builds (on the worker thread) the state that receives
    /// standard output, `consume` gets each chunk and returns false to stop the process, and
    /// `finish` turns the state and the outcome into the result. Throws `CancellationError`
    /// when the calling task is cancelled (the process is killed and reaped first) and a
    /// ``MediaError`` of kind `.failed` when the process cannot be started.
    public func run<State, Result: Sendable>(
        makeConsumer: @Sendable @escaping () -> State,
        consume: @Sendable @escaping (inout State, UnsafeRawBufferPointer) -> Bool,
        finish: @Sendable @escaping (State, Outcome) throws -> Result
    ) async throws -> Result {
        let command = self
        let cancellation = CancellationFlag()
        return try await withTaskCancellationHandler {
            // A thread of its own: a run blocks for up to `timeout`, and NIO's shared thread pool
            // also serves file I/O (NIOFileSystem), which must not wait behind ffmpeg.
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
                let thread = Thread {
                    continuation.resume(with: Swift.Result {
                        var state = makeConsumer()
                        let outcome = try command.runBlocking(cancellation) { chunk in consume(&state, chunk) }
                        return try finish(state, outcome)
                    })
                }
                thread.name = "media-command"
                thread.start()
            }
        } onCancel: {
            cancellation.set()
        }
    }

    /// Runs the command; `onOutput` sees each chunk of standard output as it arrives (a
    /// stream parser such as ffmpeg's progress lines keeps its own state across chunks).
    public func run(onOutput: @Sendable @escaping (UnsafeRawBufferPointer) -> Void) async throws -> Outcome {
        try await run(
            makeConsumer: { () },
            consume: { _, chunk in
                onOutput(chunk)
                return true
            },
            finish: { _, outcome in outcome })
    }

    /// Runs the command with standard output read and dropped.
    public func run() async throws -> Outcome {
        try await run(onOutput: { _ in })
    }

    private func runBlocking(_ cancellation: CancellationFlag, _ consume: (UnsafeRawBufferPointer) -> Bool) throws -> Outcome {
        guard !cancellation.isSet else { throw CancellationError() }
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        // O_CLOEXEC: a process spawned concurrently by another thread must not inherit the
        // write ends (it would keep the pipe open after our child exits).
        guard Self.closeOnExecPipe(&outPipe) == 0 else { throw spawnError(errno) }
        guard Self.closeOnExecPipe(&errPipe) == 0 else {
            let code = errno
            close(outPipe[0]); close(outPipe[1])
            throw spawnError(code)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

        let argv = [executable] + arguments
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, nil, &cArguments, environ)
        close(outPipe[1])
        close(errPipe[1])
        guard spawned == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw spawnError(spawned)
        }
        for fd in [outPipe[0], errPipe[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }

        var run = RunningChild(pid: pid, deadline: ContinuousClock.now.advanced(by: timeout), cancellation: cancellation)
        var open: [Int32] = [outPipe[0], errPipe[0]]
        var stderrTail: [UInt8] = []
        var stopped = false
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { buffer.deallocate() }

        pumping: while !open.isEmpty, !run.killIfDue() {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), run.pollMilliseconds())
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in fds where entry.revents != 0 {
                let count = read(entry.fd, buffer.baseAddress, buffer.count)
                if count < 0 {
                    if errno == EAGAIN || errno == EINTR { continue }
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                } else if count == 0 {
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                } else if entry.fd == outPipe[0] {
                    if !consume(UnsafeRawBufferPointer(rebasing: buffer[0..<count])) {
                        stopped = true
                        kill(pid, SIGKILL)
                        break pumping
                    }
                } else {
                    stderrTail.append(contentsOf: buffer[0..<count])
                    if stderrTail.count > Self.stderrTailBytes { stderrTail.removeFirst(stderrTail.count - Self.stderrTailBytes) }
                }
            }
        }
        for fd in open { close(fd) }
        let status = run.waitForExit()
        if run.cancelled { throw CancellationError() }
        return Outcome(
            status: status, timedOut: run.timedOut, stoppedByConsumer: stopped,
            stderrTail: String(decoding: stderrTail, as: UTF8.self))
    }

    private static func closeOnExecPipe(_ fds: inout [Int32]) -> Int32 {
        #if os(Linux)
        return fds.withUnsafeMutableBufferPointer { linuxPipe2($0.baseAddress, O_CLOEXEC) }
        #else
        guard pipe(&fds) == 0 else { return -1 }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return 0
        #endif
    }

    private func spawnError(_ code: Int32) -> MediaError {
        MediaError(
            .failed, "the file could not be processed right now",
            diagnostics: "could not run \(executable): \(String(cString: strerror(code)))")
    }
}

/// A spawned child and the two reasons to kill it early: its deadline and the cancellation
/// of the task that started it.
private struct RunningChild {
    let pid: pid_t
    let deadline: ContinuousClock.Instant
    let cancellation: CancellationFlag
    private(set) var timedOut = false
    private(set) var cancelled = false

    init(pid: pid_t, deadline: ContinuousClock.Instant, cancellation: CancellationFlag) {
        self.pid = pid
        self.deadline = deadline
        self.cancellation = cancellation
    }

    /// Kills the child (SIGKILL) once the deadline has passed or the task was cancelled;
    /// true when it has been killed for either.
    mutating func killIfDue() -> Bool {
        if !timedOut && !cancelled {
            if cancellation.isSet {
                cancelled = true
            } else if ContinuousClock.now >= deadline {
                timedOut = true
            } else {
                return false
            }
            kill(pid, SIGKILL)
        }
        return true
    }

    /// How long one `poll` may wait: until the deadline, at most ``MediaCommand/checkInterval``.
    func pollMilliseconds() -> Int32 {
        let wait = min(ContinuousClock.now.duration(to: deadline), MediaCommand.checkInterval)
        guard wait > .zero else { return 0 }
        let (seconds, attoseconds) = wait.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
    }

    /// Reaps the child; kills it if it is still running after the deadline or a cancellation
    /// (it closed its pipes but did not exit). Returns the exit status, 128 + signal when a
    /// signal ended it, -1 when it could not be reaped.
    mutating func waitForExit() -> Int32 {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            if result == -1 && errno != EINTR { return -1 }
            if result == 0 { usleep(killIfDue() ? 1000 : 5000) }
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}

/// Set once when the task running a command is cancelled.
private final class CancellationFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
