import Foundation
import Testing
@testable import Reels

/// The arbiter's decision core with a controlled clock: when it suppresses, and the
/// hysteresis that keeps it from flapping (docs/reels.md, "Arbiter").
@Suite struct ArbiterPolicyTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = ArbiterSettings().policy

    /// Steps the policy once a minute from `state`, with the lag each minute; returns every decision.
    func run(_ lags: [Int], from state: inout ArbiterState, at now: inout Date, impressions: Int = 0) -> [ArbiterDecision] {
        var decisions: [ArbiterDecision] = []
        for lag in lags {
            now = now.addingTimeInterval(60)
            let outcome = policy.decide(state: state, inputs: ArbiterInputs(impressions: impressions, oldestJobAgeSeconds: lag), now: now)
            state = outcome.state
            decisions.append(outcome.decision)
        }
        return decisions
    }

    func clear(at date: Date) -> ArbiterState {
        ArbiterState(suppressed: false, since: date, updatedAt: date)
    }

    @Test func suppressesOnlyWithLagAtTheThresholdAndThinTraffic() {
        let state = clear(at: start)
        let now = start.addingTimeInterval(30)
        #expect(policy.decide(state: state, inputs: ArbiterInputs(impressions: 0, oldestJobAgeSeconds: 899), now: now).decision == .keepClear)
        #expect(policy.decide(state: state, inputs: ArbiterInputs(impressions: 19, oldestJobAgeSeconds: 900), now: now).decision == .suppress)
        #expect(policy.decide(state: state, inputs: ArbiterInputs(impressions: 20, oldestJobAgeSeconds: 5000), now: now).decision == .keepClear)
        // The impression part of the lag counts the same as the pipeline part.
        let outcome = policy.decide(
            state: state, inputs: ArbiterInputs(impressions: 0, viewsArriving: true, impressionLagSeconds: 1200), now: now)
        #expect(outcome.decision == .suppress)
        #expect(outcome.state.suppressed && outcome.state.since == now && outcome.state.greenSince == nil)
        #expect(outcome.state.reason.contains("1200 s ≥ 900 s"))
    }

    @Test func staysSuppressedThroughAGreenBlipAndClearsAfterTwelveGreenMinutes() {
        var state = clear(at: start)
        var now = start
        #expect(run([1000], from: &state, at: &now) == [.suppress])
        let suppressedAt = now
        // Five green minutes, then lag 400 (not green): the streak is broken.
        #expect(run([100, 50, 0, 10, 120, 400], from: &state, at: &now) == Array(repeating: .keepSuppressed, count: 6))
        #expect(state.greenSince == nil)
        // Lag 181 is not green either.
        #expect(run([181], from: &state, at: &now) == [.keepSuppressed])
        // Green from here: the first green minute starts the streak; it clears 12 min later.
        let greenStart = now.addingTimeInterval(60)
        let decisions = run(Array(repeating: 180, count: 13), from: &state, at: &now)
        #expect(decisions == Array(repeating: .keepSuppressed, count: 12) + [.clear])
        #expect(now.timeIntervalSince(greenStart) == 720)
        #expect(now.timeIntervalSince(suppressedAt) >= 600)
        #expect(!state.suppressed && state.since == now && state.greenSince == nil)
        // Clear again; healthy minutes keep it so.
        #expect(run([0, 899], from: &state, at: &now) == [.keepClear, .keepClear])
    }

    @Test func theMinimumSuppressionHoldsEvenAfterAShortGreenStreak() {
        var settings = ArbiterSettings()
        settings.greenStreakSeconds = 120
        let policy = settings.policy
        var state = policy.decide(state: clear(at: start), inputs: ArbiterInputs(oldestJobAgeSeconds: 950), now: start).state
        #expect(state.suppressed)
        var now = start
        var decisions: [ArbiterDecision] = []
        for _ in 1...10 {
            now = now.addingTimeInterval(60)
            let outcome = policy.decide(state: state, inputs: ArbiterInputs(oldestJobAgeSeconds: 0), now: now)
            state = outcome.state
            decisions.append(outcome.decision)
        }
        // The 2-minute green streak is met at minute 3; the clear still waits for 10 minutes of suppression.
        #expect(decisions == Array(repeating: .keepSuppressed, count: 9) + [.clear])
        #expect(now.timeIntervalSince(start) == 600)
    }

    @Test func aGapInEvaluationsRestartsTheGreenStreak() {
        var state = clear(at: start)
        var now = start
        _ = run([1000], from: &state, at: &now)
        _ = run(Array(repeating: 0, count: 10), from: &state, at: &now)
        #expect(state.greenSince == start.addingTimeInterval(120))
        // The arbiter was down for 20 minutes: unobserved time is not green.
        now = now.addingTimeInterval(20 * 60)
        let outcome = policy.decide(state: state, inputs: ArbiterInputs(), now: now)
        #expect(outcome.decision == .keepSuppressed)
        #expect(outcome.state.greenSince == now)
    }

    @Test func aClockSetBackNeverClears() {
        let suppressed = ArbiterState(suppressed: true, since: start, greenSince: start, updatedAt: start)
        let outcome = policy.decide(state: suppressed, inputs: ArbiterInputs(), now: start.addingTimeInterval(-3600))
        #expect(outcome.decision == .keepSuppressed)
    }

    @Test func windowKeysAreTheIntervalsStart() {
        #expect(ArbiterEvaluator.key(for: Date(timeIntervalSince1970: 1_800_000_029.9), intervalSeconds: 30) == "window:1800000000")
        #expect(ArbiterEvaluator.key(for: Date(timeIntervalSince1970: 1_800_000_030), intervalSeconds: 30) == "window:1800000030")
        #expect(ArbiterEvaluator.key(for: Date(timeIntervalSince1970: 1_800_000_030), intervalSeconds: 0) == "window:1800000030")
    }
}
