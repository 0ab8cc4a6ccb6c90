import Database
import Foundation
import PostgresNIO

/// Where an sfu room lives: its node, its Janus room id and its epoch.
struct SfuPlacement: Sendable, Hashable {
    var roomId: UUID
    var nodeId: String
    var janusRoomId: Int64
    var epoch: Int
    var state: String
    /// Unchanged for longer than a placement takes (an instance died placing it).
    var stale = false
    /// The room's video codec: `vp8`, or `h264` (with VP8 beside it).
    var videoCodec = "vp8"
}

/// One device's Janus participant as recorded for every instance.
struct SfuParticipantRow: Sendable {
    var roomId: UUID
    var deviceId: String
    var userId: UUID
    var epoch: Int
    var feedId: UUID
    var janusFeedId: Int64
    var sessionId: Int64
    var publisherHandle: Int64
    var privateId: Int64
}

/// A participant's row as an instance taking it over reads it (spec §3.4 "Resume elsewhere").
struct SfuHeldParticipant: Sendable {
    var row: SfuParticipantRow
    /// The instance holding it now.
    var instanceId: String
    var subscriberHandle: Int64?
    var publishing: Bool
    var streams: [SfuStream]
    /// The subscriber PeerConnection's state as JSON text (``SfuDevice`` writes and reads it).
    var subscription: String?
}

/// The mute flags of a feed, as other devices' Streams show them.
struct SfuMuteState: Sendable, Equatable {
    var audio = false
    var video = false
}

/// The SFU tables of the `calls` schema (migration 0041): nodes with health and load,
/// rooms' placements and devices' participants. Works as the owning role.
struct SfuStore {
    let database: Database

    /// A random Janus id (1 … 2^53 − 1): calls-ws picks room and feed ids itself.
    static func randomJanusId() -> Int64 { Int64.random(in: 1...9_007_199_254_740_991) }

    /// Registers the configured nodes (new ones `up`; a known node keeps its state).
    func register(_ nodes: [SfuSettings.Node], capacity: Int) async throws {
        try await database.withOwner { connection in
            for node in nodes {
                try await connection.execute("""
                    INSERT INTO calls.sfu_nodes (node_id, api_url, state, capacity_streams) VALUES ($1, $2, 'up', $3)
                    ON CONFLICT (node_id) DO UPDATE SET api_url = EXCLUDED.api_url, capacity_streams = EXCLUDED.capacity_streams
                    """, [node.id, node.url, capacity])
            }
        }
    }

    /// A good probe: the node is `up` again once it has answered for `recovery` since its last failure.
    func nodeAnswered(_ nodeId: String, recoverySeconds: Int) async throws {
        try await database.withOwner { connection in
            try await connection.execute("""
                UPDATE calls.sfu_nodes SET last_ok_at = now(),
                  state = CASE WHEN state = 'down' AND down_since <= now() - make_interval(secs => $2) THEN 'up' ELSE state END,
                  down_since = CASE WHEN state = 'down' AND down_since <= now() - make_interval(secs => $2) THEN NULL ELSE down_since END
                WHERE node_id = $1
                """, [nodeId, recoverySeconds])
        }
    }

    /// Marks the node `down` (again: a failing node's `down_since` moves with each failure).
    /// True when it was not down before.
    func nodeFailed(_ nodeId: String) async throws -> Bool {
        try await database.withOwner { connection in
            let was = try await connection.scalarText("""
                UPDATE calls.sfu_nodes n SET state = 'down', down_since = now()
                FROM (SELECT state FROM calls.sfu_nodes WHERE node_id = $1 FOR UPDATE) previous
                WHERE n.node_id = $1 RETURNING previous.state
                """, [nodeId])
            return was != nil && was != "down"
        }
    }

    func nodeState(_ nodeId: String) async throws -> String? {
        try await database.withOwner { connection in
            try await connection.scalarText("SELECT state FROM calls.sfu_nodes WHERE node_id = $1", [nodeId])
        }
    }

