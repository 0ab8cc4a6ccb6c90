-- Raw PostgreSQL cost of POST /auth/v1/verify for a test number whose user exists, as the
-- server did it before migration 0009 (up to commit d18662b): the statements of
-- OTPService.verify (fixed-code path) and then SessionService.signIn, as two transactions,
-- in the order and shape the server sent them (run with -M extended, like PostgresNIO's
-- unnamed statements). This is the issue's "same statements in pgbench" baseline: what the
-- sign-in work costs in raw PostgreSQL. The server now runs the same work as one call of
-- auth.sign_in_with_code (verify_fn.sql). Variables from scripts/bench/auth_bench.py:
--   clients, per (numbers per client), phonebase, purpose, ua, addr.
-- Client c uses numbers phonebase + c + clients*j, the same split the HTTP workers use.
\set k :client_id + :clients * random(0, :per - 1)
\set phone :phonebase + :k
BEGIN;
SELECT user_id, code_hash, attempts, expires_at > now(), pending_user_metadata::text FROM auth.one_time_codes WHERE phone = :phone AND purpose = :purpose FOR UPDATE;
SELECT id, phone, identity_id, phone_confirmed_at, confirmation_sent_at, last_sign_in_at, new_phone,
    phone_change_sent_at, user_metadata::text, app_metadata::text, banned_until, created_at, updated_at FROM auth.users WHERE phone = :phone FOR UPDATE \gset u_
DELETE FROM auth.one_time_codes WHERE phone = :phone AND purpose = :purpose;
UPDATE auth.users SET user_metadata = coalesce(NULL::jsonb, '{}'::jsonb), phone_confirmed_at = now(), updated_at = now()
    WHERE id = :u_id AND phone_confirmed_at IS NULL;
COMMIT;
BEGIN;
UPDATE auth.users SET phone_confirmed_at = coalesce(phone_confirmed_at, now()), last_sign_in_at = now(), updated_at = now() WHERE id = :u_id RETURNING id, phone, identity_id, phone_confirmed_at, confirmation_sent_at, last_sign_in_at, new_phone,
    phone_change_sent_at, user_metadata::text, app_metadata::text, banned_until, created_at, updated_at;
INSERT INTO auth.sessions (user_id, user_agent, client_address) VALUES (:u_id, :ua, :addr)
    RETURNING id AS s_id, extract(epoch FROM amr_at)::bigint AS s_amr \gset
SELECT nextval(pg_get_serial_sequence('auth.refresh_tokens', 'id')) AS t_id \gset
INSERT INTO auth.refresh_tokens (id, token_hash, session_id, user_id, parent_id)
    VALUES (:t_id, 'pgbench-v-' || :t_id::text, :s_id, :u_id, NULL);
COMMIT;
