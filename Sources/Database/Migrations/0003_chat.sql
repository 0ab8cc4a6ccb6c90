-- Chat: conversations, DM pairs, participants, messages, reactions.
--
-- Reads are limited to participants by row-level security. Membership is changed only
-- through the SECURITY DEFINER functions at the end, which check the caller's rights with
-- auth.uid(); clients have no INSERT on participants, so nobody joins by knowing an id.
-- Message sequence numbers are assigned by a trigger in the inserting transaction, so a
-- client can never choose (or jam) a seq.

CREATE TABLE public.conversations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind text NOT NULL CHECK (kind IN ('dm', 'group')),
    title text CHECK (title IS NULL OR char_length(title) BETWEEN 1 AND 100),
    avatar_url text CHECK (avatar_url IS NULL OR (char_length(avatar_url) <= 2048 AND avatar_url ~* '^https?://')),
    created_by uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    last_seq bigint NOT NULL DEFAULT 0,
    -- Last activity (creation until the first message): the inbox order.
    last_message_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_activity_idx ON public.conversations (last_message_at DESC, id DESC);
ALTER TABLE public.conversations ENABLE ROW LEVEL SECURITY;

-- Exactly one DM per unordered pair of users.
CREATE TABLE public.dm_pairs (
    user_low uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    user_high uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    conversation_id uuid NOT NULL UNIQUE REFERENCES public.conversations (id) ON DELETE CASCADE,
    PRIMARY KEY (user_low, user_high),
    CHECK (user_low < user_high)
);
ALTER TABLE public.dm_pairs ENABLE ROW LEVEL SECURITY;

CREATE TABLE public.participants (
    conversation_id uuid NOT NULL REFERENCES public.conversations (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    role text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    joined_at timestamptz NOT NULL DEFAULT now(),
    delivered_up_to_seq bigint NOT NULL DEFAULT 0,
    read_up_to_seq bigint NOT NULL DEFAULT 0,
    muted_until timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, user_id),
    CHECK (read_up_to_seq <= delivered_up_to_seq)
);
CREATE INDEX participants_user_idx ON public.participants (user_id, conversation_id);
ALTER TABLE public.participants ENABLE ROW LEVEL SECURITY;

CREATE TABLE public.messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid NOT NULL REFERENCES public.conversations (id) ON DELETE CASCADE,
    sender_id uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    client_msg_id uuid NOT NULL,
    kind text NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'image', 'video', 'file', 'audio', 'system')),
    body text NOT NULL DEFAULT '' CHECK (char_length(body) <= 4000),
    attachment jsonb,
    reply_to_id uuid REFERENCES public.messages (id) ON DELETE SET NULL,
    edited_at timestamptz,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, sender_id, client_msg_id)
);
CREATE INDEX messages_sender_recent_idx ON public.messages (sender_id, created_at);
ALTER TABLE public.messages ENABLE ROW LEVEL SECURITY;

-- One reaction per user per message; a new emoji replaces the old one.
CREATE TABLE public.reactions (
    message_id uuid NOT NULL REFERENCES public.messages (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    emoji text NOT NULL CHECK (char_length(emoji) BETWEEN 1 AND 16),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id)
);
ALTER TABLE public.reactions ENABLE ROW LEVEL SECURITY;

-- Policy helpers (SECURITY DEFINER: they read membership without recursing into policies).

