-- Reels interactions (issue 15): what viewers do with a reel — likes, saves, comments (one
-- level of replies), shares, views (watched time), impressions, "not interested", hide and
-- reports — and the reel record every reel-returning RPC uses (docs/reels.md).
--
-- No client role writes these tables: the server writes them as the owner after checking,
-- with the caller's claims set, that the caller may see the reel (reels.can_view). Clients
-- read under RLS: their own likes, saves, shares, views, impressions, marks and reports;
-- the comments of reels they may see (not those of an account blocked either way).
--
-- Counters on reels.reels are kept by triggers in the same transaction as the row change,
-- so they are exact under concurrency (the reel's row lock serialises the increments) and
-- stay exact when rows go with a deleted user or comment thread. Views and shares are
-- events: their counters only grow (pruning old events does not lower them).

-- ===== Social seam (Social owns public.profiles; Reels reads author cards through this) ====

-- A profile's card for lists of content: id, username, display name, avatar. A user who has
-- blocked the current user (and whom the current user has not blocked) shows as an empty card
-- with the id only, as public.profiles' own read policy would hide them.
CREATE FUNCTION public.profile_card(profile uuid) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT CASE
        WHEN p.id <> auth.uid() AND public.has_blocked(p.id, auth.uid()) AND NOT public.has_blocked(auth.uid(), p.id)
            THEN jsonb_build_object('id', p.id, 'username', NULL, 'display_name', '', 'avatar_url', NULL)
        ELSE jsonb_build_object('id', p.id, 'username', p.username, 'display_name', p.display_name, 'avatar_url', p.avatar_url)
    END
    FROM public.profiles p WHERE p.id = profile
$$;
REVOKE ALL ON FUNCTION public.profile_card(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.profile_card(uuid) TO authenticated, service_role;

-- ===== Tables =====

-- One like per user and reel.
CREATE TABLE reels.likes (
    reel_id uuid NOT NULL REFERENCES reels.reels (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (reel_id, user_id)
);
CREATE INDEX likes_user_idx ON reels.likes (user_id, created_at DESC, reel_id);
ALTER TABLE reels.likes ENABLE ROW LEVEL SECURITY;

-- One save per user and reel (the user's saved list, newest first).
CREATE TABLE reels.saves (
    reel_id uuid NOT NULL REFERENCES reels.reels (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (reel_id, user_id)
);
CREATE INDEX saves_user_idx ON reels.saves (user_id, created_at DESC, reel_id);
ALTER TABLE reels.saves ENABLE ROW LEVEL SECURITY;

-- Comments, threaded one level: a reply's parent is always a top comment of the same reel
-- (a reply to a reply is attached to its top comment by reels.comment_thread below).
-- Deleting a top comment deletes its replies.
CREATE TABLE reels.comments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reel_id uuid NOT NULL REFERENCES reels.reels (id) ON DELETE CASCADE,
    author_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    parent_id uuid,
    body text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 2000),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, reel_id),
    FOREIGN KEY (parent_id, reel_id) REFERENCES reels.comments (id, reel_id) ON DELETE CASCADE
);
CREATE INDEX comments_top_idx ON reels.comments (reel_id, created_at DESC, id) WHERE parent_id IS NULL;
CREATE INDEX comments_replies_idx ON reels.comments (parent_id, created_at, id) WHERE parent_id IS NOT NULL;
CREATE INDEX comments_author_idx ON reels.comments (author_id, created_at DESC);
ALTER TABLE reels.comments ENABLE ROW LEVEL SECURITY;

-- Shares (events): where the reel was shared to.
CREATE TABLE reels.shares (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reel_id uuid NOT NULL REFERENCES reels.reels (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    target text NOT NULL DEFAULT 'link' CHECK (target IN ('chat', 'link', 'external')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shares_reel_idx ON reels.shares (reel_id);
CREATE INDEX shares_user_idx ON reels.shares (user_id, created_at DESC);
ALTER TABLE reels.shares ENABLE ROW LEVEL SECURITY;

-- Views (events): how long the viewer watched, in milliseconds (at most an hour).
CREATE TABLE reels.views (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reel_id uuid NOT NULL REFERENCES reels.reels (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    watched_ms integer NOT NULL CHECK (watched_ms BETWEEN 0 AND 3600000),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX views_reel_idx ON reels.views (reel_id);
CREATE INDEX views_user_idx ON reels.views (user_id, created_at DESC);
ALTER TABLE reels.views ENABLE ROW LEVEL SECURITY;

-- Impressions (events): a reel was shown to the user (the feed's frequency cap; the
-- arbiter's measure of traffic).
CREATE TABLE reels.impressions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reel_id uuid NOT NULL REFERENCES reels.reels (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX impressions_user_idx ON reels.impressions (user_id, created_at);
CREATE INDEX impressions_time_idx ON reels.impressions (created_at);
ALTER TABLE reels.impressions ENABLE ROW LEVEL SECURITY;

-- "Not interested" marks (the feed shows the reel no more and ranks its author lower).
CREATE TABLE reels.not_interested (
    reel_id uuid NOT NULL REFERENCES reels.reels (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, reel_id)
);
CREATE INDEX not_interested_reel_idx ON reels.not_interested (reel_id);
ALTER TABLE reels.not_interested ENABLE ROW LEVEL SECURITY;

-- Hidden reels (never shown to the user again).
CREATE TABLE reels.hidden (
    reel_id uuid NOT NULL REFERENCES reels.reels (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, reel_id)
);
CREATE INDEX hidden_reel_idx ON reels.hidden (reel_id);
ALTER TABLE reels.hidden ENABLE ROW LEVEL SECURITY;

-- Reports, one per user and reel (a second report replaces the first); reported reels
-- leave the reporter's feed.
CREATE TABLE reels.reports (
    reel_id uuid NOT NULL REFERENCES reels.reels (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    reason text NOT NULL CHECK (reason IN ('spam', 'violence', 'nudity', 'hate', 'other')),
    details text CHECK (char_length(details) <= 1000),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (reel_id, user_id)
);
CREATE INDEX reports_user_idx ON reels.reports (user_id, reel_id);
CREATE INDEX reports_time_idx ON reels.reports (created_at DESC);
ALTER TABLE reels.reports ENABLE ROW LEVEL SECURITY;

-- ===== Threads and counters =====

-- A reply to a reply becomes a reply to its top comment.
CREATE FUNCTION reels.comment_thread() RETURNS trigger
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    top uuid;
BEGIN
    IF NEW.parent_id IS NOT NULL THEN
        SELECT c.parent_id INTO top FROM reels.comments c WHERE c.id = NEW.parent_id;
        IF top IS NOT NULL THEN
            NEW.parent_id := top;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION reels.comment_thread() FROM PUBLIC;
CREATE TRIGGER comments_thread BEFORE INSERT ON reels.comments
    FOR EACH ROW EXECUTE FUNCTION reels.comment_thread();

-- Moves the reel's counter named by the trigger's argument: +1 for an insert, -1 for a
-- delete (a deleted reel's own cascade finds no row to update).
CREATE FUNCTION reels.count_interaction() RETURNS trigger
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    reel uuid;
    delta integer;
BEGIN
    IF TG_OP = 'INSERT' THEN
        reel := NEW.reel_id;
        delta := 1;
    ELSE
        reel := OLD.reel_id;
        delta := -1;
    END IF;
    CASE TG_ARGV[0]
        WHEN 'likes' THEN UPDATE reels.reels SET like_count = like_count + delta WHERE id = reel;
        WHEN 'saves' THEN UPDATE reels.reels SET save_count = save_count + delta WHERE id = reel;
        WHEN 'comments' THEN UPDATE reels.reels SET comment_count = comment_count + delta WHERE id = reel;
        WHEN 'shares' THEN UPDATE reels.reels SET share_count = share_count + delta WHERE id = reel;
        WHEN 'views' THEN UPDATE reels.reels SET view_count = view_count + delta WHERE id = reel;
    END CASE;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION reels.count_interaction() FROM PUBLIC;
CREATE TRIGGER likes_count AFTER INSERT OR DELETE ON reels.likes
    FOR EACH ROW EXECUTE FUNCTION reels.count_interaction('likes');
CREATE TRIGGER saves_count AFTER INSERT OR DELETE ON reels.saves
    FOR EACH ROW EXECUTE FUNCTION reels.count_interaction('saves');
CREATE TRIGGER comments_count AFTER INSERT OR DELETE ON reels.comments
    FOR EACH ROW EXECUTE FUNCTION reels.count_interaction('comments');
CREATE TRIGGER shares_count AFTER INSERT ON reels.shares
    FOR EACH ROW EXECUTE FUNCTION reels.count_interaction('shares');
CREATE TRIGGER views_count AFTER INSERT ON reels.views
    FOR EACH ROW EXECUTE FUNCTION reels.count_interaction('views');

-- ===== The reel record =====

-- A reel as every reel-returning RPC shows it to the current user (auth.uid()), without
-- `media` (null here; the server fills it for ready reels): the author's card, caption,
-- hashtags, visibility, moderation, state and progress, the failure reason (the author
-- only), duration and size, the counters and whether the user liked and saved it.
CREATE FUNCTION reels.record(r reels.reels) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = ''
AS $$
    SELECT jsonb_build_object(
        'id', r.id,
        'author', public.profile_card(r.author_id),
        'caption', r.caption,
        'hashtags', to_jsonb(r.hashtags),
        'visibility', r.visibility,
        'moderation', r.moderation,
        'state', r.state,
        'progress', r.progress,
        'failure_reason', CASE WHEN r.author_id = auth.uid() THEN r.failure_reason END,
        'duration_ms', r.duration_ms,
        'width', r.width,
        'height', r.height,
        'media', NULL,
        'counts', jsonb_build_object('likes', r.like_count, 'saves', r.save_count, 'comments', r.comment_count,
                                     'shares', r.share_count, 'views', r.view_count),
        'viewer', jsonb_build_object(
            'liked', EXISTS (SELECT 1 FROM reels.likes l WHERE l.reel_id = r.id AND l.user_id = auth.uid()),
            'saved', EXISTS (SELECT 1 FROM reels.saves s WHERE s.reel_id = r.id AND s.user_id = auth.uid())),
        'created_at', r.created_at)
$$;
REVOKE ALL ON FUNCTION reels.record(reels.reels) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reels.record(reels.reels) TO authenticated, service_role;

-- ===== Access =====

GRANT SELECT ON reels.likes, reels.saves, reels.comments, reels.shares, reels.views, reels.impressions,
    reels.not_interested, reels.hidden, reels.reports TO authenticated;
GRANT ALL ON reels.likes, reels.saves, reels.comments, reels.shares, reels.views, reels.impressions,
    reels.not_interested, reels.hidden, reels.reports TO service_role;

DROP POLICY IF EXISTS likes_own ON reels.likes;
CREATE POLICY likes_own ON reels.likes FOR SELECT TO authenticated USING (user_id = auth.uid());
DROP POLICY IF EXISTS likes_service ON reels.likes;
CREATE POLICY likes_service ON reels.likes FOR ALL TO service_role USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS saves_own ON reels.saves;
CREATE POLICY saves_own ON reels.saves FOR SELECT TO authenticated USING (user_id = auth.uid());
DROP POLICY IF EXISTS saves_service ON reels.saves;
CREATE POLICY saves_service ON reels.saves FOR ALL TO service_role USING (true) WITH CHECK (true);

-- The comments of a reel the user may see, from nobody blocked either way.
DROP POLICY IF EXISTS comments_visible ON reels.comments;
CREATE POLICY comments_visible ON reels.comments FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM reels.reels r
                   WHERE r.id = reel_id AND reels.can_view(r.author_id, r.visibility, r.state, r.moderation))
           AND NOT public.is_blocked_between(auth.uid(), author_id));
DROP POLICY IF EXISTS comments_service ON reels.comments;
CREATE POLICY comments_service ON reels.comments FOR ALL TO service_role USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS shares_own ON reels.shares;
CREATE POLICY shares_own ON reels.shares FOR SELECT TO authenticated USING (user_id = auth.uid());
DROP POLICY IF EXISTS shares_service ON reels.shares;
CREATE POLICY shares_service ON reels.shares FOR ALL TO service_role USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS views_own ON reels.views;
CREATE POLICY views_own ON reels.views FOR SELECT TO authenticated USING (user_id = auth.uid());
DROP POLICY IF EXISTS views_service ON reels.views;
CREATE POLICY views_service ON reels.views FOR ALL TO service_role USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS impressions_own ON reels.impressions;
CREATE POLICY impressions_own ON reels.impressions FOR SELECT TO authenticated USING (user_id = auth.uid());
DROP POLICY IF EXISTS impressions_service ON reels.impressions;
CREATE POLICY impressions_service ON reels.impressions FOR ALL TO service_role USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS not_interested_own ON reels.not_interested;
CREATE POLICY not_interested_own ON reels.not_interested FOR SELECT TO authenticated USING (user_id = auth.uid());
DROP POLICY IF EXISTS not_interested_service ON reels.not_interested;
CREATE POLICY not_interested_service ON reels.not_interested FOR ALL TO service_role USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS hidden_own ON reels.hidden;
CREATE POLICY hidden_own ON reels.hidden FOR SELECT TO authenticated USING (user_id = auth.uid());
DROP POLICY IF EXISTS hidden_service ON reels.hidden;
CREATE POLICY hidden_service ON reels.hidden FOR ALL TO service_role USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS reports_own ON reels.reports;
CREATE POLICY reports_own ON reels.reports FOR SELECT TO authenticated USING (user_id = auth.uid());
DROP POLICY IF EXISTS reports_service ON reels.reports;
CREATE POLICY reports_service ON reels.reports FOR ALL TO service_role USING (true) WITH CHECK (true);
