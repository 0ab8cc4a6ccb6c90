-- The admin console's foundation (issue 16, docs/admin.md): admins linked to platform users by
-- user id, TOTP second factor with hashed recovery codes, roles mapped to scopes, role grants
-- that can expire, short admin sessions opened with a fresh code, the last-owner rule, and the
-- append-only, hash-chained audit log.
--
-- Request roles read these tables only through the policies below, which ask
-- `admin.has_scope` about the admin session the service names in `request.admin_session`.
-- Nothing here is writable by a request role; every change goes through the service, which
-- runs it as the owner and records it in `admin.audit_log` in the same transaction.

CREATE SCHEMA admin;
GRANT USAGE ON SCHEMA admin TO authenticated;

-- The roles and what each may do. Scopes are fixed by this migration; the service checks the
-- same names (Admin/AdminScope.swift).
CREATE TABLE admin.roles (
    name text PRIMARY KEY,
    -- Whether granting it (standing or just-in-time) needs an approval.
    sensitive boolean NOT NULL,
    description text NOT NULL
);
CREATE TABLE admin.role_scopes (
    role text NOT NULL REFERENCES admin.roles (name),
    scope text NOT NULL,
    PRIMARY KEY (role, scope)
);
INSERT INTO admin.roles (name, sensitive, description) VALUES
    ('owner', true, 'everything'),
    ('security_admin', true, 'IAM read, audit read, approvals, JIT requests, verification'),
    ('moderator', false, 'content moderation: reels, messages, profiles, hashtags'),
    ('support', false, 'user lookup with masked personal data, no export'),
    ('readonly_auditor', false, 'read-only: dashboard, admins and roles, audit log');
INSERT INTO admin.role_scopes (role, scope)
SELECT 'owner', scope FROM unnest(ARRAY[
    'dashboard.read', 'iam.read', 'iam.write', 'audit.read', 'approvals.decide', 'jit.request',
    'verification', 'moderation.content', 'moderation.reels', 'moderation.hashtags', 'users.lookup',
    'kill_switches.write']) AS scope
UNION ALL
SELECT 'security_admin', scope FROM unnest(ARRAY[
    'dashboard.read', 'iam.read', 'audit.read', 'approvals.decide', 'jit.request', 'verification']) AS scope
UNION ALL
SELECT 'moderator', scope FROM unnest(ARRAY[
    'dashboard.read', 'moderation.content', 'moderation.reels', 'moderation.hashtags', 'jit.request']) AS scope
UNION ALL
SELECT 'support', scope FROM unnest(ARRAY['dashboard.read', 'users.lookup', 'jit.request']) AS scope
UNION ALL
SELECT 'readonly_auditor', scope FROM unnest(ARRAY['dashboard.read', 'iam.read', 'audit.read']) AS scope;

-- Platform users who are admins. The TOTP secret (RFC 6238, 20 bytes) is readable by the owner
-- role only, and NULL until the admin enrols (the secret is shown to them once);
-- `totp_last_step` is the time step of the last accepted code, so a code works once.
CREATE TABLE admin.admin_users (
    user_id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE RESTRICT,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    totp_secret bytea CHECK (octet_length(totp_secret) = 20),
    totp_confirmed_at timestamptz,
    totp_last_step bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES auth.users (id)
);

-- One-time recovery codes, kept as SHA-256 of the code; `used_at` spends one.
CREATE TABLE admin.recovery_codes (
    user_id uuid NOT NULL REFERENCES admin.admin_users (user_id) ON DELETE CASCADE,
    code_hash bytea NOT NULL CHECK (octet_length(code_hash) = 32),
    used_at timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- Roles held. A grant is live while not revoked and not past `expires_at`: checked at every
-- use, so an expired grant needs no sweeper to stop working.
CREATE TABLE admin.role_grants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES admin.admin_users (user_id) ON DELETE CASCADE,
    role text NOT NULL REFERENCES admin.roles (name),
    kind text NOT NULL CHECK (kind IN ('bootstrap', 'standing', 'jit')),
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    granted_by uuid REFERENCES auth.users (id),
    granted_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz CHECK (expires_at IS NULL OR expires_at > granted_at),
    revoked_at timestamptz,
    revoked_by uuid REFERENCES auth.users (id)
);
CREATE INDEX role_grants_user_idx ON admin.role_grants (user_id) WHERE revoked_at IS NULL;

