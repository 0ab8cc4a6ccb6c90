-- Calls: a room join in one database call (issue 12). What CallsStore.join did in four round
-- trips (BEGIN; the room's row locked; one statement reading the other peers, inserting the
-- device unless the room is full and bumping the version; COMMIT) as one function the server
-- calls outside an explicit transaction: one round trip. The rules are the ones the server
-- applied before, statement for statement (docs/calls.md, Rooms).
--
-- Only the server's own role runs it: the calls schema has no grants, and EXECUTE is revoked
-- from PUBLIC. It is not SECURITY DEFINER. The server checks the join token beforehand.

-- Adds `join_device` of `join_user` (joined through instance `join_instance`) to room
-- `join_room_id`; a rejoin of the same device replaces its row (a new joined_at) and does not
-- count twice.
--
--   outcome            'ok', 'not_found' (no such room), 'closed' (the room has closed) or
--                      'full' (max_peers other devices are in it); nothing is written unless
--                      'ok'
--   room_call_id, room_mode, room_max_peers
--                      the room (NULL when not_found)
--   peer_joined_ms     the device's joined_at in milliseconds since the epoch ('ok' only)
--   room_version       the room's version after the join ('ok' only)
--   other_user_ids, other_device_ids, other_joined_ms
--                      the other peers in the order of the room (joined_at, device_id), read
--                      under the room's lock ('ok' and 'full')
--
-- Every membership change (join, leave, the sweep) takes the room's row lock first, so each
-- version names exactly one peer list (RoomMembership relies on it). Each statement below
-- sees the rows committed before it started (READ COMMITTED), so the peers are read after
-- the lock is held: concurrent joins to one room queue on the lock and at most max_peers
-- devices get in.
--
-- The join commits like every other write (the WAL is flushed before ROOM_JOIN_OK): an
-- acknowledged join survives a database crash, and with it the room's version, which the
-- instances' in-memory copies rely on never going backwards.
CREATE FUNCTION calls.join_room(
    join_room_id uuid, join_device text, join_user uuid, join_instance text,
    OUT outcome text, OUT room_call_id uuid, OUT room_mode text, OUT room_max_peers integer,
    OUT peer_joined_ms bigint, OUT room_version bigint,
    OUT other_user_ids uuid[], OUT other_device_ids text[], OUT other_joined_ms bigint[]
)
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    is_closed boolean;
BEGIN
    SELECT r.call_id, r.mode, r.max_peers, r.closed_at IS NOT NULL
    INTO room_call_id, room_mode, room_max_peers, is_closed
    FROM calls.rooms r WHERE r.id = join_room_id FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'not_found';
        RETURN;
    END IF;
    IF is_closed THEN
        outcome := 'closed';
        RETURN;
    END IF;

    SELECT coalesce(array_agg(p.user_id ORDER BY p.joined_at, p.device_id), '{}'),
           coalesce(array_agg(p.device_id ORDER BY p.joined_at, p.device_id), '{}'),
           coalesce(array_agg((extract(epoch FROM p.joined_at) * 1000)::bigint ORDER BY p.joined_at, p.device_id), '{}')
    INTO other_user_ids, other_device_ids, other_joined_ms
    FROM calls.room_peers p
    WHERE p.room_id = join_room_id AND p.device_id <> join_device;
    IF cardinality(other_device_ids) >= room_max_peers THEN
        outcome := 'full';
        RETURN;
    END IF;

    INSERT INTO calls.room_peers AS p (room_id, device_id, user_id, instance_id)
    VALUES (join_room_id, join_device, join_user, join_instance)
    ON CONFLICT (room_id, device_id) DO UPDATE
        SET user_id = EXCLUDED.user_id, instance_id = EXCLUDED.instance_id, joined_at = now()
    RETURNING (extract(epoch FROM p.joined_at) * 1000)::bigint INTO peer_joined_ms;

    UPDATE calls.rooms r SET version = r.version + 1, empty_since = NULL
    WHERE r.id = join_room_id
    RETURNING r.version INTO room_version;
    outcome := 'ok';
END
$$;
REVOKE ALL ON FUNCTION calls.join_room(uuid, text, uuid, text) FROM PUBLIC;
