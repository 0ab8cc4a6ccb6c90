-- Raw PostgreSQL cost of POST /auth/v1/token?grant_type=refresh_token with the active token
-- of a session, as the server did it before migration 0009 (commits 6e0baa2 to d18662b):
-- the statements of SessionService.refresh (not-revoked path), one transaction, run with
-- -M extended like PostgresNIO's unnamed statements. This is the issue's "same statements
-- in pgbench" baseline; the server now runs the same work as one call of
-- auth.refresh_session (refresh_fn.sql).
-- Each pgbench client walks its own chain, as each HTTP worker does: the chain of client c
-- starts at the token 'pgbench-<c>-0' (created by auth_bench.py before the run) and
-- every refresh inserts 'pgbench-<c>-<gen+1>'. Variables: gen (starts at 0).
-- The server looks tokens up by a SHA-256 hex computed in Swift; here the key is built
-- in SQL from the client id and generation (the same unique-index lookup).
BEGIN;
SELECT session_id AS sess_id FROM auth.refresh_tokens WHERE token_hash = 'pgbench-' || :client_id::text || '-' || :gen::text \gset
SELECT revoked_at IS NOT NULL AS sess_revoked, extract(epoch FROM amr_at)::bigint AS sess_amr FROM auth.sessions WHERE id = :sess_id FOR UPDATE \gset
SELECT id AS tok_id, user_id AS uid, revoked AS tok_revoked, extract(epoch FROM now() - updated_at)::float8 AS tok_age
    FROM auth.refresh_tokens WHERE token_hash = 'pgbench-' || :client_id::text || '-' || :gen::text \gset
SELECT id, phone, identity_id, phone_confirmed_at, confirmation_sent_at, last_sign_in_at, new_phone,
    phone_change_sent_at, user_metadata::text, app_metadata::text, banned_until, created_at, updated_at FROM auth.users WHERE id = :uid;
UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() WHERE id = :tok_id;
SELECT nextval(pg_get_serial_sequence('auth.refresh_tokens', 'id')) AS new_id \gset
\set gen :gen + 1
INSERT INTO auth.refresh_tokens (id, token_hash, session_id, user_id, parent_id)
    VALUES (:new_id, 'pgbench-' || :client_id::text || '-' || :gen::text, :sess_id, :uid, :tok_id);
UPDATE auth.sessions SET refreshed_at = now() WHERE id = :sess_id;
COMMIT;