-- Admin sessions: opened with a fresh TOTP (or recovery) code on top of a user session, and
-- shorter than it. Only a SHA-256 of the session token is kept.
CREATE TABLE admin.sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES admin.admin_users (user_id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    auth_session_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL CHECK (expires_at > created_at),
    ended_at timestamptz
);
CREATE INDEX sessions_user_idx ON admin.sessions (user_id) WHERE ended_at IS NULL;

-- The audit log: append-only and hash-chained. `seq` and the hashes are assigned by the
-- trigger below under one lock, so the chain follows commit order:
-- hash = sha256(prev_hash ‖ admin.audit_canonical(row)), the first row's prev_hash 32 zero bytes.
CREATE TABLE admin.audit_log (
    seq bigint PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor uuid,
    action text NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    scope text,
    target text,
    outcome text NOT NULL CHECK (outcome IN ('allowed', 'denied')),
    reason text,
    request_id text,
    detail jsonb NOT NULL DEFAULT '{}',
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL
);
CREATE INDEX audit_log_actor_idx ON admin.audit_log (actor, seq);
CREATE INDEX audit_log_action_idx ON admin.audit_log (action, seq);

-- The bytes a row's hash covers: every column but the hashes, as one JSON array (jsonb's text
-- form is deterministic; the time in UTC with microseconds).
CREATE FUNCTION admin.audit_canonical(r admin.audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE SET search_path = ''
AS $$
    SELECT convert_to(jsonb_build_array(
        r.seq, to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), r.actor, r.action, r.scope,
        r.target, r.outcome, r.reason, r.request_id, r.detail)::text, 'UTF8')
$$;

-- Chains each new row to the last committed one. The transaction-level lock makes appenders
-- take turns until commit; the statements after it see the previous appender's row.
CREATE FUNCTION admin.audit_chain() RETURNS trigger
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    last admin.audit_log;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('admin.audit_log'));
    SELECT * INTO last FROM admin.audit_log ORDER BY seq DESC LIMIT 1;
    NEW.seq := coalesce(last.seq, 0) + 1;
    NEW.at := clock_timestamp();
    NEW.prev_hash := coalesce(last.hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    NEW.hash := sha256(NEW.prev_hash || admin.audit_canonical(NEW));
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_chain BEFORE INSERT ON admin.audit_log
    FOR EACH ROW EXECUTE FUNCTION admin.audit_chain();

-- Appends one audit row and returns its seq: the only way rows are written.
CREATE FUNCTION admin.audit_append(
    actor uuid, action text, scope text, target text, outcome text, reason text, request_id text, detail jsonb
) RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = ''
AS $$
    INSERT INTO admin.audit_log (seq, actor, action, scope, target, outcome, reason, request_id, detail, prev_hash, hash)
    VALUES (0, actor, action, scope, target, outcome, reason, request_id, coalesce(detail, '{}'), '', '')
    RETURNING seq
$$;
REVOKE ALL ON FUNCTION admin.audit_append(uuid, text, text, text, text, text, text, jsonb) FROM PUBLIC;

-- The admin behind this transaction's admin session (`request.admin_session`, set by the
-- service after checking the session token): open, unexpired, the signed-in user's own, and
-- the admin active. NULL otherwise.
CREATE FUNCTION admin.session_user_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT s.user_id FROM admin.sessions s JOIN admin.admin_users a ON a.user_id = s.user_id
    WHERE s.id = nullif(current_setting('request.admin_session', true), '')::uuid
      AND s.user_id = auth.uid() AND s.ended_at IS NULL AND s.expires_at > now() AND a.status = 'active'
$$;
REVOKE ALL ON FUNCTION admin.session_user_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION admin.session_user_id() TO authenticated;

-- Whether this transaction's admin holds `wanted` through a live grant.
CREATE FUNCTION admin.has_scope(wanted text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT EXISTS (
        SELECT 1 FROM admin.role_grants g JOIN admin.role_scopes rs ON rs.role = g.role
        WHERE g.user_id = admin.session_user_id() AND rs.scope = wanted
          AND g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > now()))
