import Foundation
import Logging
import Redis

/// Rate-limit checks against Redis, closed loop, through the server's own path (the token
/// bucket script run by ``RedisTokenBuckets`` over the server's Redis client and pool), for
/// `scripts/bench/limits.sh`, which measures `redis-benchmark` running the same script beside it.
public enum LimitCheckBenchmark {
    /// What one run measured.
    public struct Result: Sendable {
        public var checks: Int
        public var refused: Int
        public var errors: Int
        public var seconds: Double
        /// Milliseconds per check, sorted.
        public var latencies: [Double]

        /// The run as one JSON object (latencies summarised).
        public var json: [String: Any] {
            func percentile(_ p: Double) -> Double {
                guard !latencies.isEmpty else { return 0 }
                let index = min(latencies.count - 1, max(0, Int((p * Double(latencies.count)).rounded(.up)) - 1))
                return (latencies[index] * 1000).rounded() / 1000
            }
            return [
                "checks": checks, "refused": refused, "errors": errors, "seconds": (seconds * 1000).rounded() / 1000,
                "checks_per_s": seconds > 0 ? (Double(checks) / seconds).rounded() : 0,
                "latency_ms": ["p50": percentile(0.5), "p99": percentile(0.99), "max": percentile(1)],
            ]
        }
    }

    /// The SHA-1 of the token bucket script, for `EVALSHA` in the baseline.
    public static var scriptSHA1: String { RedisTokenBuckets.script.sha1 }
    /// The prefix of every bucket key the server writes.
    public static var keyPrefix: String { RedisTokenBuckets.keyPrefix }

    /// Runs `concurrency` loops of checks for `duration`, each on keys `bench:<loop>:<n mod keys>`
    /// of a limit that never refuses (capacity and refill far above the offered rate), so
    /// every check runs the whole script and writes its bucket.
    public static func run(redisURL: String, concurrency: Int, duration: Duration, keys: Int) async throws -> Result {
        var configuration = try RedisConfiguration(url: redisURL)
        configuration.clientName = "ecomansoni-limits-bench"
        let logger = Logger(label: "limits-bench")
        let client = RedisClient(configuration: configuration, logger: logger)
        do {
            let result = try await run(client: client, logger: logger, concurrency: concurrency, duration: duration, keys: keys)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    private static func run(client: RedisClient, logger: Logger, concurrency: Int, duration: Duration, keys: Int) async throws -> Result {
        let buckets = RedisTokenBuckets(client: client, logger: logger)
        // Loads the script and opens a connection before the clock starts.
        _ = try await buckets.take("bench:warmup", cost: 1, capacity: 1_000_000_000, refillPerSecond: 1_000_000)

        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start.advanced(by: duration)
        let loops = await withTaskGroup(of: Result.self) { group in
            for loop in 0..<concurrency {
                group.addTask {
                    var result = Result(checks: 0, refused: 0, errors: 0, seconds: 0, latencies: [])
                    result.latencies.reserveCapacity(100_000)
                    var n = 0
                    while clock.now < deadline {
                        let began = clock.now
                        do {
                            let wait = try await buckets.take(
                                "bench:\(loop):\(n % keys)", cost: 1, capacity: 1_000_000_000, refillPerSecond: 1_000_000)
                            if wait != nil { result.refused += 1 }
                            result.checks += 1
                            let elapsed = clock.now - began
                            result.latencies.append(
                                Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
                        } catch {
                            result.errors += 1
                        }
                        n &+= 1
                    }
                    return result
                }
            }
            var all: [Result] = []
            for await loop in group { all.append(loop) }
            return all
        }
        let elapsed = clock.now - start
        var total = Result(
            checks: 0, refused: 0, errors: 0,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, latencies: [])
        for loop in loops {
            total.checks += loop.checks
            total.refused += loop.refused
            total.errors += loop.errors
            total.latencies += loop.latencies
        }
        total.latencies.sort()
        return total
    }
}
