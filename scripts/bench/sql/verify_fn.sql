-- Raw PostgreSQL cost of POST /auth/v1/verify as the server runs it since migration 0009:
-- one statement, auth.sign_in_with_code (code check and consumption, then the session and
-- its first refresh token), for a test number whose user exists (the fixed code matched),
-- run with -M extended like PostgresNIO's unnamed statements. The server passes a token id
-- it reserved ahead (one nextval statement per 64 tokens) and the SHA-256 of the token;
-- here nextval runs inside the statement and the hash is a random unique string.
-- Variables from scripts/bench/auth_bench.py: clients, per, phonebase, ua, addr, attempts.
-- Client c uses numbers phonebase + c + clients*j, the same split the HTTP workers use.
\set k :client_id + :clients * random(0, :per - 1)
\set phone :phonebase + :k
SELECT r.outcome, (r.account).id, (r.account).phone, (r.account).identity_id, (r.account).phone_confirmed_at,
    (r.account).confirmation_sent_at, (r.account).last_sign_in_at, (r.account).new_phone, (r.account).phone_change_sent_at,
    (r.account).user_metadata::text, (r.account).app_metadata::text, (r.account).banned_until, (r.account).created_at,
    (r.account).updated_at, r.signed_in_session, r.amr_at
FROM auth.sign_in_with_code(:phone::text, 'pgbench-presented', true, :attempts, :ua, :addr,
    nextval(pg_get_serial_sequence('auth.refresh_tokens', 'id')), 'pgbench-v-' || gen_random_uuid()::text) r;