$$;
REVOKE ALL ON FUNCTION admin.has_scope(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION admin.has_scope(text) TO authenticated;

-- Raises 42501 unless this transaction's admin holds `wanted`: the database's own check before
-- a change the service makes as the owner.
CREATE FUNCTION admin.assert_scope(wanted text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = ''
AS $$
BEGIN
    IF NOT admin.has_scope(wanted) THEN
        RAISE EXCEPTION 'this needs the admin scope %', wanted USING ERRCODE = '42501';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION admin.assert_scope(text) FROM PUBLIC;

-- The last-owner rule: at least one active admin keeps a standing (unexpiring, unrevoked)
-- owner grant once one exists. Changes that would end the last one are refused; the lock
-- makes two owners disabling each other at once take turns, so the second sees the first.
CREATE FUNCTION admin.keep_an_owner() RETURNS trigger
LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
    IF TG_TABLE_NAME = 'admin_users' AND NOT EXISTS (
        SELECT 1 FROM admin.role_grants g
        WHERE g.user_id = OLD.user_id AND g.role = 'owner' AND g.revoked_at IS NULL AND g.expires_at IS NULL)
    THEN
        RETURN NULL;  -- not an owner: nothing to keep
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('admin.owners'));
    IF NOT EXISTS (
        SELECT 1 FROM admin.role_grants g JOIN admin.admin_users a ON a.user_id = g.user_id
        WHERE g.role = 'owner' AND g.revoked_at IS NULL AND g.expires_at IS NULL AND a.status = 'active')
    THEN
        RAISE EXCEPTION 'the last active owner cannot be removed, disabled or demoted' USING ERRCODE = 'P0001';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER keep_an_owner_disabled AFTER UPDATE OF status ON admin.admin_users
    FOR EACH ROW WHEN (OLD.status = 'active' AND NEW.status <> 'active') EXECUTE FUNCTION admin.keep_an_owner();
CREATE TRIGGER keep_an_owner_removed AFTER DELETE ON admin.admin_users
    FOR EACH ROW WHEN (OLD.status = 'active') EXECUTE FUNCTION admin.keep_an_owner();
CREATE TRIGGER keep_an_owner_revoked AFTER UPDATE ON admin.role_grants
    FOR EACH ROW WHEN (OLD.role = 'owner' AND OLD.revoked_at IS NULL AND OLD.expires_at IS NULL
                       AND (NEW.revoked_at IS NOT NULL OR NEW.expires_at IS NOT NULL OR NEW.role <> 'owner'
                            OR NEW.user_id <> OLD.user_id))
    EXECUTE FUNCTION admin.keep_an_owner();
CREATE TRIGGER keep_an_owner_deleted AFTER DELETE ON admin.role_grants
    FOR EACH ROW WHEN (OLD.role = 'owner' AND OLD.revoked_at IS NULL AND OLD.expires_at IS NULL)
    EXECUTE FUNCTION admin.keep_an_owner();

-- Which operations need approval, by whom and how many: the server's policy, never the
-- requester's choice. An operation without a row here needs none.
CREATE TABLE admin.approval_policies (
    operation text PRIMARY KEY,
    approver_role text NOT NULL REFERENCES admin.roles (name),
    approvals_needed integer NOT NULL CHECK (approvals_needed BETWEEN 1 AND 5),
    description text NOT NULL
);
INSERT INTO admin.approval_policies (operation, approver_role, approvals_needed, description) VALUES
    ('grant_role:owner', 'owner', 1, 'granting owner: one owner other than the requester'),
    ('grant_role:security_admin', 'owner', 1, 'granting security_admin: one owner other than the requester'),
    ('jit:owner', 'owner', 1, 'just-in-time owner: one owner other than the requester'),
    ('jit:security_admin', 'owner', 1, 'just-in-time security_admin: one owner other than the requester');

-- Requests for operations that need approval. `status` moves pending → approved → consumed,
-- or pending → denied; a request is usable until `expires_at` (24 hours after it was made).
-- Consuming it is one UPDATE … WHERE status = 'approved' in the transaction that makes the
-- change, so it authorises exactly one change.
CREATE TABLE admin.requests (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    operation text NOT NULL REFERENCES admin.approval_policies (operation),
    requester uuid NOT NULL REFERENCES admin.admin_users (user_id),
    target_user uuid NOT NULL REFERENCES admin.admin_users (user_id),
    role text NOT NULL REFERENCES admin.roles (name),
    -- Just-in-time grants: how long the role is held once granted.
    minutes integer CHECK (minutes BETWEEN 1 AND 240),
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    consumed_at timestamptz,
    grant_id uuid REFERENCES admin.role_grants (id)
);
CREATE INDEX requests_open_idx ON admin.requests (created_at) WHERE status IN ('pending', 'approved');

-- Decisions on requests: one per approver; neither the requester nor the admin the request
-- would promote decides it.
CREATE TABLE admin.approvals (
    request_id uuid NOT NULL REFERENCES admin.requests (id) ON DELETE CASCADE,
    approver uuid NOT NULL REFERENCES admin.admin_users (user_id),
    decision text NOT NULL CHECK (decision IN ('approve', 'deny')),
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    decided_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, approver)
);
CREATE FUNCTION admin.no_self_approval() RETURNS trigger
LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM admin.requests r
               WHERE r.id = NEW.request_id AND NEW.approver IN (r.requester, r.target_user)) THEN
        RAISE EXCEPTION 'nobody decides their own request' USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER no_self_approval BEFORE INSERT OR UPDATE ON admin.approvals
    FOR EACH ROW EXECUTE FUNCTION admin.no_self_approval();

