-- Raw PostgreSQL cost of POST /auth/v1/token?grant_type=refresh_token as the server runs it
-- since migration 0009: one statement, auth.refresh_session, with the active token of a
-- session, run with -M extended like PostgresNIO's unnamed statements. The server passes a
-- child token id it reserved ahead (one nextval statement per 64 tokens); here nextval runs
-- inside the statement.
-- Each pgbench client walks its own chain, as each HTTP worker does: the chain of client c
-- starts at the token 'pgbench-<c>-0' (created by auth_bench.py before the run) and every
-- refresh inserts 'pgbench-<c>-<gen+1>'. Variables: gen (starts at 0), reuse (seconds).
-- auth_bench.py checks afterwards that every transaction issued a token (outcome issued).
SELECT r.outcome, (r.account).id, (r.account).phone, (r.account).identity_id, (r.account).phone_confirmed_at,
    (r.account).confirmation_sent_at, (r.account).last_sign_in_at, (r.account).new_phone, (r.account).phone_change_sent_at,
    (r.account).user_metadata::text, (r.account).app_metadata::text, (r.account).banned_until, (r.account).created_at,
    (r.account).updated_at, r.signed_in_session, r.amr_at, r.token
FROM auth.refresh_session('pgbench-' || :client_id::text || '-' || :gen::text, :reuse,
    nextval(pg_get_serial_sequence('auth.refresh_tokens', 'id')), 'pgbench-' || :client_id::text || '-' || (:gen + 1)::text) r;
\set gen :gen + 1
