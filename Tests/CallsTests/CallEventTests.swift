@testable import Calls
import Database
import Foundation
import Logging
import Realtime
import Testing
import TestSupport

/// The call-event seam: the calls service follows each 1:1 call's ringing frames and
/// reports its end once to a ``CallEventRecorder``, however many reports of the end arrive.
@Suite struct CallEventTests {
    /// Collects the events the service reports.
    actor Recorded: CallEventRecorder {
        var events: [CallEvent] = []
        func record(_ event: CallEvent) async throws { events.append(event) }
    }

    struct Call {
        let service: CallsService
        let recorded: Recorded
        let caller: UUID, callee: UUID, conversation: UUID, room: UUID, call: UUID

        /// A room the caller created for the two of them, from a conversation.
        static func make(_ database: Database, allowedExtra: [UUID] = [], conversation: UUID? = UUID()) async throws -> Call {
            let recorded = Recorded()
            let service = CallsService(
                settings: CallsSettings(), database: database, bus: InProcessMessageBus(), logger: Logger(label: "test"), recorder: recorded
            ) { _ in throw CallsError(.unauthenticated, "not used") }
            let caller = try await CallsStoreTests.user(database), callee = try await CallsStoreTests.user(database)
            let room = UUID(), call = UUID()
            try await service.store.createRoom(
                id: room, callId: call, mode: "p2p", createdBy: caller, allowed: [caller, callee] + allowedExtra, conversationId: conversation,
                maxPeers: 2, tokenExpiresAt: Int(Date().timeIntervalSince1970) + 600)
            return Call(service: service, recorded: recorded, caller: caller, callee: callee, conversation: conversation ?? UUID(), room: room, call: call)
        }

        func frame(_ type: String, from user: UUID, reason: String? = nil, delivered: Int = 1) async {
            let other = user == caller ? callee : caller
            await service.follow(type, call: call, from: user, to: other, room: room, video: true, reason: reason, delivered: delivered)
        }

        func invite(delivered: Int = 1) async { await frame("call.invite", from: caller, delivered: delivered) }

        var outcomes: [CallOutcome] { get async { await recorded.events.map(\.outcome) } }
    }

    @Test func anAnsweredCallEndsOnceWithItsDuration() async throws {
        try await TestDatabase.withDatabase { database in
            let c = try await Call.make(database)
            await c.invite()
            await c.invite()  // a retried invite changes nothing
            await c.frame("call.accept", from: c.callee)
            try await database.withOwner { connection in
                try await connection.execute("UPDATE calls.call_outcomes SET accepted_at = now() - interval '42 seconds' WHERE call_id = $1", [c.call])
            }
            // Both sides hang up at once, each seen by its own instance.
            let other = try await Call.make(database)
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await c.frame("call.hangup", from: c.caller) }
                group.addTask { await c.frame("call.hangup", from: c.callee) }
                group.addTask { await other.service.follow("call.hangup", call: c.call, from: c.callee, to: c.caller, room: c.room, video: true, reason: nil, delivered: 1) }
            }
            await c.frame("call.cancel", from: c.caller)
            let events = await c.recorded.events + other.recorded.events
            #expect(events.count == 1)
            let event = try #require(events.first)
            #expect(event.outcome == .ended && event.callerID == c.caller && event.calleeID == c.callee)
            #expect(event.conversationID == c.conversation && event.callID == c.call && event.video)
            #expect((42...90).contains(event.durationSeconds ?? -1))  // 42 s plus however long a loaded machine took
        }
    }

    @Test func unansweredCallsEndAsDeclinedCancelledOrMissed() async throws {
        try await TestDatabase.withDatabase { database in
            let cases: [(String, Bool, String?, CallOutcome)] = [
                ("call.decline", false, nil, .declined), ("call.decline", false, "busy", .missed),
                ("call.cancel", true, nil, .cancelled), ("call.cancel", true, "timeout", .missed),
                ("call.hangup", true, nil, .cancelled), ("call.hangup", false, nil, .declined),
            ]
            for (type, byCaller, reason, outcome) in cases {
                let c = try await Call.make(database)
                await c.invite()
                // The other side's frame of the same kind ends nothing (a callee cannot cancel).
                if type != "call.hangup" { await c.frame(type, from: byCaller ? c.callee : c.caller, reason: reason) }
                await c.frame(type, from: byCaller ? c.caller : c.callee, reason: reason)
                await c.frame(type, from: byCaller ? c.caller : c.callee, reason: reason)
                #expect(await c.outcomes == [outcome], "\(type) \(reason ?? "")")
                #expect(await c.recorded.events.first?.durationSeconds == nil)
            }
            // Nobody online to ring: missed at once.
            let c = try await Call.make(database)
            await c.invite(delivered: 0)
            #expect(await c.outcomes == [.missed])
        }
    }

    /// Only a room the caller made for exactly the two of them, from a conversation, is followed.
    @Test func onlyOneToOneCallsFromAConversationAreFollowed() async throws {
        try await TestDatabase.withDatabase { database in
            let noConversation = try await Call.make(database, conversation: nil)
            let group = try await Call.make(database, allowedExtra: [try await CallsStoreTests.user(database)])
            for c in [noConversation, group] {
                await c.invite()
                await c.frame("call.decline", from: c.callee)
                #expect(await c.outcomes.isEmpty)
            }
            // Someone else inviting into the caller's room.
            let c = try await Call.make(database)
            await c.service.follow("call.invite", call: c.call, from: c.callee, to: c.caller, room: c.room, video: false, reason: nil, delivered: 1)
            await c.frame("call.cancel", from: c.callee)
            await c.frame("call.decline", from: c.caller)
            #expect(await c.outcomes.isEmpty)
        }
    }

    @Test func theSweepEndsCallsNobodyReported() async throws {
        try await TestDatabase.withDatabase { database in
            let ringing = try await Call.make(database)
            await ringing.invite()
            let answered = try await Call.make(database)
            await answered.invite()
            await answered.frame("call.accept", from: answered.callee)
            try await database.withOwner { connection in
                try await connection.execute(
                    "UPDATE calls.call_outcomes SET invited_at = now() - interval '10 minutes' WHERE call_id = $1", [ringing.call])
                try await connection.execute(
                    "UPDATE calls.call_outcomes SET accepted_at = now() - interval '30 seconds' WHERE call_id = $1", [answered.call])
                try await connection.execute(
                    "UPDATE calls.rooms SET empty_since = now() - interval '10 seconds', closed_at = now() WHERE id = $1", [answered.room])
            }
            await ringing.service.sweepCallOutcomes()
            await ringing.service.sweepCallOutcomes()
            let events = await ringing.recorded.events
            #expect(Set(events.map(\.callID)) == [ringing.call, answered.call] && events.count == 2)
            #expect(events.first { $0.callID == ringing.call }?.outcome == .missed)
            let ended = events.first { $0.callID == answered.call }
            #expect(ended?.outcome == .ended && (19...30).contains(ended?.durationSeconds ?? -1))
        }
    }
}
