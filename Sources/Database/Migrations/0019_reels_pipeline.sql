-- Reels pipeline (issue 15, docs/reels.md "Pipeline"): the transcoding job queue and the
-- moderation settings applied when a reel becomes ready.
--
--   reels.jobs                 one row per transcoding job; no client role reads or writes
--                              it (the worker runs as the owner). At most one live (queued or
--                              running) job per reel. A worker claims a due queued job, or a
--                              running one whose lease has expired, with FOR UPDATE SKIP
--                              LOCKED; it renews `lease_until` by heartbeats while it works.
--                              Failed attempts go back to `queued` with an exponential
--                              `run_after`; after `max_attempts` the job is `dead` with its
--                              reason. Every insert, and every return to `queued`, wakes the
--                              workers with NOTIFY reels_jobs (they also poll).
--   reels.moderation_settings  one row: `policy` auto|manual and the caption blocklist. At
--                              ready: auto approves unless a blocklist word is in the caption
--                              (then pending); manual leaves every reel pending. Operators
--                              change it with SQL; service_role reads it.

CREATE TABLE reels.jobs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reel_id uuid NOT NULL REFERENCES reels.reels (id) ON DELETE CASCADE,
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'dead')),
    -- Attempts started so far (a claim counts one, including the takeover of an expired lease).
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    run_after timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    heartbeat_at timestamptz,
    -- The worker holding the lease (host:pid:uuid), for operators.
    worker_id text CHECK (char_length(worker_id) <= 200),
    -- The attempt in progress or last made: outputs go under '<reel_id>/<attempt_id>/'.
    attempt_id uuid,
    last_error text CHECK (char_length(last_error) <= 2000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE UNIQUE INDEX jobs_one_live_per_reel ON reels.jobs (reel_id) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_due_idx ON reels.jobs (run_after) WHERE state = 'queued';
CREATE INDEX jobs_lease_idx ON reels.jobs (lease_until) WHERE state = 'running';
ALTER TABLE reels.jobs ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON reels.jobs TO service_role;
DROP POLICY IF EXISTS jobs_service ON reels.jobs;
CREATE POLICY jobs_service ON reels.jobs FOR SELECT TO service_role USING (true);

-- Wakes the workers (LISTEN reels_jobs) when a job becomes claimable now.
CREATE FUNCTION reels.notify_job() RETURNS trigger
LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
    IF NEW.state = 'queued' AND (TG_OP = 'INSERT' OR OLD.state IS DISTINCT FROM 'queued') THEN
        PERFORM pg_notify('reels_jobs', NEW.id::text);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION reels.notify_job() FROM PUBLIC;
CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OF state ON reels.jobs
    FOR EACH ROW EXECUTE FUNCTION reels.notify_job();

CREATE TABLE reels.moderation_settings (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    policy text NOT NULL DEFAULT 'auto' CHECK (policy IN ('auto', 'manual')),
    -- Lower-case words; a caption containing one (as a whole word, case-insensitively)
    -- goes to manual review.
    caption_blocklist text[] NOT NULL DEFAULT '{}' CHECK (cardinality(caption_blocklist) <= 10000),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO reels.moderation_settings (id) VALUES (true);
ALTER TABLE reels.moderation_settings ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON reels.moderation_settings TO service_role;
DROP POLICY IF EXISTS moderation_settings_service ON reels.moderation_settings;
CREATE POLICY moderation_settings_service ON reels.moderation_settings FOR SELECT TO service_role USING (true);
