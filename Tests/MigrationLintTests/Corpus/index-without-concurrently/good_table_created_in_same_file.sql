CREATE TABLE internal.jobs (id bigint PRIMARY KEY, run_at timestamptz NOT NULL);
CREATE INDEX jobs_run_at_idx ON internal.jobs (run_at);
CREATE INDEX ON internal.jobs (id, run_at);
