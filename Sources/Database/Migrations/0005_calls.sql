-- Calls: rooms, their peers, device presence and the cross-instance relay spill.
--
-- Only the calls service reads and writes these tables (as the owning role); request
-- roles get no privileges, and row-level security is on so a future grant cannot leak rows.
-- A device id is bound to the first user who authenticates with it.

CREATE SCHEMA calls;

-- Each running instance refreshes its row; devices and peers of an instance whose row
-- goes stale are treated as gone.
CREATE TABLE calls.instances (
    id text PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 64),
    seen_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE calls.instances ENABLE ROW LEVEL SECURITY;

CREATE TABLE calls.devices (
    device_id text PRIMARY KEY CHECK (char_length(device_id) BETWEEN 1 AND 128),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    -- The instance holding the device's session (during the resume grace too); NULL offline.
    instance_id text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_user_idx ON calls.devices (user_id) WHERE instance_id IS NOT NULL;
ALTER TABLE calls.devices ENABLE ROW LEVEL SECURITY;

CREATE TABLE calls.rooms (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    call_id uuid NOT NULL,
    mode text NOT NULL CHECK (mode IN ('p2p', 'sfu')),
    created_by uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    allowed_user_ids uuid[] NOT NULL,
    conversation_id uuid,
    max_peers integer NOT NULL CHECK (max_peers BETWEEN 2 AND 1000),
    version bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    token_expires_at timestamptz NOT NULL,
    -- Set when the last peer leaves; the room closes once it has been empty for the linger.
    empty_since timestamptz,
    closed_at timestamptz
);
CREATE INDEX rooms_open_idx ON calls.rooms (empty_since) WHERE closed_at IS NULL;
ALTER TABLE calls.rooms ENABLE ROW LEVEL SECURITY;

CREATE TABLE calls.room_peers (
    room_id uuid NOT NULL REFERENCES calls.rooms (id) ON DELETE CASCADE,
    device_id text NOT NULL,
    user_id uuid NOT NULL,
    instance_id text NOT NULL,
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, device_id)
);
CREATE INDEX room_peers_device_idx ON calls.room_peers (device_id);
ALTER TABLE calls.room_peers ENABLE ROW LEVEL SECURITY;

-- Frames too large for a NOTIFY payload travel by reference; rows live for minutes.
CREATE TABLE calls.relay_payloads (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    payload text NOT NULL CHECK (octet_length(payload) <= 1048576),
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE calls.relay_payloads ENABLE ROW LEVEL SECURITY;

-- The key that signs room join tokens, shared by every instance.
CREATE TABLE calls.secrets (
    name text PRIMARY KEY,
    value text NOT NULL CHECK (char_length(value) >= 32)
);
ALTER TABLE calls.secrets ENABLE ROW LEVEL SECURITY;