    /// The room's placement, if it has one.
    func placement(of roomId: UUID) async throws -> SfuPlacement? {
        try await database.withOwner { connection in
            let rows = try await connection.rows("""
                SELECT s.node_id, s.janus_room_id, s.epoch, s.state, s.updated_at < now() - interval '10 seconds', r.video_codec
                FROM calls.sfu_rooms s JOIN calls.rooms r ON r.id = s.room_id WHERE s.room_id = $1
                """, [roomId])
            for try await (node, janus, epoch, state, stale, codec) in rows.decode((String, Int64, Int, String, Bool, String).self) {
                return SfuPlacement(roomId: roomId, nodeId: node, janusRoomId: janus, epoch: epoch, state: state, stale: stale, videoCodec: codec)
            }
            return nil
        }
    }

    /// Claims the room's placement on the least-loaded `up` node with room to spare (its row
    /// locked, not skipped: concurrent placements wait for each other instead of finding no
    /// node), as
    /// `creating` (epoch 1, or `replacing`'s epoch + 1 when the room moves off a failed node).
    /// Nil when another instance holds the placement (read it again) or no node is usable
    /// (`noNode` true).
    func claimPlacement(of roomId: UUID, replacing previous: SfuPlacement?) async throws -> (SfuPlacement?, noNode: Bool) {
        try await database.withOwner { connection in
            var node: String?
            let rows = try await connection.rows("""
                SELECT node_id FROM calls.sfu_nodes WHERE state = 'up' AND load_streams < capacity_streams
                ORDER BY load_streams::float / capacity_streams, node_id LIMIT 1 FOR UPDATE
                """, [])
            for try await id in rows.decode(String.self) { node = id }
            guard let node else { return (nil, true) }
            let janusRoomId = Self.randomJanusId()
            let placed: Bool
            if let previous {
                placed = try await connection.exists("""
                    UPDATE calls.sfu_rooms SET node_id = $2, janus_room_id = $3, epoch = epoch + 1, state = 'creating', updated_at = now()
                    WHERE room_id = $1 AND epoch = $4 AND state = 'recovering' RETURNING 1
                    """, [roomId, node, janusRoomId, previous.epoch])
            } else {
                placed = try await connection.exists("""
                    INSERT INTO calls.sfu_rooms (room_id, node_id, janus_room_id, epoch, state) VALUES ($1, $2, $3, 1, 'creating')
                    ON CONFLICT (room_id) DO NOTHING RETURNING 1
                    """, [roomId, node, janusRoomId])
            }
            guard placed else { return (nil, false) }
            // Four streams reserved until the room's members publish (§4.2); the node it left carries it no more.
            try await connection.execute("UPDATE calls.sfu_nodes SET load_streams = load_streams + 4 WHERE node_id = $1", [node])
            if let previous { try await Self.recomputeLoad(of: previous.nodeId, on: connection) }
            let epoch = (previous?.epoch ?? 0) + 1
            let codec = try await connection.scalarText("SELECT video_codec FROM calls.rooms WHERE id = $1", [roomId]) ?? "vp8"
            return (SfuPlacement(roomId: roomId, nodeId: node, janusRoomId: janusRoomId, epoch: epoch, state: "creating", videoCodec: codec), false)
        }
    }

    func markReady(_ placement: SfuPlacement) async throws {
        try await database.withOwner { connection in
            try await connection.execute(
                "UPDATE calls.sfu_rooms SET state = 'ready', updated_at = now() WHERE room_id = $1 AND epoch = $2",
                [placement.roomId, placement.epoch])
        }
    }

    /// Forgets a placement whose Janus room could not be made (so the next join tries again).
    func dropPlacement(_ placement: SfuPlacement) async throws {
        try await database.withOwner { connection in
            try await connection.execute(
                "DELETE FROM calls.sfu_rooms WHERE room_id = $1 AND epoch = $2", [placement.roomId, placement.epoch])
            try await Self.recomputeLoad(of: placement.nodeId, on: connection)
        }
    }

