-- Limits on what a client can repeat, who may add whom to groups, signed list cursors, and
-- follow counts under the caller's visibility (issue 11, items 9 and 10).

-- Per-user token buckets for the mutating RPCs (docs/api.md §1.8). Only the server's own
-- role touches them, through public.take_action_tokens; clients have no grant.
CREATE TABLE public.action_buckets (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    action text NOT NULL CHECK (char_length(action) BETWEEN 1 AND 64),
    tokens double precision NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, action)
);
ALTER TABLE public.action_buckets ENABLE ROW LEVEL SECURITY;

-- Takes `cost` tokens from the user's bucket for `action` (capacity `burst`, refilled evenly
-- over `period_seconds`). Returns 0 when taken, else the seconds until enough tokens are
-- back (nothing is taken then). The upsert locks the bucket row, so concurrent callers on
-- any instance are counted exactly.
CREATE FUNCTION public.take_action_tokens(
    bucket_user uuid, bucket_action text, cost integer, burst integer, period_seconds integer
) RETURNS integer
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    rate double precision := burst::double precision / period_seconds;
    moment timestamptz := clock_timestamp();
    available double precision;
BEGIN
    INSERT INTO public.action_buckets AS b (user_id, action, tokens, updated_at)
    VALUES (bucket_user, bucket_action, burst, moment)
    ON CONFLICT (user_id, action) DO UPDATE
        SET tokens = least(burst, b.tokens + greatest(0, extract(epoch FROM moment - b.updated_at)) * rate),
            updated_at = greatest(b.updated_at, moment)
    RETURNING b.tokens INTO available;
    IF available >= cost THEN
        UPDATE public.action_buckets b SET tokens = b.tokens - cost
        WHERE b.user_id = bucket_user AND b.action = bucket_action;
        RETURN 0;
    END IF;
    RETURN greatest(1, ceil((cost - available) / rate))::integer;
END
$$;
REVOKE ALL ON FUNCTION public.take_action_tokens(uuid, text, integer, integer, integer) FROM PUBLIC;

-- The key that signs keyset cursors (one row), shared by every instance on this database.
-- Written once by the first instance that needs it; only the server's own role reads it.
CREATE TABLE public.cursor_signing_key (
    id smallint PRIMARY KEY CHECK (id = 1),
    key text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.cursor_signing_key ENABLE ROW LEVEL SECURITY;

-- Private settings of a profile, visible and editable only by its owner. No row means the
-- defaults. who_can_add_to_groups: 'everyone', 'contacts' (people the user follows) or
-- 'nobody' (Telegram's "Who can add me to group chats").
CREATE TABLE public.profile_settings (
    user_id uuid PRIMARY KEY REFERENCES public.profiles (id) ON DELETE CASCADE,
    who_can_add_to_groups text NOT NULL DEFAULT 'everyone'
        CHECK (who_can_add_to_groups IN ('everyone', 'contacts', 'nobody')),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.profile_settings ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT ON public.profile_settings TO authenticated;
GRANT UPDATE (who_can_add_to_groups, updated_at) ON public.profile_settings TO authenticated;
DROP POLICY IF EXISTS profile_settings_own ON public.profile_settings;
CREATE POLICY profile_settings_own ON public.profile_settings FOR ALL TO authenticated
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());

-- Whether the caller may add `member` to a group by that user's setting.
CREATE FUNCTION public.chat_may_add_to_groups(member uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT CASE coalesce((SELECT s.who_can_add_to_groups FROM public.profile_settings s WHERE s.user_id = member), 'everyone')
        WHEN 'everyone' THEN true
        WHEN 'contacts' THEN EXISTS (SELECT 1 FROM public.follows f
                                     WHERE f.follower_id = member AND f.following_id = auth.uid() AND f.status = 'accepted')
        ELSE false
    END
$$;
REVOKE ALL ON FUNCTION public.chat_may_add_to_groups(uuid) FROM PUBLIC;

-- Checks that the caller may add `member` to a group: an existing user, not blocked either
-- way with the caller, whose setting allows the caller to add them. The refusal names the
-- user (@username and id).
CREATE OR REPLACE FUNCTION public.chat_check_new_member(member uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    name text;
BEGIN
    IF public.is_blocked_between(auth.uid(), member) THEN
        RAISE EXCEPTION 'member_ids: % cannot be added: one of you has blocked the other', member USING ERRCODE = '42501';
    END IF;
    SELECT p.username INTO name FROM public.profiles p WHERE p.id = member;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'member_ids: no such user %', member USING ERRCODE = 'P0002';
    END IF;
    IF NOT public.chat_may_add_to_groups(member) THEN
        RAISE EXCEPTION 'member_ids: % cannot be added: their privacy settings do not allow you to add them to groups',
            coalesce('@' || name || ' (' || member || ')', member::text) USING ERRCODE = '42501';
    END IF;
END
$$;

-- Adds members to a group (owners and admins only); returns the users who were new.
-- Existing members are skipped before any check; one refused user adds nobody.
CREATE OR REPLACE FUNCTION public.chat_add_members(conversation uuid, members uuid[]) RETURNS uuid[]
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
        CONTINUE WHEN EXISTS (SELECT 1 FROM public.participants p WHERE p.conversation_id = conversation AND p.user_id = member);
        PERFORM public.chat_check_new_member(member);
        INSERT INTO public.participants (conversation_id, user_id) VALUES (conversation, member) ON CONFLICT DO NOTHING;
        IF FOUND THEN
            added := added || member;
        END IF;
    END LOOP;
    RETURN added;
END
$$;

-- Follow counts as docs/api.md promises: counted under the caller's visibility (the
-- follows_read policy), no longer the same public numbers for every viewer.
ALTER FUNCTION public.follow_counts(uuid) SECURITY INVOKER;
COMMENT ON FUNCTION public.follow_counts(uuid) IS
    'Accepted followers and followings of a user that the caller can see (row-level security of public.follows applies).';
