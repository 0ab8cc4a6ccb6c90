import Foundation

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

/// Runs one ffmpeg / ffprobe process: `posix_spawn` with an argument array (never a shell),
/// standard input from /dev/null, standard output streamed to a consumer in chunks, the last
/// ``stderrTailBytes`` of standard error kept for the log, and a deadline after which the
/// process is killed. The blocking work runs on a thread of its own, not the concurrency pool;
/// callers bound how many runs they start at once.
struct MediaCommand: Sendable {
    var executable: String
    var arguments: [String]
    var timeout: Duration

    static let stderrTailBytes = 2048

    struct Outcome: Sendable {
        /// Exit status (128 + signal when killed by one).
        var status: Int32
        var timedOut: Bool
        /// The consumer asked to stop (too much output); the process was killed.
        var stoppedByConsumer: Bool
        var stderrTail: String

        var succeeded: Bool { status == 0 && !timedOut && !stoppedByConsumer }

        /// Exit status and standard error, for ``MediaError/diagnostics``.
        var diagnostics: String {
            let reason = timedOut ? "killed after the time limit" : stoppedByConsumer ? "killed: too much output" : "exit \(status)"
            return "\(reason); stderr: \(stderrTail.trimmingCharacters(in: .whitespacesAndNewlines))"
        }
    }

    /// Runs the command; `makeConsumer` builds (on the worker thread) the state that receives
    /// standard output, and `finish` turns it into the result.
    func run<State, Result: Sendable>(
        makeConsumer: @Sendable @escaping () -> State,
        consume: @Sendable @escaping (inout State, UnsafeRawBufferPointer) -> Bool,
        finish: @Sendable @escaping (State, Outcome) throws -> Result
    ) async throws -> Result {
        let command = self
        // A thread of its own: a run blocks for up to `timeout`, and NIO's shared thread pool
        // also serves file I/O (NIOFileSystem), which must not wait behind ffmpeg.
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
            let thread = Thread {
                continuation.resume(with: Swift.Result {
                    var state = makeConsumer()
                    let outcome = try command.runBlocking { chunk in consume(&state, chunk) }
                    return try finish(state, outcome)
                })
            }
            thread.name = "media-command"
            thread.start()
        }
    }

    /// Runs the command with standard output discarded into the consumer's void.
    func run() async throws -> Outcome {
        try await run(makeConsumer: { () }, consume: { _, _ in true }, finish: { _, outcome in outcome })
    }

    private func runBlocking(_ consume: (UnsafeRawBufferPointer) -> Bool) throws -> Outcome {
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

        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var open: [Int32] = [outPipe[0], errPipe[0]]
        var stderrTail: [UInt8] = []
        var timedOut = false
        var stopped = false
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { buffer.deallocate() }

        pumping: while !open.isEmpty {
            let remaining = clock.now.duration(to: deadline)
            guard remaining > .zero else { timedOut = true; break }
            let milliseconds = Int32(clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), min(milliseconds, 1000))
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
                        break pumping
                    }
                } else {
                    stderrTail.append(contentsOf: buffer[0..<count])
                    if stderrTail.count > Self.stderrTailBytes { stderrTail.removeFirst(stderrTail.count - Self.stderrTailBytes) }
                }
            }
        }
        for fd in open { close(fd) }
        if timedOut || stopped { kill(pid, SIGKILL) }
        let status = waitForExit(pid, deadline: deadline, clock: clock, timedOut: &timedOut)
        return Outcome(
            status: status, timedOut: timedOut, stoppedByConsumer: stopped,
            stderrTail: String(decoding: stderrTail, as: UTF8.self))
    }

    /// Reaps the child; kills it if it is still running after the deadline (it closed its
    /// pipes but did not exit).
    private func waitForExit(_ pid: pid_t, deadline: ContinuousClock.Instant, clock: ContinuousClock, timedOut: inout Bool) -> Int32 {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            if result == -1 && errno != EINTR { return -1 }
            if result == 0 && clock.now >= deadline && !timedOut {
                timedOut = true
                kill(pid, SIGKILL)
            }
            if result == 0 { usleep(timedOut ? 1000 : 5000) }
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
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