    /// Takes the room for recovery (one instance wins): true when this caller moved it to `recovering`.
    func beginRecovery(_ placement: SfuPlacement) async throws -> Bool {
        try await database.withOwner { connection in
            try await connection.exists("""
                UPDATE calls.sfu_rooms SET state = 'recovering', updated_at = now()
                WHERE room_id = $1 AND epoch = $2 AND state <> 'recovering' RETURNING 1
                """, [placement.roomId, placement.epoch])
        }
    }

    /// The rooms placed on a node.
    func rooms(on nodeId: String) async throws -> [SfuPlacement] {
        try await database.withOwner { connection in
            var placements: [SfuPlacement] = []
            let rows = try await connection.rows(
                "SELECT room_id, janus_room_id, epoch, state FROM calls.sfu_rooms WHERE node_id = $1", [nodeId])
            for try await (room, janus, epoch, state) in rows.decode((UUID, Int64, Int, String).self) {
                placements.append(SfuPlacement(roomId: room, nodeId: nodeId, janusRoomId: janus, epoch: epoch, state: state))
            }
            return placements
        }
    }

    /// Removes the room's placement once its last member is gone; the Janus room to destroy, if any.
    func closeIfEmpty(_ roomId: UUID) async throws -> SfuPlacement? {
        try await database.withOwner { connection in
            guard try await !connection.exists("SELECT 1 FROM calls.sfu_participants WHERE room_id = $1", [roomId]) else { return nil }
            let rows = try await connection.rows(
                "DELETE FROM calls.sfu_rooms WHERE room_id = $1 RETURNING node_id, janus_room_id, epoch, state", [roomId])
            for try await (node, janus, epoch, state) in rows.decode((String, Int64, Int, String).self) {
                try await Self.recomputeLoad(of: node, on: connection)
                return SfuPlacement(roomId: roomId, nodeId: node, janusRoomId: janus, epoch: epoch, state: state)
            }
            return nil
        }
    }

    // MARK: Participants

    func saveParticipant(_ row: SfuParticipantRow, instance: String) async throws {
        try await database.withOwner { connection in
            try await connection.execute("""
                INSERT INTO calls.sfu_participants (room_id, device_id, user_id, epoch, instance_id, janus_session_id, pub_handle_id,
                  janus_feed_id, private_id, feed_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                ON CONFLICT (room_id, device_id) DO UPDATE SET epoch = EXCLUDED.epoch, instance_id = EXCLUDED.instance_id,
                  janus_session_id = EXCLUDED.janus_session_id, pub_handle_id = EXCLUDED.pub_handle_id, sub_handle_id = NULL,
                  janus_feed_id = EXCLUDED.janus_feed_id, private_id = EXCLUDED.private_id, feed_id = EXCLUDED.feed_id,
                  publishing = false, video_streams = 0, streams = '[]', subscription = NULL
                """, [row.roomId, row.deviceId, row.userId, row.epoch, instance, row.sessionId, row.publisherHandle,
                      row.janusFeedId, row.privateId, row.feedId])
        }
    }

    /// Records the subscriber handle (nil: gone, with its subscription state).
    func setSubscriberHandle(room: UUID, device: String, handle: Int64?) async throws {
        try await database.withOwner { connection in
            try await connection.execute("""
                UPDATE calls.sfu_participants SET sub_handle_id = $3, subscription = CASE WHEN $3::bigint IS NULL THEN NULL ELSE subscription END
                WHERE room_id = $1 AND device_id = $2
                """, [room, device, handle])
        }
    }

