import Foundation
import Synchronization
@testable import Storage
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one ffmpeg / ffprobe runner (Storage's media rules and the reels pipeline), driven with
/// small shell scripts: streamed output, exit status and standard error, the deadline, a
/// consumer that stops the process, cancellation, and a tool that cannot be started.
@Suite struct MediaCommandTests {
    private func shell(_ script: String, timeout: Duration = .seconds(20)) -> MediaCommand {
        MediaCommand(executable: "/bin/sh", arguments: ["-c", script], timeout: timeout)
    }

    @Test func outputIsStreamedAndStatusAndStderrTailReported() async throws {
        let seen = Chunks()
        let outcome = try await shell(#"printf 'out_time_us=1\n'; sleep 0.2; printf 'progress=end\n'; echo 'broken input' >&2; exit 3"#)
            .run { seen.add($0) }
        #expect(seen.text == "out_time_us=1\nprogress=end\n")
        #expect(seen.count >= 2, "the two lines arrive as they are written")
        #expect(outcome.status == 3 && !outcome.succeeded && !outcome.timedOut)
        #expect(outcome.stderrTail == "broken input\n")
        #expect(outcome.diagnostics == "exit 3; stderr: broken input")
        #expect(outcome.diagnostics(lastStderrCharacters: 5) == "exit 3; stderr: input")
    }

    @Test func stderrKeepsOnlyItsTail() async throws {
        let outcome = try await shell(#"i=0; while [ $i -lt 500 ]; do echo "line $i" >&2; i=$((i+1)); done"#).run()
        #expect(outcome.succeeded)
        #expect(outcome.stderrTail.utf8.count == MediaCommand.stderrTailBytes)
        #expect(outcome.stderrTail.hasSuffix("line 499\n"))
    }

    @Test func aRunPastItsDeadlineIsKilled() async throws {
        let started = ContinuousClock.now
        let outcome = try await shell("exec sleep 300", timeout: .milliseconds(300)).run()
        #expect(outcome.timedOut && !outcome.succeeded)
        #expect(outcome.status == 128 + SIGKILL)
        #expect(outcome.diagnostics.hasPrefix("killed after the time limit"))
        // Long before the child's own end (300 s); a loaded clean-clone run took 14.4 s.
        #expect(started.duration(to: .now) < .seconds(120))
    }

    @Test func aConsumerCanStopTheProcess() async throws {
        let outcome = try await shell("exec yes").run(
            makeConsumer: { 0 },
            consume: { total, chunk in
                total += chunk.count
                return total < 100_000
            },
            finish: { total, outcome in (total, outcome) })
        #expect(outcome.0 >= 100_000)
        #expect(outcome.1.stoppedByConsumer && !outcome.1.succeeded)
        #expect(outcome.1.diagnostics.hasPrefix("killed: too much output"))
    }

    @Test func cancellingTheTaskKillsAndReapsTheChild() async throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("media-command-\(UUID().uuidString)").path
        defer { unlink(pidFile) }
        let command = shell("echo $$ > '\(pidFile)'; exec sleep 300")
        let run = Task { try await command.run() }
        var pid: pid_t?
        for _ in 0..<200 where pid == nil {
            try await Task.sleep(for: .milliseconds(25))
            pid = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        let child = try #require(pid, "the script did not start")
        let started = ContinuousClock.now
        run.cancel()
        await #expect(throws: CancellationError.self) { try await run.value }
        // Long before the child's own end (300 s); not a tighter bound: a loaded test machine
        // took 9.8 s to schedule the cancellation once.
        #expect(started.duration(to: .now) < .seconds(120))
        #expect(kill(child, 0) == -1 && errno == ESRCH, "the child is gone (killed and reaped)")
    }

    @Test func anAlreadyCancelledTaskStartsNothing() async throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("media-command-\(UUID().uuidString)").path
        defer { unlink(marker) }
        let command = shell("touch '\(marker)'")
        let run = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await command.run()
        }
        await #expect(throws: CancellationError.self) { try await run.value }
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func aToolThatCannotBeStartedIsAFailureNamingIt() async throws {
        do {
            _ = try await MediaCommand(executable: "/nonexistent/ffmpeg", arguments: [], timeout: .seconds(5)).run()
            Issue.record("a missing executable ran")
        } catch let error as MediaError {
            #expect(error.kind == .failed)
            #expect(error.diagnostics.contains("could not run /nonexistent/ffmpeg"))
        }
    }
}

/// Standard output chunks as the runner hands them over.
private final class Chunks: Sendable {
    private let chunks = Mutex<[[UInt8]]>([])
    func add(_ chunk: UnsafeRawBufferPointer) { chunks.withLock { $0.append(Array(chunk)) } }
    var count: Int { chunks.withLock { $0.count } }
    var text: String { String(decoding: chunks.withLock { $0.joined() }, as: UTF8.self) }
}