-- Kill switches: named features the owners can switch off, with who and why. Every instance
-- reads this table at least once a second (Admin/KillSwitchBoard.swift).
CREATE TABLE admin.kill_switches (
    name text PRIMARY KEY CHECK (name IN ('admin_writes', 'iam_writes', 'signups', 'reels_uploads', 'message_sending', 'calls')),
    engaged boolean NOT NULL DEFAULT false,
    reason text,
    changed_by uuid REFERENCES auth.users (id),
    changed_at timestamptz
);
INSERT INTO admin.kill_switches (name)
VALUES ('admin_writes'), ('iam_writes'), ('signups'), ('reels_uploads'), ('message_sending'), ('calls');

-- Row-level security: nothing is written by request roles; reading needs the scope.
ALTER TABLE admin.roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin.role_scopes ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin.admin_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin.recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin.role_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin.sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin.approval_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin.requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin.approvals ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin.kill_switches ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON ALL TABLES IN SCHEMA admin FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON admin.roles, admin.role_scopes TO authenticated;
GRANT SELECT (user_id, status, totp_confirmed_at, created_at, created_by) ON admin.admin_users TO authenticated;
GRANT SELECT ON admin.role_grants TO authenticated;
GRANT SELECT ON admin.audit_log TO authenticated;
GRANT SELECT ON admin.approval_policies, admin.requests, admin.approvals, admin.kill_switches TO authenticated;

DROP POLICY IF EXISTS roles_admins ON admin.roles;
CREATE POLICY roles_admins ON admin.roles FOR SELECT TO authenticated
    USING (admin.session_user_id() IS NOT NULL);
DROP POLICY IF EXISTS role_scopes_admins ON admin.role_scopes;
CREATE POLICY role_scopes_admins ON admin.role_scopes FOR SELECT TO authenticated
    USING (admin.session_user_id() IS NOT NULL);
DROP POLICY IF EXISTS admin_users_iam ON admin.admin_users;
CREATE POLICY admin_users_iam ON admin.admin_users FOR SELECT TO authenticated
    USING (user_id = admin.session_user_id() OR admin.has_scope('iam.read'));
DROP POLICY IF EXISTS role_grants_iam ON admin.role_grants;
CREATE POLICY role_grants_iam ON admin.role_grants FOR SELECT TO authenticated
    USING (user_id = admin.session_user_id() OR admin.has_scope('iam.read'));
DROP POLICY IF EXISTS audit_log_readers ON admin.audit_log;
CREATE POLICY audit_log_readers ON admin.audit_log FOR SELECT TO authenticated
    USING (admin.has_scope('audit.read'));
DROP POLICY IF EXISTS approval_policies_admins ON admin.approval_policies;
CREATE POLICY approval_policies_admins ON admin.approval_policies FOR SELECT TO authenticated
    USING (admin.session_user_id() IS NOT NULL);
DROP POLICY IF EXISTS requests_involved ON admin.requests;
CREATE POLICY requests_involved ON admin.requests FOR SELECT TO authenticated
    USING (requester = admin.session_user_id() OR target_user = admin.session_user_id()
           OR admin.has_scope('approvals.decide') OR admin.has_scope('iam.read'));
DROP POLICY IF EXISTS approvals_involved ON admin.approvals;
CREATE POLICY approvals_involved ON admin.approvals FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM admin.requests r WHERE r.id = request_id));
DROP POLICY IF EXISTS kill_switches_admins ON admin.kill_switches;
CREATE POLICY kill_switches_admins ON admin.kill_switches FOR SELECT TO authenticated
    USING (admin.has_scope('dashboard.read'));