    /// Records publishing (the streams published, nil when not publishing) and the node's new
    /// load estimate.
    func setPublishing(room: UUID, device: String, streams: [SfuStream]?, node: String) async throws {
        let text = String(decoding: try JSONEncoder().encode(streams ?? []), as: UTF8.self)
        let video = streams?.filter { $0.kind == "video" }.count ?? 0
        try await database.withOwner { connection in
            try await connection.execute("""
                UPDATE calls.sfu_participants SET publishing = $3, video_streams = $4, streams = $5::jsonb
                WHERE room_id = $1 AND device_id = $2
                """, [room, device, streams != nil, video, text])
            try await Self.recomputeLoad(of: node, on: connection)
        }
    }

    /// Records the subscriber PeerConnection's state (JSON text; nil with the handle gone).
    func setSubscription(room: UUID, device: String, _ state: String?) async throws {
        try await database.withOwner { connection in
            try await connection.execute(
                "UPDATE calls.sfu_participants SET subscription = $3::jsonb WHERE room_id = $1 AND device_id = $2", [room, device, state])
        }
    }

    // MARK: Taking a participant over (§3.4 "Resume elsewhere")

    /// The device's participant in the room, whichever instance holds it.
    func heldParticipant(room: UUID, device: String) async throws -> SfuHeldParticipant? {
        try await database.withOwner { connection in
            let rows = try await connection.rows("""
                SELECT user_id, epoch, feed_id, janus_feed_id, janus_session_id, pub_handle_id, private_id, instance_id, sub_handle_id,
                  publishing, streams::text, subscription::text
                FROM calls.sfu_participants WHERE room_id = $1 AND device_id = $2
                  AND janus_feed_id IS NOT NULL AND janus_session_id IS NOT NULL AND pub_handle_id IS NOT NULL AND private_id IS NOT NULL
                """, [room, device])
            for try await (user, epoch, feed, janusFeed, session, publisher, privateId, instance, subscriber, publishing, streams, subscription)
                in rows.decode((UUID, Int, UUID, Int64, Int64, Int64, Int64, String, Int64?, Bool, String, String?).self)
            {
                return SfuHeldParticipant(
                    row: SfuParticipantRow(
                        roomId: room, deviceId: device, userId: user, epoch: epoch, feedId: feed, janusFeedId: janusFeed, sessionId: session,
                        publisherHandle: publisher, privateId: privateId),
                    instanceId: instance, subscriberHandle: subscriber, publishing: publishing,
                    streams: (try? JSONDecoder().decode([SfuStream].self, from: Data(streams.utf8))) ?? [], subscription: subscription)
            }
            return nil
        }
    }

    /// Compare-and-set of the participant's instance: true when `instance` now holds it.
    func takeOver(room: UUID, device: String, from previous: String, to instance: String) async throws -> Bool {
        try await database.withOwner { connection in
            try await connection.exists(
                "UPDATE calls.sfu_participants SET instance_id = $4 WHERE room_id = $1 AND device_id = $2 AND instance_id = $3 RETURNING 1",
                [room, device, previous, instance])
        }
    }

    /// The instance holding the device's participant (nil: no participant; with `session`,
    /// none of that Janus session).
    func holder(room: UUID, device: String, session: Int64? = nil) async throws -> String? {
        try await database.withOwner { connection in
            try await connection.scalarText("""
                SELECT instance_id FROM calls.sfu_participants
                WHERE room_id = $1 AND device_id = $2 AND ($3::bigint IS NULL OR janus_session_id = $3)
                """, [room, device, session])
        }
    }

    /// The feeds the room's other participants publish at `epoch`, from their rows.
    func publishedFeeds(room: UUID, epoch: Int, except device: String) async throws -> [SfuFeed] {
        try await database.withOwner { connection in
            var feeds: [SfuFeed] = []
            let rows = try await connection.rows("""
                SELECT janus_feed_id, feed_id, user_id, device_id, streams::text FROM calls.sfu_participants
                WHERE room_id = $1 AND epoch = $2 AND device_id <> $3 AND publishing AND janus_feed_id IS NOT NULL
                """, [room, epoch, device])
            for try await (janusFeed, feed, user, deviceId, streams) in rows.decode((Int64, UUID, UUID, String, String).self) {
                let published = (try? JSONDecoder().decode([SfuStream].self, from: Data(streams.utf8))) ?? []
                feeds.append(SfuFeed(janusId: janusFeed, feedId: feed, userId: user.uuidString.lowercased(), deviceId: deviceId, streams: published))
            }
            return feeds
        }
    }

