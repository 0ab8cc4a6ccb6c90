import Foundation

extension CallsService {
    /// Follows a ringing frame `user` sent about a call (after it was delivered to
    /// `delivered` devices of `other`) and reports the call's end to the recorder once.
    /// Failures are logged: signalling goes on without the event.
    func follow(_ type: String, call: UUID, from user: UUID, to other: UUID, room: UUID?, video: Bool, reason: String?, delivered: Int) async {
        guard let recorder else { return }
        do {
            var event: CallEvent?
            switch type {
            case "call.invite":
                guard let room else { return }
                try await outcomes.invited(call: call, room: room, caller: user, callee: other, video: video)
                if delivered == 0 {
                    // No device of the callee is online: nobody will answer or decline.
                    event = try await outcomes.ended(call: call, by: user, ifCaller: .missed, ifCallee: nil, endsAnswered: false)
                }
            case "call.accept":
                try await outcomes.accepted(call: call, callee: user, caller: other)
            case "call.decline":
                event = try await outcomes.ended(
                    call: call, by: user, ifCaller: nil, ifCallee: reason == "busy" ? .missed : .declined, endsAnswered: false)
            case "call.cancel":
                event = try await outcomes.ended(
                    call: call, by: user, ifCaller: reason == "timeout" ? .missed : .cancelled, ifCallee: nil, endsAnswered: false)
            case "call.hangup":
                event = try await outcomes.ended(call: call, by: user, ifCaller: .cancelled, ifCallee: .declined, endsAnswered: true)
            default:
                return
            }
            if let event { try await recorder.record(event) }
        } catch {
            logger.error("calls: recording the call's event failed", metadata: ["call": "\(call)", "frame": "\(type)", "error": "\(error)"])
        }
    }

    /// Ends and reports calls nobody reported the end of (see ``CallOutcomeTracker/sweep()``).
    func sweepCallOutcomes() async {
        guard let recorder else { return }
        let events: [CallEvent]
        do {
            events = try await outcomes.sweep()
        } catch {
            if !Task.isCancelled { logger.warning("calls: sweeping call outcomes failed", metadata: ["error": "\(error)"]) }
            return
        }
        for event in events {
            do {
                try await recorder.record(event)
            } catch {
                logger.error("calls: recording the call's event failed", metadata: ["call": "\(event.callID)", "error": "\(error)"])
            }
        }
    }
}
