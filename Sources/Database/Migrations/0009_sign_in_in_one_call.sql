-- Sign-in and refresh in one database call each (issue 12): what POST /auth/v1/verify did in
-- two transactions of four statements each (the code check of OTPService.verify, then
-- SessionService.signIn) and what a refresh did in one transaction of eight statements run
-- as one function call the server sends in one round trip. The rules are the ones the
-- server applied before, statement for statement (docs/api.md, refresh-token reuse rules).
--
-- Only the server's own role runs these functions: they work on the auth schema, which no
-- request role can read, and EXECUTE is revoked from PUBLIC. They are not SECURITY DEFINER.
-- The server computes everything secret beforehand (the keyed hash of the presented code,
-- the hash of the presented refresh token, the new token and its hash), so no key reaches
-- the database and no token in clear is stored.

-- Checks the code presented for `code_phone` and `code_purpose` ('sms' or 'phone_change')
-- and consumes it. Returns the user it signs in, or NULL when the code is wrong, expired,
-- out of attempts or missing (the caller answers otp_expired for all of them).
--
--   presented_hash      the server's keyed hash (HMAC) of phone, purpose and presented code
--   fixed_code_matched  the number is a configured test number and the presented code is its
--                       fixed code (compared by the server in constant time): accepted
--                       whenever the user exists, as in GoTrue, without looking at the code
--   max_attempts        wrong guesses a code allows
--
-- A wrong guess counts as an attempt; the function returns normally, so that count commits.
-- A void code (expired, out of attempts) is left in place: its sent_at keeps the resend
-- cooldown running until the next code replaces it. A sign-in code that confirms the number
-- for the first time sets user_metadata to the data sent with that code (or {}).
--
-- The stored and presented hashes are compared through SHA-256 digests of both: where a
-- byte comparison of the digests stops reveals nothing about either hash, so the comparison
-- gives no timing hint about the stored code (the server compared in constant time before).
CREATE FUNCTION auth.consume_code(
    code_phone text, code_purpose text, presented_hash text, fixed_code_matched boolean, max_attempts integer
) RETURNS uuid
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    pending auth.one_time_codes%ROWTYPE;
    has_code boolean;
    signing_in uuid;
    metadata jsonb;
BEGIN
    SELECT * INTO pending FROM auth.one_time_codes c
    WHERE c.phone = code_phone AND c.purpose = code_purpose FOR UPDATE;
    has_code := FOUND;

    IF fixed_code_matched THEN
        SELECT u.id INTO signing_in FROM auth.users u WHERE u.phone = code_phone FOR UPDATE;
        signing_in := coalesce(signing_in, pending.user_id);
        IF signing_in IS NULL THEN
            RETURN NULL;
        END IF;
        metadata := CASE WHEN pending.user_id = signing_in THEN pending.pending_user_metadata END;
    ELSIF NOT has_code OR pending.expires_at <= now() OR pending.attempts >= max_attempts THEN
        RETURN NULL;
    ELSIF sha256(convert_to(pending.code_hash, 'UTF8')) = sha256(convert_to(presented_hash, 'UTF8')) THEN
        signing_in := pending.user_id;
        metadata := pending.pending_user_metadata;
    ELSE
        UPDATE auth.one_time_codes c SET attempts = c.attempts + 1
        WHERE c.phone = code_phone AND c.purpose = code_purpose;
        RETURN NULL;
    END IF;

    DELETE FROM auth.one_time_codes c WHERE c.phone = code_phone AND c.purpose = code_purpose;
    IF code_purpose = 'sms' THEN
        UPDATE auth.users u
        SET user_metadata = coalesce(metadata, '{}'::jsonb), phone_confirmed_at = now(), updated_at = now()
        WHERE u.id = signing_in AND u.phone_confirmed_at IS NULL;
    END IF;
    RETURN signing_in;
END
$$;
REVOKE ALL ON FUNCTION auth.consume_code(text, text, text, boolean, integer) FROM PUBLIC;

-- Starts a session for a user who just proved possession of their phone: marks the number
-- confirmed and the sign-in time, inserts the session and its first refresh token (row id
-- `token_id` and SHA-256 `token_hash`, both from the server, which derives the token from
-- the id).
--
-- outcome: 'ok' (account is the updated user, signed_in_session and amr_at the new session's id and
-- authentication time in unix seconds), 'banned' (the user is banned: nothing is written),
-- 'not_found' (no such user).
CREATE FUNCTION auth.start_session(
    session_user_id uuid, agent text, address text, token_id bigint, token_hash text,
    OUT outcome text, OUT account auth.users, OUT signed_in_session uuid, OUT amr_at bigint
)
LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
    UPDATE auth.users u
    SET phone_confirmed_at = coalesce(u.phone_confirmed_at, now()), last_sign_in_at = now(), updated_at = now()
    WHERE u.id = session_user_id AND NOT coalesce(u.banned_until > now(), false)
    RETURNING u.* INTO account;
    IF NOT FOUND THEN
        outcome := CASE WHEN EXISTS (SELECT 1 FROM auth.users u WHERE u.id = session_user_id) THEN 'banned' ELSE 'not_found' END;
        account := NULL;
        RETURN;
    END IF;
    INSERT INTO auth.sessions AS s (user_id, user_agent, client_address) VALUES (session_user_id, agent, address)
    RETURNING s.id, extract(epoch FROM s.amr_at)::bigint INTO signed_in_session, amr_at;
    INSERT INTO auth.refresh_tokens (id, token_hash, session_id, user_id, parent_id)
    VALUES (token_id, token_hash, signed_in_session, session_user_id, NULL);
    outcome := 'ok';