-- The caller's role in a conversation, or NULL when not a member.
CREATE FUNCTION public.chat_role(conversation uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT p.role FROM public.participants p WHERE p.conversation_id = conversation AND p.user_id = auth.uid() $$;

-- Whether the caller is a member of a conversation.
CREATE FUNCTION public.is_chat_member(conversation uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT public.chat_role(conversation) IS NOT NULL $$;

-- Whether a DM's two users have blocked each other in either direction (false for groups).
CREATE FUNCTION public.chat_dm_blocked(conversation uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT EXISTS (SELECT 1 FROM public.dm_pairs d WHERE d.conversation_id = conversation
                     AND public.is_blocked_between(d.user_low, d.user_high)) $$;

-- Whether the caller may read a message (is a member of its conversation).
CREATE FUNCTION public.can_read_message(message uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT EXISTS (SELECT 1 FROM public.messages m JOIN public.participants p ON p.conversation_id = m.conversation_id
                     WHERE m.id = message AND p.user_id = auth.uid()) $$;

-- Seq assignment: the next number of the conversation, in the inserting transaction.
CREATE FUNCTION public.messages_before_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    IF NEW.reply_to_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM public.messages m WHERE m.id = NEW.reply_to_id AND m.conversation_id = NEW.conversation_id) THEN
        RAISE EXCEPTION 'reply_to_id: must be a message of the same conversation' USING ERRCODE = '22023';
    END IF;
    UPDATE public.conversations c SET last_seq = c.last_seq + 1, last_message_at = now(), updated_at = now()
    WHERE c.id = NEW.conversation_id RETURNING c.last_seq INTO NEW.seq;
    NEW.created_at := now();
    NEW.updated_at := now();
    NEW.edited_at := NULL;
    NEW.deleted_at := NULL;
    RETURN NEW;
END
$$;
CREATE TRIGGER messages_assign_seq BEFORE INSERT ON public.messages
FOR EACH ROW EXECUTE FUNCTION public.messages_before_insert();

-- Edits and deletions: only the sender edits (text, within 48 hours); the sender or a group
-- owner/admin deletes, leaving a tombstone with the body cleared; nothing is undeleted.
CREATE FUNCTION public.messages_before_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    IF OLD.deleted_at IS NOT NULL THEN
        RAISE EXCEPTION 'message_id: the message was deleted' USING ERRCODE = '22023';
    END IF;
    IF NEW.deleted_at IS NOT NULL THEN
        NEW.deleted_at := now();
        NEW.body := '';
        NEW.attachment := NULL;
    ELSIF NEW.body IS DISTINCT FROM OLD.body THEN
        IF OLD.sender_id IS DISTINCT FROM auth.uid() THEN
            RAISE EXCEPTION 'message_id: only the sender may edit a message' USING ERRCODE = '42501';
        END IF;
        IF OLD.kind <> 'text' OR OLD.created_at < now() - interval '48 hours' THEN
            RAISE EXCEPTION 'message_id: only text messages younger than 48 hours can be edited' USING ERRCODE = '22023';
        END IF;
        NEW.edited_at := now();
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER messages_guard_update BEFORE UPDATE ON public.messages
FOR EACH ROW EXECUTE FUNCTION public.messages_before_update();

-- Read cursors only move forward; reading implies delivery; neither passes the last seq.
CREATE FUNCTION public.participants_before_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    last bigint;
BEGIN
    SELECT c.last_seq INTO last FROM public.conversations c WHERE c.id = NEW.conversation_id;
    NEW.delivered_up_to_seq := least(greatest(OLD.delivered_up_to_seq, NEW.delivered_up_to_seq), last);
    NEW.read_up_to_seq := least(greatest(OLD.read_up_to_seq, NEW.read_up_to_seq), last);
    NEW.delivered_up_to_seq := greatest(NEW.delivered_up_to_seq, NEW.read_up_to_seq);
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER participants_monotonic_cursors BEFORE UPDATE ON public.participants
FOR EACH ROW EXECUTE FUNCTION public.participants_before_update();

REVOKE ALL ON FUNCTION public.chat_role(uuid), public.is_chat_member(uuid), public.chat_dm_blocked(uuid),
    public.can_read_message(uuid), public.messages_before_insert(), public.messages_before_update(),
    public.participants_before_update() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.chat_role(uuid), public.is_chat_member(uuid), public.chat_dm_blocked(uuid),
    public.can_read_message(uuid) TO authenticated;

-- conversations: members read; owners and admins rename groups.
GRANT SELECT ON public.conversations TO authenticated;
GRANT UPDATE (title, avatar_url, updated_at) ON public.conversations TO authenticated;
DROP POLICY IF EXISTS conversations_read ON public.conversations;
CREATE POLICY conversations_read ON public.conversations FOR SELECT TO authenticated
    USING (public.is_chat_member(id));
DROP POLICY IF EXISTS conversations_rename ON public.conversations;
CREATE POLICY conversations_rename ON public.conversations FOR UPDATE TO authenticated
    USING (kind = 'group' AND public.chat_role(id) IN ('owner', 'admin'))
    WITH CHECK (kind = 'group' AND public.chat_role(id) IN ('owner', 'admin'));

-- dm_pairs: each side reads its own pairs.
GRANT SELECT ON public.dm_pairs TO authenticated;
DROP POLICY IF EXISTS dm_pairs_read ON public.dm_pairs;
CREATE POLICY dm_pairs_read ON public.dm_pairs FOR SELECT TO authenticated
    USING (auth.uid() IN (user_low, user_high));

-- participants: members read the member list; each member moves their own cursors and mute.
GRANT SELECT ON public.participants TO authenticated;
GRANT UPDATE (delivered_up_to_seq, read_up_to_seq, muted_until, updated_at) ON public.participants TO authenticated;
DROP POLICY IF EXISTS participants_read ON public.participants;
CREATE POLICY participants_read ON public.participants FOR SELECT TO authenticated
    USING (public.is_chat_member(conversation_id));
DROP POLICY IF EXISTS participants_own_cursor ON public.participants;
CREATE POLICY participants_own_cursor ON public.participants FOR UPDATE TO authenticated
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());

-- messages: members read; members send as themselves unless the DM is blocked; the
-- triggers above decide what an update may change.
GRANT SELECT ON public.messages TO authenticated;
GRANT INSERT (conversation_id, sender_id, client_msg_id, kind, body, attachment, reply_to_id) ON public.messages TO authenticated;
GRANT UPDATE (body, edited_at, deleted_at, updated_at) ON public.messages TO authenticated;
DROP POLICY IF EXISTS messages_read ON public.messages;
CREATE POLICY messages_read ON public.messages FOR SELECT TO authenticated
    USING (public.is_chat_member(conversation_id));
DROP POLICY IF EXISTS messages_send ON public.messages;
CREATE POLICY messages_send ON public.messages FOR INSERT TO authenticated
    WITH CHECK (sender_id = auth.uid() AND kind <> 'system'
                AND public.is_chat_member(conversation_id) AND NOT public.chat_dm_blocked(conversation_id));
DROP POLICY IF EXISTS messages_change ON public.messages;
CREATE POLICY messages_change ON public.messages FOR UPDATE TO authenticated
    USING (public.is_chat_member(conversation_id)
           AND (sender_id = auth.uid() OR public.chat_role(conversation_id) IN ('owner', 'admin')))
    WITH CHECK (public.is_chat_member(conversation_id));

-- reactions: members read; each member sets and removes their own.
GRANT SELECT, INSERT, DELETE ON public.reactions TO authenticated;
GRANT UPDATE (emoji, updated_at) ON public.reactions TO authenticated;
DROP POLICY IF EXISTS reactions_read ON public.reactions;
CREATE POLICY reactions_read ON public.reactions FOR SELECT TO authenticated
    USING (public.can_read_message(message_id));
DROP POLICY IF EXISTS reactions_own ON public.reactions;
CREATE POLICY reactions_own ON public.reactions FOR ALL TO authenticated
    USING (user_id = auth.uid() AND public.can_read_message(message_id))
    WITH CHECK (user_id = auth.uid() AND public.can_read_message(message_id));

-- Membership changes. Each function checks the caller's rights itself (SECURITY DEFINER,
-- caller from auth.uid()); errors carry SQLSTATEs the server maps to HTTP:
-- 42501 refused (403), 22023 invalid argument (400), P0002 not found (404).

-- The DM between the caller and `target`, created on first use (idempotent, either order);
-- `created` says whether this call made it.
CREATE FUNCTION public.chat_get_or_create_dm(target uuid, OUT conversation uuid, OUT created boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    me uuid := auth.uid();
BEGIN
    created := false;
    IF me IS NULL THEN
        RAISE EXCEPTION 'sign in required' USING ERRCODE = '42501';
    END IF;
    IF target = me THEN
        RAISE EXCEPTION 'target_user_id: must not be yourself' USING ERRCODE = '22023';
    END IF;
    IF public.is_blocked_between(me, target) THEN
        RAISE EXCEPTION 'target_user_id: one of you has blocked the other' USING ERRCODE = '42501';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.profiles p WHERE p.id = target) THEN
        RAISE EXCEPTION 'target_user_id: no such user' USING ERRCODE = 'P0002';
    END IF;
    SELECT d.conversation_id INTO conversation FROM public.dm_pairs d
    WHERE d.user_low = least(me, target) AND d.user_high = greatest(me, target);
    IF conversation IS NOT NULL THEN
        RETURN;
    END IF;
    conversation := gen_random_uuid();
    INSERT INTO public.conversations (id, kind, created_by) VALUES (conversation, 'dm', me);
    INSERT INTO public.dm_pairs (user_low, user_high, conversation_id)
    VALUES (least(me, target), greatest(me, target), conversation) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        -- A concurrent call created the pair first: use its conversation.
        DELETE FROM public.conversations c WHERE c.id = conversation;
        SELECT d.conversation_id INTO conversation FROM public.dm_pairs d
        WHERE d.user_low = least(me, target) AND d.user_high = greatest(me, target);
        RETURN;
    END IF;
    INSERT INTO public.participants (conversation_id, user_id, role)
    VALUES (conversation, me, 'member'), (conversation, target, 'member');
    created := true;
END
$$;

-- Checks that the caller may add `member` to a conversation: an existing user not blocked
-- either way with the caller.
CREATE FUNCTION public.chat_check_new_member(member uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    IF public.is_blocked_between(auth.uid(), member) THEN
        RAISE EXCEPTION 'member_ids: % cannot be added: one of you has blocked the other', member USING ERRCODE = '42501';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.profiles p WHERE p.id = member) THEN
        RAISE EXCEPTION 'member_ids: no such user %', member USING ERRCODE = 'P0002';
    END IF;
END
$$;

-- A new group owned by the caller with the given members.
CREATE FUNCTION public.chat_create_group(group_title text, members uuid[]) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    me uuid := auth.uid();
    conversation uuid := gen_random_uuid();
    member uuid;
BEGIN
    IF me IS NULL THEN
        RAISE EXCEPTION 'sign in required' USING ERRCODE = '42501';
    END IF;
    INSERT INTO public.conversations (id, kind, title, created_by) VALUES (conversation, 'group', group_title, me);
    INSERT INTO public.participants (conversation_id, user_id, role) VALUES (conversation, me, 'owner');
    FOREACH member IN ARRAY coalesce(members, '{}') LOOP
        CONTINUE WHEN member = me;
        PERFORM public.chat_check_new_member(member);
        INSERT INTO public.participants (conversation_id, user_id) VALUES (conversation, member) ON CONFLICT DO NOTHING;
    END LOOP;
    RETURN conversation;
END
$$;

-- Adds members to a group (owners and admins only); returns the users who were new.
CREATE FUNCTION public.chat_add_members(conversation uuid, members uuid[]) RETURNS uuid[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    member uuid;
    added uuid[] := '{}';
BEGIN
    IF public.chat_role(conversation) IS NULL THEN
        RAISE EXCEPTION 'conversation_id: no such conversation' USING ERRCODE = 'P0002';
    END IF;
    IF (SELECT c.kind FROM public.conversations c WHERE c.id = conversation) <> 'group' THEN
        RAISE EXCEPTION 'conversation_id: members can be added to groups only' USING ERRCODE = '22023';
    END IF;
    IF public.chat_role(conversation) NOT IN ('owner', 'admin') THEN
        RAISE EXCEPTION 'only owners and admins add members' USING ERRCODE = '42501';
    END IF;
    FOREACH member IN ARRAY coalesce(members, '{}') LOOP
        PERFORM public.chat_check_new_member(member);
        INSERT INTO public.participants (conversation_id, user_id) VALUES (conversation, member) ON CONFLICT DO NOTHING;
        IF FOUND THEN
            added := added || member;
        END IF;
    END LOOP;
    RETURN added;
END
$$;

-- Removes another member: owners remove anyone, admins remove members only.
CREATE FUNCTION public.chat_remove_member(conversation uuid, member uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    mine text := public.chat_role(conversation);
    theirs text;
BEGIN
    IF mine IS NULL THEN
        RAISE EXCEPTION 'conversation_id: no such conversation' USING ERRCODE = 'P0002';
    END IF;
    IF member = auth.uid() THEN
        RAISE EXCEPTION 'user_id: use leave_conversation to leave' USING ERRCODE = '22023';
    END IF;
    SELECT p.role INTO theirs FROM public.participants p WHERE p.conversation_id = conversation AND p.user_id = member;
    IF theirs IS NULL THEN
        RAISE EXCEPTION 'user_id: not a member of this conversation' USING ERRCODE = 'P0002';
    END IF;
    IF NOT (mine = 'owner' OR (mine = 'admin' AND theirs = 'member')) THEN
        RAISE EXCEPTION 'only owners remove admins and owners; admins remove members' USING ERRCODE = '42501';
    END IF;
    DELETE FROM public.participants p WHERE p.conversation_id = conversation AND p.user_id = member;
END
$$;

-- Changes another member's role. Owners set any role; admins move members to admin and
-- back; nobody changes their own role (no self-promotion, and the last owner stays).
CREATE FUNCTION public.chat_set_member_role(conversation uuid, member uuid, new_role text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    mine text := public.chat_role(conversation);
    theirs text;
BEGIN
    IF mine IS NULL THEN
        RAISE EXCEPTION 'conversation_id: no such conversation' USING ERRCODE = 'P0002';
    END IF;
    IF new_role NOT IN ('owner', 'admin', 'member') THEN
        RAISE EXCEPTION 'role: must be owner, admin or member' USING ERRCODE = '22023';
    END IF;
    IF member = auth.uid() THEN
        RAISE EXCEPTION 'user_id: you cannot change your own role' USING ERRCODE = '42501';
    END IF;
    SELECT p.role INTO theirs FROM public.participants p WHERE p.conversation_id = conversation AND p.user_id = member;
    IF theirs IS NULL THEN
        RAISE EXCEPTION 'user_id: not a member of this conversation' USING ERRCODE = 'P0002';
    END IF;
    IF (SELECT c.kind FROM public.conversations c WHERE c.id = conversation) <> 'group' THEN
        RAISE EXCEPTION 'conversation_id: roles exist in groups only' USING ERRCODE = '22023';
    END IF;
    IF NOT (mine = 'owner' OR (mine = 'admin' AND theirs <> 'owner' AND new_role <> 'owner')) THEN
        RAISE EXCEPTION 'only owners grant or take ownership; admins manage admins and members' USING ERRCODE = '42501';
    END IF;
    UPDATE public.participants p SET role = new_role, updated_at = now()
    WHERE p.conversation_id = conversation AND p.user_id = member;
END
$$;

-- Leaves a group. The last owner must hand over ownership while others remain; the last
-- member leaving deletes the group.
CREATE FUNCTION public.chat_leave(conversation uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    mine text := public.chat_role(conversation);
BEGIN
    IF mine IS NULL THEN
        RAISE EXCEPTION 'conversation_id: no such conversation' USING ERRCODE = 'P0002';
    END IF;
    IF (SELECT c.kind FROM public.conversations c WHERE c.id = conversation) <> 'group' THEN
        RAISE EXCEPTION 'conversation_id: direct conversations cannot be left; block the user instead' USING ERRCODE = '22023';
    END IF;
    IF mine = 'owner'
        AND NOT EXISTS (SELECT 1 FROM public.participants p WHERE p.conversation_id = conversation AND p.role = 'owner' AND p.user_id <> auth.uid())
        AND EXISTS (SELECT 1 FROM public.participants p WHERE p.conversation_id = conversation AND p.user_id <> auth.uid()) THEN
        RAISE EXCEPTION 'you are the last owner: make another member owner before leaving' USING ERRCODE = '42501';
    END IF;
    DELETE FROM public.participants p WHERE p.conversation_id = conversation AND p.user_id = auth.uid();
    IF NOT EXISTS (SELECT 1 FROM public.participants p WHERE p.conversation_id = conversation) THEN
        DELETE FROM public.conversations c WHERE c.id = conversation;
    END IF;
END
$$;

REVOKE ALL ON FUNCTION public.chat_get_or_create_dm(uuid), public.chat_check_new_member(uuid),
    public.chat_create_group(text, uuid[]), public.chat_add_members(uuid, uuid[]), public.chat_remove_member(uuid, uuid),
    public.chat_set_member_role(uuid, uuid, text), public.chat_leave(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.chat_get_or_create_dm(uuid), public.chat_create_group(text, uuid[]),
    public.chat_add_members(uuid, uuid[]), public.chat_remove_member(uuid, uuid),
    public.chat_set_member_role(uuid, uuid, text), public.chat_leave(uuid) TO authenticated;
