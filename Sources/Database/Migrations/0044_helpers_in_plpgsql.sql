-- Helpers in PL/pgSQL (issue 12). The SQL-language helpers that `public.chat_send_message`
-- and the messages policies call on every send become PL/pgSQL with the same bodies and the
-- same answers: Social's block checks (`has_blocked`, `is_blocked_between`, which the DM
-- check calls) and Chat's `chat_dm_blocked`, `chat_conversations_of_caller` and
-- `chat_message_record`; then the other helpers of that kind that policies and requests call
-- (auth, social, chat, storage and the admin console's session and scope checks). Not
-- changed: the reels helpers (the feed's cost was measured and tuned with them as they are,
-- migrations 0026 and 0043; changing them wants the feed's benchmark), `follow_counts`,
-- `storage.release_object` (a write), `chat_search_messages` and the audit log's canonical
-- form.
--
-- A `SECURITY DEFINER` function, or one with a `SET` clause, is never inlined; in LANGUAGE
-- sql PostgreSQL then parses, analyses and plans its body again in every statement that
-- calls it (and, for a SQL helper calling another, in every call). PL/pgSQL keeps its plans
-- for the session. Measured on the chat benchmark's data:
--   * pgbench, 8 clients, one `chat_send_message` a transaction: 1 670–1 710 → 2 010–2 140
--     calls/s; with `track_functions`, per send: `chat_dm_blocked` 0.060 → 0.009 ms (it runs
--     twice), the read policy's `chat_conversations_of_caller` (applied to the insert's
--     RETURNING) 0.107 → 0.021 ms, `chat_message_record` 0.077 → 0.018 ms;
--   * `is_blocked_between` called 20 000 times in one statement: 550–890 → 86–143 ms.

-- True when a has blocked b (0002).
CREATE OR REPLACE FUNCTION public.has_blocked(blocker uuid, blocked uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM public.blocks b WHERE b.blocker_id = blocker AND b.blocked_id = blocked);
END
$$;

-- True when either of a and b has blocked the other (0002).
CREATE OR REPLACE FUNCTION public.is_blocked_between(a uuid, b uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN public.has_blocked(a, b) OR public.has_blocked(b, a);
END
$$;

-- True when the conversation is a DM whose two users have blocked each other (0003).
CREATE OR REPLACE FUNCTION public.chat_dm_blocked(conversation uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM public.dm_pairs d WHERE d.conversation_id = conversation
                   AND public.is_blocked_between(d.user_low, d.user_high));
END
$$;

-- The conversations the caller is a member of (0039), for the read policies.
CREATE OR REPLACE FUNCTION public.chat_conversations_of_caller() RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
ROWS 20
AS $$
BEGIN
    RETURN QUERY SELECT p.conversation_id FROM public.participants p WHERE p.user_id = auth.uid();
END
$$;

-- A message as realtime subscribers receive it (0008, 0017): the same object.
CREATE OR REPLACE FUNCTION public.chat_message_record(m public.messages) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = ''
AS $$
BEGIN
    RETURN jsonb_build_object('id', m.id, 'conversation_id', m.conversation_id, 'sender_id', m.sender_id, 'seq', m.seq,
        'client_msg_id', m.client_msg_id, 'kind', m.kind, 'body', m.body, 'attachment', m.attachment,
        'reply_to_id', m.reply_to_id, 'edited_at', m.edited_at, 'deleted_at', m.deleted_at,
        'created_at', m.created_at, 'updated_at', m.updated_at, 'call', m.call, 'forwarded_from', m.forwarded_from);
END
$$;

-- ===== The other helpers of that kind that policies and requests call =====
-- Same bodies again; `RETURN (SELECT …)` answers NULL where the SQL function's query found
-- no row, as before.

-- The caller's phone number (0001).
CREATE OR REPLACE FUNCTION auth.my_phone() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN (SELECT phone FROM auth.users WHERE id = auth.uid());
END
$$;

-- Whether the caller may see whom the owner follows and is followed by (0002).
CREATE OR REPLACE FUNCTION public.can_see_connections(owner uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN owner = auth.uid()
        OR (NOT public.has_blocked(owner, auth.uid())
            AND (NOT coalesce((SELECT p.is_private FROM public.profiles p WHERE p.id = owner), true)
                 OR EXISTS (SELECT 1 FROM public.follows f
                            WHERE f.follower_id = auth.uid() AND f.following_id = owner AND f.status = 'accepted')));
END
$$;

-- A new follow's status: pending for a private profile (0002).
CREATE OR REPLACE FUNCTION public.initial_follow_status(target uuid) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN (SELECT CASE WHEN p.is_private THEN 'pending' ELSE 'accepted' END FROM public.profiles p WHERE p.id = target);
END
$$;

-- Whether the caller is a member of the message's conversation (0003).
CREATE OR REPLACE FUNCTION public.can_read_message(message uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM public.messages m JOIN public.participants p ON p.conversation_id = m.conversation_id
                   WHERE m.id = message AND p.user_id = auth.uid());
END
$$;

-- Whether the member's setting lets the caller add them to groups (0007).
CREATE OR REPLACE FUNCTION public.chat_may_add_to_groups(member uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN CASE coalesce((SELECT s.who_can_add_to_groups FROM public.profile_settings s WHERE s.user_id = member), 'everyone')
        WHEN 'everyone' THEN true
        WHEN 'contacts' THEN EXISTS (SELECT 1 FROM public.follows f
                                     WHERE f.follower_id = member AND f.following_id = auth.uid() AND f.status = 'accepted')
        ELSE false
    END;
END
$$;

-- The folders of an object name (0011).
CREATE OR REPLACE FUNCTION storage.foldername(name text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = ''
AS $$
BEGIN
    RETURN (string_to_array(name, '/'))[1:cardinality(string_to_array(name, '/')) - 1];
END
$$;

-- Whether the object name lies in the caller's own folder (0011).
CREATE OR REPLACE FUNCTION storage.in_own_folder(name text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = ''
AS $$
BEGIN
    RETURN (storage.foldername(name))[1] = (SELECT auth.uid())::text;
END
$$;

-- Whether the object is attached to a message of a conversation the caller is in (0013).
CREATE OR REPLACE FUNCTION storage.shared_read_allowed(p_object_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN EXISTS (
        SELECT 1 FROM public.messages m
        JOIN public.participants p ON p.conversation_id = m.conversation_id AND p.user_id = auth.uid()
        WHERE (m.attachment ->> 'object_id') = lower(p_object_id::text) AND m.deleted_at IS NULL);
END
$$;

-- Whether the caller hid the message for themselves (0017).
CREATE OR REPLACE FUNCTION public.chat_hidden(message uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM public.hidden_messages h WHERE h.user_id = auth.uid() AND h.message_id = message);
END
$$;

-- A pinned message as the inbox shows it, or NULL when the caller may not see it (0017).
CREATE OR REPLACE FUNCTION public.chat_pinned_json(message uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN (SELECT jsonb_build_object('id', m.id, 'seq', m.seq, 'kind', m.kind, 'body', m.body, 'sender_id', m.sender_id)
            FROM public.messages m
            WHERE m.id = message AND m.deleted_at IS NULL AND public.is_chat_member(m.conversation_id)
              AND NOT public.chat_hidden(m.id));
END
$$;

-- Whether follower follows followee, accepted (0018).
CREATE OR REPLACE FUNCTION public.is_accepted_follower(follower uuid, followee uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM public.follows f
                   WHERE f.follower_id = follower AND f.following_id = followee AND f.status = 'accepted');
END
$$;

-- The admin session the request carries, when it is live and bound to the caller's sign-in
-- session (0030).
CREATE OR REPLACE FUNCTION admin.session_user_id() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN (
        SELECT s.user_id FROM admin.sessions s JOIN admin.admin_users a ON a.user_id = s.user_id
        WHERE s.id = nullif(current_setting('request.admin_session', true), '')::uuid
          AND s.user_id = auth.uid() AND s.ended_at IS NULL AND s.expires_at > now() AND a.status = 'active'
          AND s.auth_session_id IS NOT DISTINCT FROM (
              SELECT CASE WHEN c.v ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN c.v::uuid END
              FROM (SELECT auth.jwt() ->> 'session_id' AS v) c));
END
$$;

-- Whether the admin session's live grants include the scope (0027).
CREATE OR REPLACE FUNCTION admin.has_scope(wanted text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN EXISTS (
        SELECT 1 FROM admin.role_grants g JOIN admin.role_scopes rs ON rs.role = g.role
        WHERE g.user_id = admin.session_user_id() AND rs.scope = wanted
          AND g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > now()));
END
$$;
