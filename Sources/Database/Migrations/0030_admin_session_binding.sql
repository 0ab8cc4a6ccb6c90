-- The database's own view of the admin session (0027's admin.session_user_id, which the
-- policies and admin.assert_scope rely on) also checks what the service checks: the session
-- was opened from the sign-in session the request's claims name (`session_id`; both absent
-- counts as the same). A token carried to another sign-in of the same user is no session here
-- either.
CREATE OR REPLACE FUNCTION admin.session_user_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT s.user_id FROM admin.sessions s JOIN admin.admin_users a ON a.user_id = s.user_id
    WHERE s.id = nullif(current_setting('request.admin_session', true), '')::uuid
      AND s.user_id = auth.uid() AND s.ended_at IS NULL AND s.expires_at > now() AND a.status = 'active'
      AND s.auth_session_id IS NOT DISTINCT FROM (
          SELECT CASE WHEN c.v ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN c.v::uuid END
          FROM (SELECT auth.jwt() ->> 'session_id' AS v) c)
$$;
