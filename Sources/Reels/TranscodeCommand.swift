import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs one ffmpeg / ffprobe process for the pipeline: `posix_spawn` with an argument array
/// (never a shell), standard input from /dev/null, standard output handed to `onOutput` in
/// chunks (ffmpeg's `-progress pipe:1` lines, ffprobe's JSON), the last bytes of standard
/// error kept for diagnostics, killed after `timeout` or as soon as the calling task is
/// cancelled (a worker shutting down). The blocking work runs on a thread of its own.
struct TranscodeCommand: Sendable {
    var executable: String
    var arguments: [String]
    var timeout: Duration

    static let stderrTailBytes = 4096

    struct Outcome: Sendable {
        var status: Int32
        var timedOut: Bool
        var cancelled: Bool
        var stderrTail: String
        var succeeded: Bool { status == 0 && !timedOut && !cancelled }
        var diagnostics: String {
            let reason = timedOut ? "killed after the time limit" : cancelled ? "cancelled" : "exit \(status)"
            return "\(reason): \(stderrTail.trimmingCharacters(in: .whitespacesAndNewlines).suffix(600))"
        }
    }

    /// Runs the command to completion; `onOutput` sees standard output as it arrives.
    func run(onOutput: @Sendable @escaping ([UInt8]) -> Void = { _ in }) async throws -> Outcome {
        let cancelled = CancelFlag()
        let command = self
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Outcome, any Error>) in
                let thread = Thread {
                    continuation.resume(with: Result { try command.runBlocking(cancelled: cancelled, onOutput: onOutput) })
                }
                thread.name = "reels-transcode"
                thread.start()
            }
        } onCancel: {
            cancelled.set()
        }
    }

    private func runBlocking(cancelled: CancelFlag, onOutput: ([UInt8]) -> Void) throws -> Outcome {
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0 else { throw TranscodeError.spawn(executable, errno) }
        guard pipe(&errPipe) == 0 else {
            let code = errno
            close(outPipe[0]); close(outPipe[1])
            throw TranscodeError.spawn(executable, code)
        }
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
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
            throw TranscodeError.spawn(executable, spawned)
        }
        for fd in [outPipe[0], errPipe[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }

        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var open: [Int32] = [outPipe[0], errPipe[0]]
        var stderrTail: [UInt8] = []
        var timedOut = false
        var wasCancelled = false
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !open.isEmpty {
            if cancelled.isSet { wasCancelled = true; break }
            guard clock.now < deadline else { timedOut = true; break }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), 200)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in fds where entry.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EAGAIN || errno == EINTR { continue }
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                } else if count == 0 {
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                } else if entry.fd == outPipe[0] {
                    onOutput(Array(buffer[0..<count]))
                } else {
                    stderrTail.append(contentsOf: buffer[0..<count])
                    if stderrTail.count > Self.stderrTailBytes { stderrTail.removeFirst(stderrTail.count - Self.stderrTailBytes) }
                }
            }
        }
        for fd in open { close(fd) }
        if timedOut || wasCancelled { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            if result == -1 && errno != EINTR { status = -1; break }
            if result == 0 {
                if !timedOut && clock.now >= deadline { timedOut = true; kill(pid, SIGKILL) }
                if !wasCancelled && cancelled.isSet { wasCancelled = true; kill(pid, SIGKILL) }
                usleep(2000)
            }
        }
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Outcome(status: exit, timedOut: timedOut, cancelled: wasCancelled, stderrTail: String(decoding: stderrTail, as: UTF8.self))
    }
}

/// Why a transcode failed: `reason` is for the author, `diagnostics` for the log and the job.
struct TranscodeError: Error, CustomStringConvertible, Sendable {
    /// In words the author can act on (stored as the reel's `failure_reason` once dead).
    var reason: String
    var diagnostics: String
    /// False when retrying cannot help (the input is not a usable video).
    var retryable: Bool

    var description: String { "\(reason) (\(diagnostics))" }

    static func spawn(_ executable: String, _ code: Int32) -> TranscodeError {
        TranscodeError(
            reason: "the video could not be processed right now",
            diagnostics: "could not run \(executable): \(String(cString: strerror(code)))", retryable: true)
    }
}

/// Set once when the task running a command is cancelled.
final class CancelFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
