-- Reels (issue 15): short vertical videos. The reels schema belongs to the Reels module
-- alone; this migration holds the reel itself and who may see it. The pipeline (jobs,
-- upload policies), the interactions, the feed's config versions and the arbiter's state
-- come in the migrations that follow (docs/reels.md).
--
--   reels.reels   readable under RLS: the author always; anyone else only a reel that is
--                 ready, approved (moderation fails closed), visible to them (public;
--                 followers: accepted followers; private: nobody) from an account whose
--                 content they may see (public account, or an accepted follower of a
--                 private one) and with no block either way. No client role writes it:
--                 every change goes through the server (owner-only functions or the owner).

CREATE SCHEMA reels;
GRANT USAGE ON SCHEMA reels TO authenticated, service_role;

-- Social's seam for reels: whether `follower` is an accepted follower of `followee`.
-- (Social owns public.follows; other modules ask through functions like this one.)
CREATE FUNCTION public.is_accepted_follower(follower uuid, followee uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT EXISTS (SELECT 1 FROM public.follows f
                   WHERE f.follower_id = follower AND f.following_id = followee AND f.status = 'accepted')
$$;
REVOKE ALL ON FUNCTION public.is_accepted_follower(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.is_accepted_follower(uuid, uuid) TO authenticated, service_role;

CREATE TABLE reels.reels (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    author_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    caption text NOT NULL DEFAULT '' CHECK (char_length(caption) <= 2200),
    -- Lower-cased tags extracted from the caption (docs/reels.md), at most 30.
    hashtags text[] NOT NULL DEFAULT '{}' CHECK (cardinality(hashtags) <= 30),
    visibility text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'followers', 'private')),
    moderation text NOT NULL DEFAULT 'pending' CHECK (moderation IN ('pending', 'approved', 'rejected')),
    moderation_reason text CHECK (char_length(moderation_reason) <= 500),
    state text NOT NULL DEFAULT 'uploaded' CHECK (state IN ('uploaded', 'processing', 'ready', 'failed')),
    -- Why processing failed, in words the author can act on.
    failure_reason text CHECK (char_length(failure_reason) <= 500),
    progress smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    -- The uploaded original (object name in the `reels` bucket).
    original_path text NOT NULL CHECK (octet_length(original_path) BETWEEN 1 AND 1024),
    -- Where the outputs live once ready (HLS ladder, MP4 fallback, poster); null before.
    media_prefix text CHECK (octet_length(media_prefix) <= 1024),
    renditions text[] NOT NULL DEFAULT '{}',
    duration_ms integer CHECK (duration_ms >= 0),
    width integer CHECK (width > 0),
    height integer CHECK (height > 0),
    like_count bigint NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    save_count bigint NOT NULL DEFAULT 0 CHECK (save_count >= 0),
    comment_count bigint NOT NULL DEFAULT 0 CHECK (comment_count >= 0),
    share_count bigint NOT NULL DEFAULT 0 CHECK (share_count >= 0),
    view_count bigint NOT NULL DEFAULT 0 CHECK (view_count >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    ready_at timestamptz
);
CREATE INDEX reels_author_idx ON reels.reels (author_id, created_at DESC, id);
CREATE INDEX reels_visible_idx ON reels.reels (created_at DESC, id) WHERE state = 'ready' AND moderation = 'approved';
CREATE INDEX reels_hashtags_idx ON reels.reels USING gin (hashtags);
ALTER TABLE reels.reels ENABLE ROW LEVEL SECURITY;

-- Whether the current user may see `reel` (the rule above, in one place for every policy
-- and function of the reels schema).
CREATE FUNCTION reels.can_view(author uuid, visibility text, state text, moderation text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = ''
AS $$
    SELECT author = auth.uid()
        OR (state = 'ready' AND moderation = 'approved'
            AND auth.uid() IS NOT NULL
            AND visibility <> 'private'
            AND (visibility = 'public' OR public.is_accepted_follower(auth.uid(), author))
            AND public.can_see_connections(author)
            AND NOT public.is_blocked_between(auth.uid(), author))
$$;
REVOKE ALL ON FUNCTION reels.can_view(uuid, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reels.can_view(uuid, text, text, text) TO authenticated, service_role;

GRANT SELECT ON reels.reels TO authenticated;
GRANT ALL ON reels.reels TO service_role;
DROP POLICY IF EXISTS reels_select ON reels.reels;
CREATE POLICY reels_select ON reels.reels FOR SELECT TO authenticated
    USING (reels.can_view(author_id, visibility, state, moderation));
DROP POLICY IF EXISTS reels_service ON reels.reels;
CREATE POLICY reels_service ON reels.reels FOR ALL TO service_role USING (true) WITH CHECK (true);
