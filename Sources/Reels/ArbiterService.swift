import Database
import Foundation
import Logging
import ServiceLifecycle

/// The arbiter's loop (role `arbiter`): one evaluation per window of
/// `REELS_ARBITER_INTERVAL_SECONDS`, started at the window's beginning, until graceful
/// shutdown (an evaluation in flight is cancelled and rolled back; the next instance or
/// start redoes that window). A failed evaluation is logged and retried in the next window.
public struct ArbiterService: Service {
    public let evaluator: ArbiterEvaluator
    public let metrics: ArbiterMetrics
    public let logger: Logger

    public init(evaluator: ArbiterEvaluator, metrics: ArbiterMetrics, logger: Logger) {
        self.evaluator = evaluator
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await loop() }
    }

    /// Evaluates now, then at the start of each following window, until cancelled.
    func loop() async {
        let interval = max(1, evaluator.settings.intervalSeconds)
        while !Task.isCancelled {
            await runOnce()
            let now = evaluator.clock.now().timeIntervalSince1970
            let untilNextWindow = Double(interval) - now.truncatingRemainder(dividingBy: Double(interval))
            do {
                try await Task.sleep(for: .seconds(min(Double(interval), max(0.5, untilNextWindow))))
            } catch {
                return
            }
        }
    }

    /// One evaluation, its metrics and its log line; errors are logged, not thrown.
    @discardableResult
    public func runOnce() async -> ArbiterEvaluator.Result? {
        do {
            let result = try await evaluator.evaluate()
            metrics.record(result, now: evaluator.clock.now())
            if result.journaled {
                let metadata: Logger.Metadata = [
                    "decision": "\(result.decision.rawValue)", "reason": "\(result.state.reason)",
                    "event_lag_seconds": "\(result.inputs.eventLagSeconds)", "impressions": "\(result.inputs.impressions)",
                    "queue_depth": "\(result.inputs.queueDepth)",
                ]
                switch result.decision {
                case .suppress: logger.warning("reels arbiter suppressed the personalised feed", metadata: metadata)
                case .clear: logger.notice("reels arbiter cleared the suppression", metadata: metadata)
                case .keepClear, .keepSuppressed: logger.debug("reels arbiter evaluation", metadata: metadata)
                }
            }
            return result
        } catch is CancellationError {
            return nil
        } catch {
            if !Task.isCancelled {
                logger.warning("reels arbiter evaluation failed", metadata: ["error": "\(PostgresErrorText.describe(error))"])
            }
            return nil
        }
    }
}
