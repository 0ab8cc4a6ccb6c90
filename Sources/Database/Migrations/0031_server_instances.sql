-- The running server processes on this database, so that processes which cannot hear each
-- other are refused instead of silently splitting (docs/configuration.md, "Several instances").
--
-- Each process registers at start, refreshes `heartbeat_at` every few seconds and deletes its
-- row on a graceful stop; a row whose heartbeat is older than the registry's TTL belongs to a
-- process that died. Only the server (the owning role) reads and writes it: request roles get
-- no privileges, and row-level security is on so a future grant cannot leak rows.

CREATE SCHEMA cluster;

CREATE TABLE cluster.instances (
    id uuid PRIMARY KEY,
    host_name text NOT NULL CHECK (char_length(host_name) BETWEEN 1 AND 255),
    process_id integer NOT NULL CHECK (process_id > 0),
    -- How the process fans out events: 'inprocess', 'postgres' or 'redis'.
    bus text NOT NULL CHECK (bus IN ('inprocess', 'postgres', 'redis')),
    -- Where the bus meets the others (the Redis host:port/db; '' for the others), never credentials.
    bus_target text NOT NULL DEFAULT '' CHECK (char_length(bus_target) <= 300),
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instances_heartbeat_idx ON cluster.instances (heartbeat_at);
ALTER TABLE cluster.instances ENABLE ROW LEVEL SECURITY;