END
$$;
REVOKE ALL ON FUNCTION auth.start_session(uuid, text, text, bigint, text) FROM PUBLIC;

-- POST /auth/v1/verify for a sign-in code: auth.consume_code, then auth.start_session, in
-- one transaction. outcome 'invalid' when the code is refused (its attempt count, if any,
-- commits); a banned user's code is consumed (and the number confirmed) but no session
-- starts, as when these were two transactions.
CREATE FUNCTION auth.sign_in_with_code(
    code_phone text, presented_hash text, fixed_code_matched boolean, max_attempts integer,
    agent text, address text, token_id bigint, token_hash text,
    OUT outcome text, OUT account auth.users, OUT signed_in_session uuid, OUT amr_at bigint
)
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    signing_in uuid;
    started record;
BEGIN
    signing_in := auth.consume_code(code_phone, 'sms', presented_hash, fixed_code_matched, max_attempts);
    IF signing_in IS NULL THEN
        outcome := 'invalid';
        RETURN;
    END IF;
    SELECT * INTO started FROM auth.start_session(signing_in, agent, address, token_id, token_hash);
    outcome := started.outcome;
    account := started.account;
    signed_in_session := started.signed_in_session;
    amr_at := started.amr_at;
END
$$;
REVOKE ALL ON FUNCTION auth.sign_in_with_code(text, text, boolean, integer, text, text, bigint, text) FROM PUBLIC;

-- POST /auth/v1/token?grant_type=refresh_token: exchanges the refresh token whose SHA-256 is
-- `presented_hash` (GoTrue's legacy rotation with reuse detection). Concurrent refreshes of
-- one session serialise on the session row; the token's state is read after that lock.
--
-- outcome:
--   'issued'    the token was active (or an older one reused within `reuse_interval_seconds`,
--               which revokes whatever is active): it is revoked and the child `child_id` /
--               `child_hash` (from the server) inserted; token = child_id
--   'active'    the token is the parent of the active one (a client that lost the response):
--               nothing is written; token = the active token's id, which the server turns
--               back into the token
--   'reused'    the session was revoked, or an old token was presented outside the reuse
--               interval: then every token of the session is revoked and the session with
--               them (this commits although the request fails)
--   'banned'    the user is banned (nothing written); 'not_found' no such token, session or user
-- account, signed_in_session and amr_at as for auth.start_session when the outcome is issued or active.
CREATE FUNCTION auth.refresh_session(
    presented_hash text, reuse_interval_seconds integer, child_id bigint, child_hash text,
    OUT outcome text, OUT account auth.users, OUT signed_in_session uuid, OUT amr_at bigint, OUT token bigint
)
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    session_revoked boolean;
    presented record;
    active record;
BEGIN
    SELECT t.session_id INTO signed_in_session FROM auth.refresh_tokens t WHERE t.token_hash = presented_hash;
    IF NOT FOUND THEN
        outcome := 'not_found';
        RETURN;
    END IF;
    SELECT s.revoked_at IS NOT NULL, extract(epoch FROM s.amr_at)::bigint INTO session_revoked, amr_at
    FROM auth.sessions s WHERE s.id = signed_in_session FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'not_found';
        RETURN;
    END IF;
    IF session_revoked THEN
        outcome := 'reused';
        RETURN;
    END IF;

    SELECT t.id, t.user_id, t.revoked, extract(epoch FROM now() - t.updated_at)::float8 AS age INTO presented
    FROM auth.refresh_tokens t WHERE t.token_hash = presented_hash;
    IF NOT FOUND THEN
        outcome := 'not_found';
        RETURN;
    END IF;
    SELECT * INTO account FROM auth.users u WHERE u.id = presented.user_id;
    IF NOT FOUND THEN
        account := NULL;
        outcome := 'not_found';
        RETURN;
    END IF;
    IF account.banned_until > now() THEN
        outcome := 'banned';
        RETURN;
    END IF;

    IF NOT presented.revoked THEN
        UPDATE auth.refresh_tokens t SET revoked = true, updated_at = now() WHERE t.id = presented.id;
    ELSE
        SELECT t.id, t.parent_id INTO active FROM auth.refresh_tokens t
        WHERE t.session_id = signed_in_session AND NOT t.revoked ORDER BY t.id DESC LIMIT 1;
        IF FOUND AND active.parent_id = presented.id THEN
            outcome := 'active';
            token := active.id;
            RETURN;
        END IF;
        IF NOT presented.age < reuse_interval_seconds THEN
            -- Reuse outside the grace window: the token family is compromised.
            UPDATE auth.refresh_tokens t SET revoked = true, updated_at = now() WHERE t.session_id = signed_in_session;
            UPDATE auth.sessions s SET revoked_at = now() WHERE s.id = signed_in_session;
            outcome := 'reused';
            RETURN;
        END IF;
        UPDATE auth.refresh_tokens t SET revoked = true, updated_at = now() WHERE t.session_id = signed_in_session AND NOT t.revoked;
    END IF;
    INSERT INTO auth.refresh_tokens (id, token_hash, session_id, user_id, parent_id)
    VALUES (child_id, child_hash, signed_in_session, presented.user_id, presented.id);
    UPDATE auth.sessions s SET refreshed_at = now() WHERE s.id = signed_in_session;
    outcome := 'issued';
    token := child_id;
END
$$;
REVOKE ALL ON FUNCTION auth.refresh_session(text, integer, bigint, text) FROM PUBLIC;
