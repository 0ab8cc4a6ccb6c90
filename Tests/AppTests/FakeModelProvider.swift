import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization

/// An honest test double of an OpenAI-compatible chat-completions endpoint
/// (`POST /v1/chat/completions`, `stream: true`): it records every request and answers each
/// with the SSE frames its script gives for that round.
final class FakeModelProvider: Sendable {
    /// What the provider saw (request bodies as received, Authorization headers, streams
    /// cut short because the caller went away).
    final class Log: Sendable {
        private struct State {
            var bodies: [Data] = []
            var authorizations: [String] = []
            var cancelledStreams = 0
        }
        private let state = Mutex(State())

        func record(body: Data, authorization: String) -> Int {
            state.withLock { state in
                state.bodies.append(body)
                state.authorizations.append(authorization)
                return state.bodies.count
            }
        }
        func cancelled() { state.withLock { $0.cancelledStreams += 1 } }

        var bodies: [[String: Any]] {
            state.withLock { $0.bodies }.map { (try? JSONSerialization.jsonObject(with: $0)) as? [String: Any] ?? [:] }
        }
        var authorizations: [String] { state.withLock { $0.authorizations } }
        var cancelledStreams: Int { state.withLock { $0.cancelledStreams } }
    }

    /// One write of the response (a frame may be split over several writes) and a pause after it.
    struct Write: Sendable {
        var text: String
        var pause: Duration = .zero
    }

    let log = Log()
    let script: @Sendable (_ round: Int, _ body: [String: Any]) -> [Write]

    init(script: @escaping @Sendable (_ round: Int, _ body: [String: Any]) -> [Write]) {
        self.script = script
    }

    /// Runs the provider on a free loopback port for the duration of `body`.
    func run(_ body: @Sendable (_ baseURL: String) async throws -> Void) async throws {
        let router = Router()
        router.post("v1/chat/completions") { request, _ -> Response in
            var request = request
            let data = Data(buffer: try await request.collectBody(upTo: 1 << 20))
            let round = self.log.record(body: data, authorization: request.headers[.authorization] ?? "")
            let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            let writes = self.script(round, json)
            let inbound = request.body
            return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
                do {
                    try await inbound.consumeWithCancellationOnInboundClose { _ in
                        for write in writes {
                            try await writer.write(ByteBuffer(string: write.text))
                            if write.pause > .zero { try await Task.sleep(for: write.pause) }
                        }
                    }
                } catch is CancellationError {
                    self.log.cancelled()
                    throw CancellationError()
                }
                try await writer.finish(nil)
            })
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)/v1")
        }
    }

    /// `data: <json>\n\n` for a chunk with this delta and finish reason.
    static func frame(delta: [String: Any], finish: String? = nil) -> String {
        let chunk: [String: Any] = [
            "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake-model",
            "choices": [["index": 0, "delta": delta, "finish_reason": finish.map { $0 as Any } ?? NSNull()]],
        ]
        let data = try! JSONSerialization.data(withJSONObject: chunk, options: [.sortedKeys])
        return "data: \(String(decoding: data, as: UTF8.self))\n\n"
    }
}
