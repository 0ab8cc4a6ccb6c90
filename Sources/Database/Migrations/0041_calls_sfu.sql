-- Calls: group calls through Janus VideoRoom nodes (docs/sfu.md; spec sfu-janus.md §4.1).
--
-- The nodes calls-ws may place rooms on, where each sfu room is placed (its Janus room id and
-- epoch) and each device's Janus participant, owned by the calls-ws instance holding the
-- device's socket. Only the calls service reads and writes these tables (as the owning role);
-- request roles get no privileges, and row-level security is on with no policy for them, so a
-- future grant cannot leak rows. Room secrets and participant tokens are derived, never stored.

-- An sfu room's video codec, chosen at ROOM_CREATE (`sfu:{videoCodec}`): VP8, or H.264 with
-- VP8 for the publishers that cannot send it (spec §5).
ALTER TABLE calls.rooms ADD COLUMN video_codec text NOT NULL DEFAULT 'vp8' CHECK (video_codec IN ('vp8', 'h264'));

CREATE TABLE calls.sfu_nodes (
    node_id text PRIMARY KEY CHECK (char_length(node_id) BETWEEN 1 AND 64),
    api_url text NOT NULL,
    state text NOT NULL CHECK (state IN ('up', 'draining', 'down')),
    -- Forwarded video streams the node may carry; load_streams estimates those it carries.
    capacity_streams integer NOT NULL CHECK (capacity_streams > 0),
    load_streams integer NOT NULL DEFAULT 0,
    last_ok_at timestamptz,
    down_since timestamptz
);
ALTER TABLE calls.sfu_nodes ENABLE ROW LEVEL SECURITY;

CREATE TABLE calls.sfu_rooms (
    room_id uuid PRIMARY KEY REFERENCES calls.rooms (id) ON DELETE CASCADE,
    node_id text NOT NULL REFERENCES calls.sfu_nodes (node_id),
    janus_room_id bigint NOT NULL CHECK (janus_room_id BETWEEN 1 AND 9007199254740991),
    epoch integer NOT NULL CHECK (epoch >= 1),
    state text NOT NULL CHECK (state IN ('creating', 'ready', 'recovering', 'closing')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (node_id, janus_room_id)
);
ALTER TABLE calls.sfu_rooms ENABLE ROW LEVEL SECURITY;

CREATE TABLE calls.sfu_participants (
    room_id uuid NOT NULL REFERENCES calls.sfu_rooms (room_id) ON DELETE CASCADE,
    device_id text NOT NULL,
    user_id uuid NOT NULL,
    epoch integer NOT NULL,
    instance_id text NOT NULL,
    janus_session_id bigint,
    pub_handle_id bigint,
    sub_handle_id bigint,
    janus_feed_id bigint,
    private_id bigint,
    feed_id uuid NOT NULL,
    publishing boolean NOT NULL DEFAULT false,
    -- Video m-lines published (for the node's load estimate).
    video_streams integer NOT NULL DEFAULT 0,
    muted_audio boolean NOT NULL DEFAULT false,
    muted_video boolean NOT NULL DEFAULT false,
    PRIMARY KEY (room_id, device_id)
);
CREATE INDEX sfu_participants_instance_idx ON calls.sfu_participants (instance_id);
ALTER TABLE calls.sfu_participants ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON calls.sfu_nodes, calls.sfu_rooms, calls.sfu_participants FROM PUBLIC;
