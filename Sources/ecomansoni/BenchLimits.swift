import App
import ArgumentParser
import Foundation

/// `ecomansoni bench-limits`: rate-limit checks per second against Redis through the server's
/// own client and script (scripts/bench/limits.sh runs it beside `redis-benchmark`).
struct BenchLimits: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-limits",
        abstract: "Measure token-bucket checks against Redis, closed loop; print one JSON object.")

    @Option(help: "The Redis to measure against (redis://host:port[/db][?poolSize=N]).")
    var redisURL: String

    @Option(help: "Checks in flight at once (1...1024).")
    var concurrency = 1

    @Option(help: "Seconds to measure (1...600).")
    var seconds = 5

    @Option(help: "Distinct bucket keys per loop (1...1000000).")
    var keys = 1000

    func validate() throws {
        guard (1...1024).contains(concurrency) else { throw ValidationError("--concurrency must be 1...1024") }
        guard (1...600).contains(seconds) else { throw ValidationError("--seconds must be 1...600") }
        guard (1...1_000_000).contains(keys) else { throw ValidationError("--keys must be 1...1000000") }
    }

    func run() async throws {
        let result = try await LimitCheckBenchmark.run(redisURL: redisURL, concurrency: concurrency, duration: .seconds(seconds), keys: keys)
        var json = result.json
        json["concurrency"] = concurrency
        json["keys_per_loop"] = keys
        json["script_sha1"] = LimitCheckBenchmark.scriptSHA1
        json["key_prefix"] = LimitCheckBenchmark.keyPrefix
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}
