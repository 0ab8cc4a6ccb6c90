import Core
import Foundation
import Logging

/// One answer on the wire: the role chunk, content chunks as the engine produces them,
/// keep-alive comments during silences, the finish chunk (or an error event) and `[DONE]`.
struct AnswerStream: Sendable {
    let engine: any AssistantEngine
    let turns: [ChatTurn]
    let caller: Caller
    let chunk: ChatCompletionChunk
    let keepAlive: Duration
    let logger: Logger

    private enum Event: Sendable {
        case text(String)
        case tick
    }

    /// Writes the whole stream through `write`; returns when `[DONE]` is written.
    func run(write: (String) async throws -> Void) async throws {
        let (events, continuation) = AsyncStream<Event>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [engine, turns, caller, chunk, logger] in
                defer { continuation.finish() }
                do {
                    try await engine.answer(turns, caller: caller) { piece in
                        try Task.checkCancellation()
                        continuation.yield(.text(chunk.content(piece)))
                    }
                    continuation.yield(.text(chunk.finish()))
                } catch is CancellationError {
                    return
                } catch let failure as AssistantFailure {
                    continuation.yield(.text(chunk.error(code: failure.code, message: failure.message)))
                } catch {
                    logger.error("assistant failed", metadata: ["error": "\(error)"])
                    continuation.yield(.text(chunk.error(code: "assistant_error", message: "the assistant could not answer; try again")))
                }
            }
            group.addTask { [keepAlive] in
                let tick = keepAlive / 4
                while true {
                    try await Task.sleep(for: tick)
                    continuation.yield(.tick)
                }
            }
            let clock = ContinuousClock()
            try await write(chunk.roleChunk())
            var lastWrite = clock.now
            for await event in events {
                switch event {
                case .text(let text):
                    try await write(text)
                    lastWrite = clock.now
                case .tick:
                    if clock.now - lastWrite >= keepAlive {
                        try await write(ServerSentEvents.keepAlive)
                        lastWrite = clock.now
                    }
                }
            }
            group.cancelAll()
            try Task.checkCancellation()
            try await write(ServerSentEvents.done)
        }
    }
}
