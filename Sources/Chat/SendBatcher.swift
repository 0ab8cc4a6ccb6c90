import Database
import Foundation
import NIOConcurrencyHelpers
import PostgresNIO

/// Runs sends, grouping those that arrive while the database is busy (issue 12).
///
/// A send that finds no statement of sends in the database starts one at once, by itself: an
/// idle server adds no wait. Sends that arrive while one is running queue; when a statement
/// ends, the queue goes to the database as one ``SendMessagesStatement`` (up to
/// ``largestBatch`` sends), and a queue of ``smallestExtraBatch`` sends starts one of its
/// own alongside, up to ``concurrentBatches`` statements at once. A batch is one round trip
/// and one commit for all its sends, each with its own outcome, so up to a full batch queued,
/// one statement at a time keeps up best: its batches grow with the load. A send whose send
/// raised an error in the batch (undone alone) runs again by itself, so its error reaches its
/// client exactly as a lone send's would; so does every send of a batch whose statement
/// failed in the database (then nothing of it was kept), as do the sends of a batch that
/// waited a second for a lock (migration 0045's `lock_timeout`): a send is not held up for
/// long by another conversation's lock. The defaults were measured with
/// `scripts/bench/chat.sh` (docs/performance.md, "Sends in batches" and "The next statement
/// of sends at once").
final class SendBatcher: Sendable {
    /// Statements of sends in the database at once.
    let concurrentBatches: Int
    /// The queued sends that start a statement beside those running.
    let smallestExtraBatch: Int
    /// Sends in one statement at most.
    let largestBatch: Int
    private let database: Database
    private let state = NIOLockedValueBox(State())

    private struct State {
        var running = 0
        var queue: [Waiting] = []
    }

    private struct Waiting {
        let send: SendMessageStatement
        let continuation: CheckedContinuation<String?, any Error>
    }

    init(database: Database, concurrentBatches: Int = 3, smallestExtraBatch: Int = 8, largestBatch: Int = 64) {
        self.database = database
        self.concurrentBatches = max(1, concurrentBatches)
        self.smallestExtraBatch = max(1, smallestExtraBatch)
        self.largestBatch = max(1, largestBatch)
    }

    /// Statements of sends in the database and sends waiting for one, now.
    var load: (running: Int, queued: Int) {
        state.withLockedValue { ($0.running, $0.queue.count) }
    }

    /// The outcome's JSON text of `send` (`public.chat_send_message`), once it is committed.
    func outcome(of send: SendMessageStatement) async throws -> String? {
        try await withCheckedThrowingContinuation { continuation in
            let waiting = Waiting(send: send, continuation: continuation)
            let batch = state.withLockedValue { state -> [Waiting] in
                state.queue.append(waiting)
                // A further statement starts only for a batch worth its own commit.
                guard state.running == 0 || (state.running < concurrentBatches && state.queue.count >= smallestExtraBatch) else { return [] }
                state.running += 1
                let batch = Array(state.queue.prefix(largestBatch))
                state.queue.removeFirst(batch.count)
                return batch
            }
            if !batch.isEmpty { start(batch) }
        }
    }

    /// The queue's next batch when a statement ends; nil frees the statement's place.
    private func next() -> [Waiting]? {
        state.withLockedValue { state -> [Waiting]? in
            guard !state.queue.isEmpty else {
                state.running -= 1
                return nil
            }
            let batch = Array(state.queue.prefix(largestBatch))
            state.queue.removeFirst(batch.count)
            return batch
        }
    }

    /// Runs `batch`, then each batch the queue holds when a statement ends, in one task of
    /// high priority: the next statement goes to the database as soon as the last one ends,
    /// not after the requests queued in the cooperative pool meanwhile (measured in
    /// docs/performance.md, "The next statement of sends at once"). A batch of one is
    /// a batch too, so that a lock it waits for long cannot hold its place either.
    private func start(_ batch: [Waiting]) {
        Task(priority: .high) {
            var batch = batch
            while true {
                answerAloneLater(await together(batch))
                guard let following = next() else { return }
                batch = following
            }
        }
    }

    /// Runs `unanswered` by themselves, side by side, in a task of their own, while the
    /// batches' task goes on with the queue.
    private func answerAloneLater(_ unanswered: [Waiting]) {
        guard !unanswered.isEmpty else { return }
        Task {
            await withTaskGroup(of: Void.self) { group in
                for waiting in unanswered {
                    group.addTask { await self.answerAlone(waiting) }
                }
            }
        }
    }

    private func answerAlone(_ waiting: Waiting) async {
        do {
            waiting.continuation.resume(returning: try await alone(waiting.send))
        } catch {
            waiting.continuation.resume(throwing: error)
        }
    }

    /// Runs `batch` as one statement and answers the sends it has an outcome for; returns
    /// the others.
    private func together(_ batch: [Waiting]) async -> [Waiting] {
        // A send without an outcome runs by itself below.
        var outcomes = [String?](repeating: nil, count: batch.count)
        let statement = SendMessagesStatement(batch.map(\.send))
        do {
            outcomes = try await database.withStatement(translatingErrors: false) { connection in
                var outcomes = [String?](repeating: nil, count: batch.count)
                for try await (item, outcome) in try await connection.execute(statement, logger: database.logger)
                where item >= 0 && Int(item) < batch.count {
                    outcomes[Int(item)] = outcome
                }
                return outcomes
            }
        } catch where PostgresErrorText.sqlState(error) != nil {
            // The statement failed in the database and nothing of it was kept: every send by
            // itself.
        } catch {
            let reported = PostgresErrorText.clientError(error) ?? error
            for waiting in batch { waiting.continuation.resume(throwing: reported) }
            return []
        }
        var unanswered: [Waiting] = []
        for (waiting, outcome) in zip(batch, outcomes) {
            if let outcome, outcome != Self.failed {
                waiting.continuation.resume(returning: outcome)
            } else {
                unanswered.append(waiting)
            }
        }
        return unanswered
    }

    /// One send in a statement of its own; a database error that names an argument comes
    /// back as that field's error.
    private func alone(_ send: SendMessageStatement) async throws -> String? {
        try await database.withStatement { connection in
            do {
                for try await text in try await connection.execute(send, logger: database.logger) { return text }
                return nil
            } catch {
                throw ChatService.attachmentError(error) ?? error
            }
        }
    }

    /// The outcome of a send that raised an error in a batch (migration 0045).
    private static let failed = #"{"outcome": "failed"}"#
}
