import Foundation
import Synchronization

/// This instance's copy of room membership, so that relaying a `webrtc.*` frame needs no
/// database transaction. It is kept current by the room's own changes: every join, leave and
/// sweep reads the room's peers and new `version` under the room's row lock, applies them
/// here at once, and announces them to every instance on the bus (``RoomUpdate``), where
/// older versions are ignored. A room not held here is read from PostgreSQL (peers and
/// version in one statement) on first use.
///
/// What relies on it: the sender's instance refuses frames between non-members from this
/// copy (and reads the database again before refusing, so a missed join never blocks a
/// call), and the instance holding the recipient delivers only while the recipient's own
/// session is in the room and, when it holds the room, while its copy still lists the sender. A
/// device leaves a room through the instance that holds its session (ROOM_LEAVE, the end of
/// its resume grace, a new session of it there), which updates its copy before anything
/// else, so a removed peer receives no relay from the moment it is removed, whatever the
/// other instances' copies say and even if a bus event is lost; or by another instance's
/// sweep when its own stopped heartbeating, after which the copies the update reached drop
/// its frames.
final class RoomMembership: Sendable {
    struct Entry: Sendable {
        var version: Int64
        /// nil: the room is at least at `version` but its peers are not known here.
        var peers: [RoomPeer]?
    }

    private struct State {
        var rooms: [UUID: Entry] = [:]
        /// Incremented when the copy is emptied: a read started before must not be stored.
        var epoch = 0
    }

    private let state = Mutex(State())
    /// Rooms held at most; beyond it the copy starts over (reads refill it).
    let capacity: Int

    init(capacity: Int = 20_000) {
        self.capacity = capacity
    }

    /// The room's peers, if known.
    func peers(of room: UUID) -> [RoomPeer]? {
        state.withLock { $0.rooms[room]?.peers }
    }

    var epoch: Int { state.withLock { $0.epoch } }

    var count: Int { state.withLock { $0.rooms.count } }

    /// Records the room as of `version` unless a newer state is known (or, for a database
    /// read, the copy was emptied since `epoch`).
    func apply(_ update: RoomUpdate, readAt epoch: Int? = nil) {
        state.withLock { state in
            if let epoch, epoch != state.epoch { return }
            if let current = state.rooms[update.room] {
                let newer = update.version > current.version
                let fills = update.version == current.version && current.peers == nil && update.peers != nil
                guard newer || fills else { return }
            } else if state.rooms.count >= capacity {
                state.rooms.removeAll(keepingCapacity: true)
                state.epoch += 1
            }
            state.rooms[update.room] = Entry(version: update.version, peers: update.peers)
        }
    }
}
