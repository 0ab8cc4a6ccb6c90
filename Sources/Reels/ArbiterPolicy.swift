import Foundation

/// One evaluation's verdict, as journaled.
public enum ArbiterDecision: String, Sendable, Codable, CaseIterable {
    /// Turn suppression on.
    case suppress
    /// Turn suppression off.
    case clear
    /// Suppressed, and stays so.
    case keepSuppressed = "keep_suppressed"
    /// Not suppressed, and stays so.
    case keepClear = "keep_clear"

    /// Whether the feed is suppressed after this decision.
    public var suppressed: Bool { self == .suppress || self == .keepSuppressed }
}

/// The arbiter's decision core: pure, no clock and no database (inputs and `now` in, the
/// decision and the next state out), so the hysteresis is tested step by step.
///
/// - Clear → suppress when the event lag ≥ `suppressLagSeconds` and the traffic (impressions in
///   the window) is below `trafficFloor`.
/// - Suppressed → clear only when the evaluation is green (lag ≤ `clearLagSeconds`), the
///   green streak has lasted `greenStreakSeconds` and suppression has lasted
///   `minimumSuppressionSeconds`. Any non-green evaluation ends the streak; so does a gap of
///   more than `maximumGapSeconds` since the previous evaluation (unobserved time is not green).
public struct ArbiterPolicy: Sendable, Equatable {
    public var suppressLagSeconds: Int
    public var clearLagSeconds: Int
    public var greenStreakSeconds: Int
    public var minimumSuppressionSeconds: Int
    public var trafficFloor: Int
    public var maximumGapSeconds: Int

    public init(
        suppressLagSeconds: Int = 900, clearLagSeconds: Int = 180, greenStreakSeconds: Int = 720, minimumSuppressionSeconds: Int = 600,
        trafficFloor: Int = 20, maximumGapSeconds: Int = 90
    ) {
        self.suppressLagSeconds = suppressLagSeconds
        self.clearLagSeconds = clearLagSeconds
        self.greenStreakSeconds = greenStreakSeconds
        self.minimumSuppressionSeconds = minimumSuppressionSeconds
        self.trafficFloor = trafficFloor
        self.maximumGapSeconds = maximumGapSeconds
    }

    /// A decision and the state that follows it.
    public struct Outcome: Sendable, Equatable {
        public var decision: ArbiterDecision
        public var state: ArbiterState
    }

    /// Decides from the previous state and this evaluation's inputs at `now`.
    public func decide(state previous: ArbiterState, inputs: ArbiterInputs, now: Date) -> Outcome {
        let lag = inputs.eventLagSeconds
        var next = previous
        next.updatedAt = now
        guard previous.suppressed else {
            next.greenSince = nil
            if lag >= suppressLagSeconds && inputs.impressions < trafficFloor {
                next.suppressed = true
                next.since = now
                next.reason = "event lag \(lag) s ≥ \(suppressLagSeconds) s with \(inputs.impressions) impressions in "
                    + "\(inputs.trafficWindowSeconds) s < floor \(trafficFloor)"
                return Outcome(decision: .suppress, state: next)
            }
            next.reason = lag >= suppressLagSeconds
                ? "event lag \(lag) s ≥ \(suppressLagSeconds) s but traffic \(inputs.impressions) ≥ floor \(trafficFloor)"
                : "healthy: event lag \(lag) s < \(suppressLagSeconds) s"
            return Outcome(decision: .keepClear, state: next)
        }
        guard lag <= clearLagSeconds else {
            next.greenSince = nil
            next.reason = "event lag \(lag) s > \(clearLagSeconds) s: no green streak"
            return Outcome(decision: .keepSuppressed, state: next)
        }
        let gap = now.timeIntervalSince(previous.updatedAt)
        let streakStart: Date
        if let greenSince = previous.greenSince, gap <= Double(maximumGapSeconds) {
            streakStart = greenSince
        } else {
            streakStart = now
        }
        let green = Self.seconds(now.timeIntervalSince(streakStart))
        let suppressedFor = Self.seconds(now.timeIntervalSince(previous.since))
        if green >= greenStreakSeconds && suppressedFor >= minimumSuppressionSeconds {
            next.suppressed = false
            next.since = now
            next.greenSince = nil
            next.reason = "green \(green) s (event lag ≤ \(clearLagSeconds) s) ≥ \(greenStreakSeconds) s after \(suppressedFor) s suppressed"
            return Outcome(decision: .clear, state: next)
        }
        next.greenSince = streakStart
        next.reason = green < greenStreakSeconds
            ? "green \(green) s of \(greenStreakSeconds) s (event lag \(lag) s ≤ \(clearLagSeconds) s)"
            : "green streak met; suppressed \(suppressedFor) s of the minimum \(minimumSuppressionSeconds) s"
        return Outcome(decision: .keepSuppressed, state: next)
    }

    /// Whole seconds of an interval (negative — a clock set back — counts as 0).
    static func seconds(_ interval: TimeInterval) -> Int {
        guard interval.isFinite, interval > 0 else { return 0 }
        return interval >= Double(Int32.max) ? Int(Int32.max) : Int(interval)
    }
}
