import Foundation

/// How a 1:1 call ended, as its conversation shows it.
public enum CallOutcome: String, Sendable, CaseIterable {
    /// Nobody answered: the caller gave up after ringing (`call.cancel` with reason
    /// `timeout`), no device of the callee was online, the callee was busy, or it never ended.
    case missed
    /// The callee refused (`call.decline`, or hung up before answering).
    case declined
    /// The caller hung up before anyone answered.
    case cancelled
    /// Answered, then hung up by either side.
    case ended
}

/// A finished 1:1 call that was placed from a conversation.
public struct CallEvent: Sendable, Equatable {
    public var callID: UUID
    public var conversationID: UUID
    public var callerID: UUID
    public var calleeID: UUID
    public var video: Bool
    public var outcome: CallOutcome
    /// Whole seconds from the answer to the hang-up; only for ``CallOutcome/ended``.
    public var durationSeconds: Int?

    public init(
        callID: UUID, conversationID: UUID, callerID: UUID, calleeID: UUID, video: Bool, outcome: CallOutcome, durationSeconds: Int?
    ) {
        self.callID = callID
        self.conversationID = conversationID
        self.callerID = callerID
        self.calleeID = calleeID
        self.video = video
        self.outcome = outcome
        self.durationSeconds = durationSeconds
    }
}

/// Where the calls service reports finished 1:1 calls. It is a seam, as `MessageBus` is for
/// relays: the chat implements it (writing the event into the conversation), so the calls
/// service never touches chat tables. The service reports each call once (the first end
/// recorded in `calls.call_outcomes` wins); an implementation must still be idempotent on
/// ``CallEvent/callID``, since a report can be retried after a failure.
public protocol CallEventRecorder: Sendable {
    func record(_ event: CallEvent) async throws
}
