import Foundation

/// Where the arbiter reads the time: the system clock in service, a controlled one in tests.
/// Every time the arbiter compares (windows, lags, streaks) comes from here, never from the
/// database's `now()`.
public protocol ArbiterClock: Sendable {
    func now() -> Date
}

/// The wall clock.
public struct SystemArbiterClock: ArbiterClock {
    public init() {}
    public func now() -> Date { Date() }
}
