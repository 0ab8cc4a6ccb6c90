-- Profiles, follows and blocks, readable and writable only as the policies below allow.

CREATE TABLE public.profiles (
    id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    -- Stored lower-case, so uniqueness is case-insensitive.
    username text UNIQUE CHECK (username ~ '^[a-z0-9_]{3,32}$'),
    display_name text NOT NULL DEFAULT '' CHECK (char_length(display_name) <= 64),
    bio text NOT NULL DEFAULT '' CHECK (char_length(bio) <= 500),
    avatar_url text CHECK (avatar_url IS NULL OR (char_length(avatar_url) <= 2048 AND avatar_url ~* '^https?://')),
    is_private boolean NOT NULL DEFAULT false,
    last_seen_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX profiles_username_prefix_idx ON public.profiles (username text_pattern_ops);
CREATE INDEX profiles_display_name_prefix_idx ON public.profiles (lower(display_name) text_pattern_ops);
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;

CREATE TABLE public.follows (
    follower_id uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    following_id uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    status text NOT NULL CHECK (status IN ('pending', 'accepted')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, following_id),
    CHECK (follower_id <> following_id)
);
CREATE INDEX follows_following_idx ON public.follows (following_id, status, created_at DESC, follower_id);
CREATE INDEX follows_follower_idx ON public.follows (follower_id, status, created_at DESC, following_id);
ALTER TABLE public.follows ENABLE ROW LEVEL SECURITY;

CREATE TABLE public.blocks (
    blocker_id uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    blocked_id uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX blocks_blocked_idx ON public.blocks (blocked_id, blocker_id);
ALTER TABLE public.blocks ENABLE ROW LEVEL SECURITY;

-- A profile for every new user.
CREATE FUNCTION public.create_profile_for_new_user() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    INSERT INTO public.profiles (id) VALUES (NEW.id);
    RETURN NEW;
END
$$;
CREATE TRIGGER users_create_profile AFTER INSERT ON auth.users
FOR EACH ROW EXECUTE FUNCTION public.create_profile_for_new_user();

-- Policy helpers. SECURITY DEFINER so a policy can consult blocks and privacy without
-- recursing into the policies of those tables.

-- Whether `blocker` has blocked `blocked`.
CREATE FUNCTION public.has_blocked(blocker uuid, blocked uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT EXISTS (SELECT 1 FROM public.blocks b WHERE b.blocker_id = blocker AND b.blocked_id = blocked) $$;

-- Whether either user has blocked the other.
CREATE FUNCTION public.is_blocked_between(a uuid, b uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT public.has_blocked(a, b) OR public.has_blocked(b, a) $$;

-- Whether the current user may see whom `owner` follows and who follows them:
-- themselves, anyone for public accounts, accepted followers for private ones.
CREATE FUNCTION public.can_see_connections(owner uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT owner = auth.uid()
        OR (NOT public.has_blocked(owner, auth.uid())
            AND (NOT coalesce((SELECT p.is_private FROM public.profiles p WHERE p.id = owner), true)
                 OR EXISTS (SELECT 1 FROM public.follows f
                            WHERE f.follower_id = auth.uid() AND f.following_id = owner AND f.status = 'accepted')))
$$;

-- The status a new follow of `target` must have: a request for private accounts.
CREATE FUNCTION public.initial_follow_status(target uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT CASE WHEN p.is_private THEN 'pending' ELSE 'accepted' END FROM public.profiles p WHERE p.id = target $$;

-- Accepted followers and followings of a user: public numbers, the same for every viewer.
CREATE FUNCTION public.follow_counts(owner uuid, OUT followers bigint, OUT following bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT (SELECT count(*) FROM public.follows f WHERE f.following_id = owner AND f.status = 'accepted'),
           (SELECT count(*) FROM public.follows f WHERE f.follower_id = owner AND f.status = 'accepted')
$$;

REVOKE ALL ON FUNCTION public.has_blocked(uuid, uuid), public.is_blocked_between(uuid, uuid),
    public.can_see_connections(uuid), public.initial_follow_status(uuid), public.follow_counts(uuid),
    public.create_profile_for_new_user() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.has_blocked(uuid, uuid), public.is_blocked_between(uuid, uuid),
    public.can_see_connections(uuid), public.initial_follow_status(uuid), public.follow_counts(uuid) TO authenticated;

-- profiles: everyone signed in reads public fields, except profiles of users who blocked
-- them (unless they blocked that user too, so they can still find and unblock them); each
-- user edits only their own editable columns.
GRANT SELECT ON public.profiles TO authenticated;
GRANT UPDATE (username, display_name, bio, avatar_url, is_private, last_seen_at, updated_at) ON public.profiles TO authenticated;
DROP POLICY IF EXISTS profiles_read ON public.profiles;
CREATE POLICY profiles_read ON public.profiles FOR SELECT TO authenticated
    USING (id = auth.uid() OR NOT public.has_blocked(id, auth.uid()) OR public.has_blocked(auth.uid(), id));
DROP POLICY IF EXISTS profiles_update_own ON public.profiles;
CREATE POLICY profiles_update_own ON public.profiles FOR UPDATE TO authenticated
    USING (id = auth.uid()) WITH CHECK (id = auth.uid());

-- follows: both ends see their rows; others see accepted follows where allowed.
GRANT SELECT, INSERT, DELETE ON public.follows TO authenticated;
GRANT UPDATE (status) ON public.follows TO authenticated;
DROP POLICY IF EXISTS follows_read ON public.follows;
CREATE POLICY follows_read ON public.follows FOR SELECT TO authenticated
    USING (follower_id = auth.uid() OR following_id = auth.uid()
           OR (status = 'accepted'
               AND NOT public.has_blocked(follower_id, auth.uid())
               AND NOT public.has_blocked(following_id, auth.uid())
               AND (public.can_see_connections(follower_id) OR public.can_see_connections(following_id))));
DROP POLICY IF EXISTS follows_insert_own ON public.follows;
CREATE POLICY follows_insert_own ON public.follows FOR INSERT TO authenticated
    WITH CHECK (follower_id = auth.uid()
                AND NOT public.is_blocked_between(follower_id, following_id)
                AND status = public.initial_follow_status(following_id));
DROP POLICY IF EXISTS follows_accept_request ON public.follows;
CREATE POLICY follows_accept_request ON public.follows FOR UPDATE TO authenticated
    USING (following_id = auth.uid()) WITH CHECK (following_id = auth.uid() AND status = 'accepted');
DROP POLICY IF EXISTS follows_delete_either_end ON public.follows;
CREATE POLICY follows_delete_either_end ON public.follows FOR DELETE TO authenticated
    USING (follower_id = auth.uid() OR following_id = auth.uid());

-- blocks: private to the blocker.
GRANT SELECT, INSERT, DELETE ON public.blocks TO authenticated;
DROP POLICY IF EXISTS blocks_own ON public.blocks;
CREATE POLICY blocks_own ON public.blocks FOR ALL TO authenticated
    USING (blocker_id = auth.uid()) WITH CHECK (blocker_id = auth.uid());
