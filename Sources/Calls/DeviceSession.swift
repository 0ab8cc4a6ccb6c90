import Foundation

/// One device's signalling session. It outlives its socket for the resume grace period:
/// frames sent meanwhile are numbered and kept, and replayed after a resume.
actor DeviceSession {
    let deviceId: String
    /// Set by the first successful AUTH; a session without a user is never kept after its socket.
    private(set) var userId: UUID?
    /// The secret a client presents to resume this session.
    let resumeToken: String
    /// Identifies this session on the bus (a replaced session ignores later messages).
    let id = UUID()

    private var nextSeq = 1
    private var replay: [(seq: Int, text: String)] = []
    private let replayLimit: Int
    /// Results of requests already executed, by `msgId` (only successful ones).
    private var acks: [String: AckResult] = [:]
    private var ackOrder: [String] = []
    private var socket: SocketWriter?
    /// How many times a socket dropped; a grace timer only ends the drop it was started for.
    private(set) var drops = 0
    /// Unix seconds when the access token expires.
    private(set) var tokenExpiresAt: Int
    private(set) var ended = false
    /// The rooms this device joined through this session (the authority for relays to it).
    private var rooms: Set<UUID> = []

    init(deviceId: String, replayLimit: Int) {
        self.deviceId = deviceId
        self.tokenExpiresAt = 0
        self.replayLimit = replayLimit
        self.resumeToken = UUID().uuidString.lowercased() + UUID().uuidString.lowercased()
    }

    /// Sends a numbered frame (kept for replay; written now if a socket is attached).
    func send(type: String, payload: JSONObject, from: RelaySender? = nil) {
        send(type: type, payloadJSON: JSONText.encode(payload.value), from: from)
    }

    /// Sends a numbered frame around a payload that is already JSON object text; with
    /// `onlyIn`, only while this session is in that room (a relay checked by its sender's
    /// instance before this device left is dropped here).
    func send(type: String, payloadJSON: String, from: RelaySender? = nil, onlyIn room: UUID? = nil) {
        guard !ended else { return }
        if let room, !rooms.contains(room) { return }
        let seq = nextSeq
        nextSeq += 1
        let text = OutboundFrame.text(type: type, seq: seq, payloadJSON: payloadJSON, from: from)
        replay.append((seq, text))
        if replay.count > replayLimit { replay.removeFirst(replay.count - replayLimit) }
        socket?.write(text)
    }

    /// Records a committed join, before anyone can learn of it.
    func joined(_ room: UUID) { rooms.insert(room) }

    /// Records a committed leave, before anything else is done: no relay reaches it after.
    func left(_ room: UUID) { rooms.remove(room) }

    func isIn(_ room: UUID) -> Bool { rooms.contains(room) }

    /// The rooms this session is in.
    func joinedRooms() -> [UUID] { Array(rooms) }

    func attach(_ writer: SocketWriter) {
        socket = writer
    }

    /// Detaches `writer` if it is still the current socket; true when it was.
    func detach(_ writer: SocketWriter) -> Bool {
        guard socket === writer else { return false }
        socket = nil
        drops += 1
        return true
    }

    /// The socket currently attached.
    var currentSocket: SocketWriter? { socket }

    /// Attaches a resuming socket, writes every kept frame after `lastServerSeq` and then
    /// the WELCOME built by `welcome(seq)`, in one step so no new frame can slip in between.
    /// False when frames the client missed are no longer kept, or it claims frames never
    /// sent (the client must start over).
    func resume(_ writer: SocketWriter, after lastServerSeq: Int, welcome: (Int) -> String) -> Bool {
        guard lastServerSeq < nextSeq, lastServerSeq >= 0 else { return false }
        if let first = replay.first, first.seq > lastServerSeq + 1 { return false }
        if replay.isEmpty, lastServerSeq + 1 < nextSeq { return false }
        socket?.close(CallsCloseCode.deviceReplaced.rawValue, reason: "DEVICE_REPLACED")
        socket = writer
        // The missed frames first, then WELCOME: seq stays strictly increasing on the wire.
        for frame in replay where frame.seq > lastServerSeq {
            writer.write(frame.text)
        }
        let seq = nextSeq
        nextSeq += 1
        let text = welcome(seq)
        replay.append((seq, text))
        writer.write(text)
        return true
    }

    func cachedAck(_ msgId: String) -> AckResult? { acks[msgId] }

    func remember(_ msgId: String, _ result: AckResult) {
        guard result.error == nil else { return }
        acks[msgId] = result
        ackOrder.append(msgId)
        if ackOrder.count > 256 { acks.removeValue(forKey: ackOrder.removeFirst()) }
    }

    /// Records a verified token: the first binds the session to its user.
    func authenticate(userId: UUID, expiresAt: Int) {
        if self.userId == nil { self.userId = userId }
        tokenExpiresAt = expiresAt
    }

    /// Whether the socket is still gone since drop number `drop`.
    func stillDropped(since drop: Int) -> Bool { socket == nil && drops == drop }

    /// Ends the session: nothing more is sent.
    func end() { ended = true; socket = nil }
}

/// Serialises writes to one WebSocket; closing it makes later writes no-ops.
final class SocketWriter: Sendable {
    private let continuation: AsyncStream<SocketCommand>.Continuation

    init(_ continuation: AsyncStream<SocketCommand>.Continuation) {
        self.continuation = continuation
    }

    func write(_ text: String) {
        continuation.yield(.text(text))
    }

    /// Closes the socket with a protocol close code.
    func close(_ code: UInt16, reason: String) {
        continuation.yield(.close(code, reason))
        continuation.finish()
    }

    /// Ends the writes after the client closed the socket.
    func finish() {
        continuation.finish()
    }
}

enum SocketCommand: Sendable {
    case text(String)
    case close(UInt16, String)
}
