-- Reels arbiter (issue 15): the control plane that suppresses the personalised feed while the
-- reels pipeline is unhealthy (docs/reels.md, "Arbiter"). The arbiter service (role
-- `arbiter`) evaluates once per interval, journals every decision and keeps one state row.
--
--   reels.arbiter_state    exactly one row (id = 1), seeded clear. `suppressed` is what the
--                          feed reads on every request (through reels.feed_suppressed());
--                          `since` is when `suppressed` last changed, `green_since` the start
--                          of the current green streak while suppressed (null otherwise).
--   reels.arbiter_journal  one row per evaluation window: the decision, the inputs it was
--                          made from and when. `idempotency_key` is UNIQUE, so a retry or a
--                          second arbiter in the same window never journals twice.
--
-- No client role reads or writes either table; the service writes them as the owner.
-- service_role reads them (and get_reels_arbiter_state()) for operators.

CREATE TABLE reels.arbiter_state (
    id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    suppressed boolean NOT NULL DEFAULT false,
    since timestamptz NOT NULL DEFAULT now(),
    green_since timestamptz,
    -- The last evaluation (also the guard of the arbiter's UPDATE).
    updated_at timestamptz NOT NULL DEFAULT now(),
    reason text NOT NULL DEFAULT '' CHECK (char_length(reason) <= 500),
    -- The journal row of the last evaluation.
    last_key text CHECK (char_length(last_key) <= 200)
);
ALTER TABLE reels.arbiter_state ENABLE ROW LEVEL SECURITY;
INSERT INTO reels.arbiter_state (id, suppressed, reason) VALUES (1, false, 'initial state');

CREATE TABLE reels.arbiter_journal (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE CHECK (char_length(idempotency_key) BETWEEN 1 AND 200),
    decision text NOT NULL CHECK (decision IN ('suppress', 'clear', 'keep_suppressed', 'keep_clear')),
    suppressed boolean NOT NULL,
    inputs jsonb NOT NULL,
    reason text NOT NULL DEFAULT '' CHECK (char_length(reason) <= 500),
    -- The arbiter instance that journaled it (host:pid).
    instance text NOT NULL DEFAULT '' CHECK (char_length(instance) <= 200),
    decided_at timestamptz NOT NULL
);
CREATE INDEX arbiter_journal_decided_idx ON reels.arbiter_journal (decided_at DESC);
ALTER TABLE reels.arbiter_journal ENABLE ROW LEVEL SECURITY;

GRANT SELECT ON reels.arbiter_state, reels.arbiter_journal TO service_role;
DROP POLICY IF EXISTS arbiter_state_service ON reels.arbiter_state;
CREATE POLICY arbiter_state_service ON reels.arbiter_state FOR SELECT TO service_role USING (true);
DROP POLICY IF EXISTS arbiter_journal_service ON reels.arbiter_journal;
CREATE POLICY arbiter_journal_service ON reels.arbiter_journal FOR SELECT TO service_role USING (true);

-- Whether the personalised feed is suppressed right now (the feed's seam: any role that may
-- ask for a feed calls this; it reveals one boolean and nothing else).
CREATE FUNCTION reels.feed_suppressed() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT COALESCE((SELECT s.suppressed FROM reels.arbiter_state s WHERE s.id = 1), false) $$;
REVOKE ALL ON FUNCTION reels.feed_suppressed() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reels.feed_suppressed() TO authenticated, service_role;

-- The arbiter's state and its last decisions, for operators (the RPC get_reels_arbiter_state,
-- service_role only): {"suppressed","since","green_since","updated_at","reason","recent":[…]}.
CREATE FUNCTION reels.arbiter_snapshot() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT jsonb_build_object(
        'suppressed', s.suppressed, 'since', s.since, 'green_since', s.green_since,
        'updated_at', s.updated_at, 'reason', s.reason,
        'recent', COALESCE((SELECT jsonb_agg(jsonb_build_object(
                                'decision', j.decision, 'suppressed', j.suppressed, 'inputs', j.inputs,
                                'reason', j.reason, 'decided_at', j.decided_at) ORDER BY j.decided_at DESC, j.id DESC)
                            FROM (SELECT * FROM reels.arbiter_journal ORDER BY decided_at DESC, id DESC LIMIT 20) j), '[]'::jsonb))
    FROM reels.arbiter_state s WHERE s.id = 1
$$;
REVOKE ALL ON FUNCTION reels.arbiter_snapshot() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reels.arbiter_snapshot() TO service_role;
