import CoreMetrics
import Foundation
import Logging
import Testing
import TestSupport
@testable import Reels

/// The arbiter's `/metrics` values after an evaluation, and its loop's shutdown.
@Suite struct ArbiterMetricsTests {
    @Test func gaugesShowTheDecisionAndItsInputs() {
        let factory = RecordingMetricsFactory()
        let metrics = ArbiterMetrics(factory: factory)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let inputs = ArbiterInputs(
            impressions: 7, viewsArriving: true, impressionLagSeconds: 950, queueDepth: 4, oldestJobAgeSeconds: 300)
        let suppressed = ArbiterState(suppressed: true, since: now.addingTimeInterval(-600), greenSince: now.addingTimeInterval(-90), updatedAt: now)
        metrics.record(ArbiterEvaluator.Result(key: "window:1", decision: .keepSuppressed, state: suppressed, inputs: inputs, journaled: true), now: now)
        #expect(factory.value("reels_arbiter_suppressed") == 1)
        #expect(factory.value("reels_arbiter_event_lag_seconds") == 950)
        #expect(factory.value("reels_arbiter_impression_lag_seconds") == 950)
        #expect(factory.value("reels_arbiter_impressions") == 7)
        #expect(factory.value("reels_arbiter_green_streak_seconds") == 90)
        #expect(factory.value("reels_arbiter_last_evaluation_timestamp_seconds") == 1_800_000_000)
        #expect(factory.value("reels_jobs_queue_depth") == 4)
        #expect(factory.value("reels_jobs_oldest_age_seconds") == 300)
        #expect(factory.count("reels_arbiter_decisions_total", decision: "keep_suppressed") == 1)

        // Another instance's window: gauges follow, the decision is not counted again.
        let clear = ArbiterState(suppressed: false, since: now, updatedAt: now)
        metrics.record(ArbiterEvaluator.Result(key: "window:2", decision: .clear, state: clear, inputs: ArbiterInputs(), journaled: false), now: now)
        #expect(factory.value("reels_arbiter_suppressed") == 0)
        #expect(factory.value("reels_arbiter_green_streak_seconds") == 0)
        #expect(factory.value("reels_jobs_queue_depth") == 0)
        #expect(factory.count("reels_arbiter_decisions_total", decision: "clear") == 0)
    }

    @Test func theLoopEvaluatesRecordsAndStopsWhenCancelled() async throws {
        try await TestDatabase.withDatabase { db in
            let clock = ManualArbiterClock()
            let source = StubArbiterInputs()
            source.set(lag: 2000)
            var settings = ArbiterSettings()
            settings.intervalSeconds = 3600
            let factory = RecordingMetricsFactory()
            let service = ArbiterService(
                evaluator: ArbiterEvaluator(database: db, settings: settings, clock: clock, source: source),
                metrics: ArbiterMetrics(factory: factory), logger: Logger(label: "test"))
            let loop = Task { await service.loop() }
            let started = ContinuousClock.now
            while factory.value("reels_arbiter_suppressed") == nil, ContinuousClock.now - started < .seconds(60) {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(factory.value("reels_arbiter_suppressed") == 1)
            #expect(factory.value("reels_arbiter_event_lag_seconds") == 2000)
            // It now sleeps until the next window; cancellation ends it at once.
            loop.cancel()
            await loop.value
            #expect(ContinuousClock.now - started < .seconds(60))
        }
    }
}

/// Keeps the last value of each gauge and the total of each counter.
final class RecordingMetricsFactory: MetricsFactory, @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Double] = [:]

    private static func name(_ label: String, _ dimensions: [(String, String)]) -> String {
        dimensions.isEmpty ? label : label + "{" + dimensions.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    func value(_ label: String) -> Double? { lock.withLock { values[label] } }
    func count(_ label: String, decision: String) -> Double { lock.withLock { values[Self.name(label, [("decision", decision)])] ?? 0 } }

    fileprivate func set(_ name: String, _ update: (Double?) -> Double) { lock.withLock { values[name] = update(values[name]) } }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        Handler(name: Self.name(label, dimensions), factory: self)
    }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        Handler(name: Self.name(label, dimensions), factory: self)
    }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        Handler(name: Self.name(label, dimensions), factory: self)
    }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}

    final class Handler: CounterHandler, RecorderHandler, TimerHandler, @unchecked Sendable {
        let name: String
        let factory: RecordingMetricsFactory
        init(name: String, factory: RecordingMetricsFactory) {
            self.name = name
            self.factory = factory
        }
        func increment(by amount: Int64) { factory.set(name) { ($0 ?? 0) + Double(amount) } }
        func reset() { factory.set(name) { _ in 0 } }
        func record(_ value: Int64) { factory.set(name) { _ in Double(value) } }
        func record(_ value: Double) { factory.set(name) { _ in value } }
        func recordNanoseconds(_ duration: Int64) { factory.set(name) { _ in Double(duration) } }
    }
}
