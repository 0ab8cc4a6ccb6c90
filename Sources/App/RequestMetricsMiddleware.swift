import Core
import Foundation
import Hummingbird
import Metrics
import NIOConcurrencyHelpers

/// Counts requests and records their latency by route pattern, method and status
/// (`http_requests_total`, `http_request_duration_seconds`).
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    private let recorders = RequestRecorders()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context, status: response.status.code, since: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            record(request, context, status: status, since: start)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: Int, since start: ContinuousClock.Instant) {
        // The route pattern (e.g. /rest/v1/rpc/{name}), never the raw path, and the known
        // methods keep label sets small.
        let labels = RequestRecorders.Labels(
            method: RequestRecorders.Labels.methodLabel(request.method), route: context.endpointPath ?? "unmatched", status: status)
        let (counter, timer) = recorders.recorders(for: labels)
        counter.increment()
        timer.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
    }
}

/// The counter and timer of each label set, made on first use and kept: making them again
/// for every request asks the metrics backend to look the set up again. Keeping them is safe
/// because the first request comes after the backend is bootstrapped (`buildSurface`
/// touches ``AppMetrics/registry`` before it adds this middleware), unlike the pool gauges
/// of a `Database`, which may be made before it.
final class RequestRecorders: Sendable {
    struct Labels: Hashable {
        var method: String
        var route: String
        var status: Int

        /// Methods this API answers keep their name; any other token a client sends counts
        /// as `other`, so requests cannot add label sets without bound.
        static func methodLabel(_ method: HTTPRequest.Method) -> String {
            switch method {
            case .get, .head, .post, .put, .patch, .delete, .options: method.rawValue
            default: "other"
            }
        }
    }

    private let made = NIOLockedValueBox([Labels: (Counter, Metrics.Timer)]())

    func recorders(for labels: Labels) -> (Counter, Metrics.Timer) {
        made.withLockedValue { made in
            if let found = made[labels] { return found }
            let dimensions = [("method", labels.method), ("route", labels.route), ("status", String(labels.status))]
            let recorders = (
                Counter(label: "http_requests_total", dimensions: dimensions),
                Metrics.Timer(label: "http_request_duration_seconds", dimensions: dimensions)
            )
            made[labels] = recorders
            return recorders
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
