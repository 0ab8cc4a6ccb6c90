import Foundation
import PostgresNIO
@testable import Reels

/// A clock the test moves by hand.
final class ManualArbiterClock: ArbiterClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = start
    }

    func now() -> Date { lock.withLock { current } }

    func advance(_ seconds: Double) { lock.withLock { current = current.addingTimeInterval(seconds) } }
}

/// Inputs set by the test (the hysteresis through the database without real traffic).
final class StubArbiterInputs: ArbiterInputSource, @unchecked Sendable {
    private let lock = NSLock()
    private var value = ArbiterInputs()

    func set(lag: Int, impressions: Int = 0) {
        lock.withLock { value = ArbiterInputs(impressions: impressions, oldestJobAgeSeconds: lag) }
    }

    func inputs(on connection: PostgresConnection, now: Date) async throws -> ArbiterInputs { lock.withLock { value } }
}