    func setMuted(room: UUID, device: String, audio: Bool?, video: Bool?) async throws -> SfuMuteState {
        try await database.withOwner { connection in
            let rows = try await connection.rows("""
                UPDATE calls.sfu_participants SET muted_audio = coalesce($3, muted_audio), muted_video = coalesce($4, muted_video)
                WHERE room_id = $1 AND device_id = $2 RETURNING muted_audio, muted_video
                """, [room, device, audio, video])
            for try await (audio, video) in rows.decode((Bool, Bool).self) { return SfuMuteState(audio: audio, video: video) }
            return SfuMuteState()
        }
    }

    /// The mute flags of the room's feeds, by feed id.
    func muteStates(room: UUID) async throws -> [UUID: SfuMuteState] {
        try await database.withOwner { connection in
            var states: [UUID: SfuMuteState] = [:]
            let rows = try await connection.rows(
                "SELECT feed_id, muted_audio, muted_video FROM calls.sfu_participants WHERE room_id = $1", [room])
            for try await (feed, audio, video) in rows.decode((UUID, Bool, Bool).self) { states[feed] = SfuMuteState(audio: audio, video: video) }
            return states
        }
    }

    /// The device's saved mute flags (they survive unpublish and re-creation).
    func muteState(room: UUID, device: String) async throws -> SfuMuteState {
        try await database.withOwner { connection in
            let rows = try await connection.rows(
                "SELECT muted_audio, muted_video FROM calls.sfu_participants WHERE room_id = $1 AND device_id = $2", [room, device])
            for try await (audio, video) in rows.decode((Bool, Bool).self) { return SfuMuteState(audio: audio, video: video) }
            return SfuMuteState()
        }
    }

    /// Removes the device's participant (when `holder` is given, only the row of that Janus
    /// session while that instance holds it); the load of the room's node follows. True when a
    /// row went.
    @discardableResult
    func deleteParticipant(room: UUID, device: String, heldBy holder: (instance: String, session: Int64)? = nil) async throws -> Bool {
        try await database.withOwner { connection in
            let deleted = try await connection.exists("""
                DELETE FROM calls.sfu_participants WHERE room_id = $1 AND device_id = $2
                  AND ($3::text IS NULL OR (instance_id = $3 AND janus_session_id = $4)) RETURNING 1
                """, [room, device, holder?.instance, holder?.session])
            if deleted, let node = try await connection.scalarText("SELECT node_id FROM calls.sfu_rooms WHERE room_id = $1", [room]) {
                try await Self.recomputeLoad(of: node, on: connection)
            }
            return deleted
        }
    }

    /// `load_streams` = Σ video streams published × (members − 1) over the node's rooms, plus
    /// four reserved for each room still without a publisher.
    private static func recomputeLoad(of node: String, on connection: PostgresConnection) async throws {
        try await connection.execute("""
            UPDATE calls.sfu_nodes SET load_streams = coalesce((
              SELECT sum(CASE WHEN p.published = 0 THEN 4 ELSE p.published * greatest(p.members - 1, 0) END)
              FROM (SELECT r.room_id, count(sp.device_id) AS members, coalesce(sum(sp.video_streams), 0) AS published
                    FROM calls.sfu_rooms r LEFT JOIN calls.sfu_participants sp ON sp.room_id = r.room_id
                    WHERE r.node_id = $1 GROUP BY r.room_id) p), 0)
            WHERE node_id = $1
            """, [node])
    }
}
