import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a program to completion and captures its output (used for initdb / pg_ctl).
///
/// Uses `posix_spawn` and `waitpid` directly: Foundation's `Process` can miss the exit of
/// a child whose own child (the postmaster) outlives it.
enum ProcessRunner {
    struct Result {
        var status: Int32
        var output: String
    }

    /// Runs `path` with `arguments`, optionally as another OS user through `runuser`.
    static func run(_ path: String, _ arguments: [String], asUser user: String? = nil) throws -> Result {
        let argv = user.map { ["/usr/sbin/runuser", "-u", $0, "--", path] + arguments } ?? ([path] + arguments)
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("ecomansoni-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out").path
        defer { unlink(outputPath) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ)
        guard spawned == 0 else {
            throw DatabaseError.clusterFailed("could not run \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: exitCode, output: output)
    }

    /// The first line a command prints, or nil if it cannot run.
    static func firstLine(_ path: String, _ arguments: [String]) -> String? {
        guard FileManager.default.isExecutableFile(atPath: path),
            let result = try? run(path, arguments), result.status == 0
        else { return nil }
        return result.output.split(separator: "\n").first.map { String($0).trimmingCharacters(in: .whitespaces) }
    }
}
