import Core
import Database
import Foundation
import Realtime

/// Tells the author how their reel is doing: a `reel_progress` broadcast on the realtime
/// topic `user:<author id>` with `{"reel_id","state","progress","failure_reason"}` (through
/// the ``MessageBus``, so every instance's sockets get it), and `reels.reels.progress` for
/// the author's next read.
struct ReelsWorkerProgress: Sendable {
    static let event = "reel_progress"

    let database: Database
    let bus: any MessageBus

    func publish(author: UUID, reel: UUID, state: String, progress: Int, failureReason: String? = nil) async {
        let payload = JSONValue.object([
            "reel_id": .string(reel.uuidString.lowercased()),
            "state": .string(state),
            "progress": .number(Double(progress)),
            "failure_reason": failureReason.map { .string($0) } ?? .null,
        ])
        let message = JSONValue.object(["type": .string("broadcast"), "event": .string(Self.event), "payload": payload])
        try? await bus.publish(.broadcast(topic: "realtime:user:" + author.uuidString.lowercased(), payload: message, origin: "reels-worker"))
    }

    /// Stores the processing percentage (only while the reel is processing). The commit does
    /// not wait for the WAL flush: a percentage lost in a crash is harmless (the next one, or
    /// the job's own state, replaces it), and the worker's fsyncs go to what must last.
    func store(reel: UUID, progress: Int) async {
        _ = try? await database.withOwner { connection in
            try await connection.execute("SET LOCAL synchronous_commit = off", [])
            try await connection.execute(
                "UPDATE reels.reels SET progress = $2 WHERE id = $1 AND state = 'processing' AND progress < $2", [reel, progress])
        }
    }
}
