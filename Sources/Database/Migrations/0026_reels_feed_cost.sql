-- Reels feed cost (issue 15, item 7): the same snapshots and pages as 0024, for less work per
-- request. Measured on the bench data (100 000 reels, 10 000 users, ~440 affinity authors per
-- viewer), where a first page read ~20 000 buffers, most of them for the affinity authors'
-- reels and a profile lookup per reel:
--
--   reels.feed_affinity   PL/pgSQL, so its plan is kept per connection (an SQL function with
--                         definer rights is planned again on every call), and the weights are
--                         read from the config once instead of once per event.
--   reels_author_rank_idx the ready, approved reels of an author with what the ranking needs
--                         (id, rank_key, visibility): the affinity authors' reels are read
--                         from the index alone.
--   reels.feed_rank       who may be seen is decided once per affinity author (blocks, private
--                         accounts, follows) before their reels are read, not once per reel.
--   reels.feed_page       a page of a snapshot ranked in this very call is not checked again;
--                         a page looks at the next 4 × page_size unserved reels and only at
--                         the whole remainder when those do not fill it.
--   small functions       the config, the arbiter's switch, Social's follow/block seams, the
--                         profile card and the reel record are PL/pgSQL (plans kept).
--   reels.feed_page_as    a page in one statement for the server (claims set inside), instead
--                         of a transaction of four round trips.

-- As in 0023 (same values), in PL/pgSQL.
CREATE OR REPLACE FUNCTION reels.feed_affinity(viewer uuid, config jsonb) RETURNS TABLE (author_id uuid, affinity double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
#variable_conflict use_column
DECLARE
    w_follow double precision := (config #>> '{affinity_weights,follow}')::float8;
    w_likes double precision := (config #>> '{affinity_weights,likes}')::float8;
    w_comments double precision := (config #>> '{affinity_weights,comments}')::float8;
    w_saves double precision := (config #>> '{affinity_weights,saves}')::float8;
    w_shares double precision := (config #>> '{affinity_weights,shares}')::float8;
    w_views double precision := (config #>> '{affinity_weights,views}')::float8;
    sat double precision := (config ->> 'affinity_saturation')::float8;
    since timestamptz := now() - interval '90 days';
BEGIN
    RETURN QUERY
    WITH events AS (
        SELECT f AS author_id, 1 AS kind FROM public.accepted_followees(viewer) f
        UNION ALL SELECT r.author_id, 2 FROM reels.likes l JOIN reels.reels r ON r.id = l.reel_id
            WHERE l.user_id = viewer AND l.created_at > since
        UNION ALL SELECT r.author_id, 3 FROM reels.comments c JOIN reels.reels r ON r.id = c.reel_id
            WHERE c.author_id = viewer AND c.created_at > since
        UNION ALL SELECT r.author_id, 4 FROM reels.saves s JOIN reels.reels r ON r.id = s.reel_id
            WHERE s.user_id = viewer AND s.created_at > since
        UNION ALL SELECT r.author_id, 5 FROM reels.shares s JOIN reels.reels r ON r.id = s.reel_id
            WHERE s.user_id = viewer AND s.created_at > since
        UNION ALL SELECT r.author_id, 6 FROM reels.views v JOIN reels.reels r ON r.id = v.reel_id
            WHERE v.user_id = viewer AND v.created_at > since
    ), counts AS (
        SELECT e.author_id, count(*) FILTER (WHERE e.kind = 1) AS follows, count(*) FILTER (WHERE e.kind = 2) AS likes,
               count(*) FILTER (WHERE e.kind = 3) AS comments, count(*) FILTER (WHERE e.kind = 4) AS saves,
               count(*) FILTER (WHERE e.kind = 5) AS shares, count(*) FILTER (WHERE e.kind = 6) AS views
        FROM events e WHERE e.author_id <> viewer GROUP BY e.author_id
    )
    SELECT c.author_id,
           least(1.0, w_follow * least(1.0, c.follows)
               + w_likes * least(1.0, c.likes / sat)
               + w_comments * least(1.0, c.comments / sat)
               + w_saves * least(1.0, c.saves / sat)
               + w_shares * least(1.0, c.shares / sat)
               + w_views * least(1.0, c.views / sat))
    FROM counts c;
END
$$;
REVOKE ALL ON FUNCTION reels.feed_affinity(uuid, jsonb) FROM PUBLIC;

-- lint:allow index-without-concurrently reason: the migrator runs in a transaction; reels is young
CREATE INDEX reels_author_rank_idx ON reels.reels (author_id, created_at DESC) INCLUDE (id, rank_key, visibility)
    WHERE state = 'ready' AND moderation = 'approved';

-- As in 0024 (same candidates, same order); affinity authors the viewer may not see (blocked
-- either way, or a private account they do not follow) are dropped before their reels are
-- read, and whether each is followed is known per author.
CREATE OR REPLACE FUNCTION reels.feed_rank(viewer uuid, config jsonb, recency boolean, exclude uuid[]) RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    size integer := (config ->> 'session_size')::integer;
    since timestamptz := now() - make_interval(secs => (config ->> 'candidate_days')::float8 * 86400);
    share double precision := (config ->> 'exploration_share')::float8;
    affinity_weight double precision := (config ->> 'affinity_weight')::float8;
    followed uuid[] := ARRAY(SELECT DISTINCT f FROM public.accepted_followees(viewer) f);
    blocked uuid[] := ARRAY(SELECT DISTINCT b FROM public.blocked_either_way(viewer) b);
    skip uuid[];
    known_authors uuid[];
    seen_authors uuid[];
    seen_values double precision[];
    seen_followed boolean[];
BEGIN
    skip := ARRAY(
        SELECT DISTINCT s.id FROM (
            SELECT e.id FROM unnest(exclude) e(id)
            UNION ALL SELECT h.reel_id FROM reels.hidden h WHERE h.user_id = viewer
            UNION ALL SELECT n.reel_id FROM reels.not_interested n WHERE n.user_id = viewer
            UNION ALL SELECT x.reel_id FROM reels.reports x WHERE x.user_id = viewer
            UNION ALL (SELECT i.reel_id FROM reels.impressions i
                       WHERE i.user_id = viewer
                         AND i.created_at > now() - make_interval(secs => (config ->> 'impression_window_hours')::float8 * 3600)
                       GROUP BY i.reel_id HAVING count(*) >= (config ->> 'impression_cap')::integer)
        ) s);
    IF recency THEN
        RETURN ARRAY(
            SELECT r.id FROM reels.reels r
            WHERE r.state = 'ready' AND r.moderation = 'approved' AND r.created_at > since
              AND r.author_id IS DISTINCT FROM viewer AND r.visibility <> 'private'
              AND (r.visibility = 'public' OR r.author_id = ANY (followed))
              AND (r.author_id = ANY (followed)
                   OR COALESCE((SELECT NOT p.is_private FROM public.profiles p WHERE p.id = r.author_id), false))
              AND r.author_id <> ALL (blocked) AND r.id <> ALL (skip)
            ORDER BY r.created_at DESC, r.id DESC
            LIMIT size);
    END IF;
    WITH known AS MATERIALIZED (
        SELECT a.author_id, a.affinity, a.author_id = ANY (followed) AS followed
        FROM reels.feed_affinity(viewer, config) a WHERE a.affinity > 0
    ), seen AS (
        SELECT k.* FROM known k
        WHERE k.author_id <> ALL (blocked)
          AND (k.followed OR COALESCE((SELECT NOT p.is_private FROM public.profiles p WHERE p.id = k.author_id), false))
    )
    SELECT (SELECT COALESCE(array_agg(k.author_id), '{}') FROM known k),
           COALESCE(array_agg(s.author_id), '{}'), COALESCE(array_agg(s.affinity), '{}'), COALESCE(array_agg(s.followed), '{}')
    INTO known_authors, seen_authors, seen_values, seen_followed
    FROM seen s;
    IF cardinality(known_authors) = 0 THEN
        share := 1.0;
    END IF;
    RETURN ARRAY(
        WITH top AS (
            (SELECT r.id, r.created_at, true AS known, r.rank_key + ln(1 + affinity_weight * k.affinity) AS key
             FROM unnest(seen_authors, seen_values, seen_followed) AS k(author_id, affinity, followed)
             CROSS JOIN LATERAL (
                 -- One index range per author (the LIMIT keeps the planner from turning this
                 -- into a scan of every candidate when the visibility map is not yet set).
                 SELECT r.id, r.created_at, r.rank_key FROM reels.reels r
                 WHERE r.author_id = k.author_id AND r.state = 'ready' AND r.moderation = 'approved'
                   AND r.created_at > since AND r.visibility <> 'private' AND (r.visibility = 'public' OR k.followed)
                   AND r.id <> ALL (skip)
                 ORDER BY r.rank_key DESC, r.created_at DESC, r.id DESC LIMIT size) r
             ORDER BY 4 DESC, r.created_at DESC, r.id DESC LIMIT size)
            UNION ALL
            (SELECT r.id, r.created_at, false, r.rank_key FROM reels.reels r
             WHERE r.state = 'ready' AND r.moderation = 'approved' AND r.created_at > since
               AND r.author_id IS DISTINCT FROM viewer AND r.visibility <> 'private'
               AND (r.visibility = 'public' OR r.author_id = ANY (followed))
               AND (r.author_id = ANY (followed)
                    OR COALESCE((SELECT NOT p.is_private FROM public.profiles p WHERE p.id = r.author_id), false))
               AND r.author_id <> ALL (blocked) AND r.id <> ALL (skip)
               AND r.author_id <> ALL (known_authors)
             ORDER BY r.rank_key DESC, r.created_at DESC, r.id DESC LIMIT size)
        ), numbered AS (
            SELECT t.*, row_number() OVER (PARTITION BY t.known ORDER BY t.key DESC, t.created_at DESC, t.id DESC) AS n
            FROM top t
        )
        SELECT v.id FROM numbered v
        ORDER BY CASE WHEN v.known THEN (CASE WHEN share >= 1 THEN 1e9 + v.n ELSE v.n / (1 - share) END)
                      ELSE (CASE WHEN share <= 0 THEN 1e9 + v.n ELSE v.n / share END) END,
                 v.known DESC, v.n
        LIMIT size);
END
$$;
REVOKE ALL ON FUNCTION reels.feed_rank(uuid, jsonb, boolean, uuid[]) FROM PUBLIC;

-- As in 0024, with two savings. A page taken from a snapshot ranked in this call (a new
-- session, or one ranked again after the mode or config changed) skips the visibility check
-- the ranking just made. And a page looks at the next 4 × page_size unserved reels of the
-- snapshot first, and at the whole remainder (at most 300, as before) only when those do not
-- fill it: the per-author cap counts over a prefix of the same order, so the page is the one
-- the whole remainder would give.
CREATE OR REPLACE FUNCTION reels.feed_page(session uuid, page integer, page_size integer) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    viewer uuid := auth.uid();
    config reels.feed_configs%ROWTYPE;
    suppressed boolean := reels.feed_suppressed();
    wanted_mode text;
    s reels.feed_sessions%ROWTYPE;
    ids uuid[];
    first_index integer;
    fresh boolean := false;
    unserved uuid[];
    cap integer;
    window_size integer;
BEGIN
    IF page_size IS NULL OR page_size < 1 OR page_size > 30 THEN
        RAISE EXCEPTION 'limit: must be between 1 and 30' USING ERRCODE = '22023';
    END IF;
    SELECT a.version, a.body INTO config.version, config.body FROM reels.active_feed_config() a;
    cap := (config.body ->> 'max_per_author')::integer;
    wanted_mode := CASE WHEN suppressed THEN 'recency' ELSE 'personalised' END;
    IF session IS NULL THEN
        DELETE FROM reels.feed_sessions x
        WHERE x.id IN (SELECT e.id FROM reels.feed_sessions e WHERE e.expires_at < now() LIMIT 50);
        INSERT INTO reels.feed_sessions (viewer_id, mode, config_version, ranked, expires_at)
        VALUES (viewer, wanted_mode, config.version, reels.feed_rank(viewer, config.body, suppressed, '{}'), now() + interval '1 hour')
        RETURNING * INTO s;
        page := 0;
        fresh := true;
    ELSE
        SELECT * INTO s FROM reels.feed_sessions x WHERE x.id = session AND x.viewer_id IS NOT DISTINCT FROM viewer FOR UPDATE;
        IF NOT FOUND OR s.expires_at < now() THEN
            RAISE EXCEPTION 'cursor: the feed session expired; ask again without a cursor' USING ERRCODE = '22023';
        END IF;
        IF page < cardinality(s.page_ends) THEN
            first_index := CASE WHEN page = 0 THEN 0 ELSE s.page_ends[page] END;
            ids := ARRAY(
                SELECT u.id FROM unnest(COALESCE(s.served[first_index + 1 : s.page_ends[page + 1]], '{}')) WITH ORDINALITY AS u(id, ord)
                JOIN reels.feed_visible(viewer, NULL, s.served[first_index + 1 : s.page_ends[page + 1]]) v ON v.id = u.id
                ORDER BY u.ord);
            RETURN jsonb_build_object('session', s.id, 'page', page, 'mode', s.mode,
                'ids', to_jsonb(ids), 'items', reels.feed_items(ids),
                'more', page + 1 < cardinality(s.page_ends)
                        OR EXISTS (SELECT 1 FROM unnest(s.ranked) u(id) WHERE NOT (u.id = ANY (s.served))));
        ELSIF page > cardinality(s.page_ends) THEN
            RAISE EXCEPTION 'cursor: must be a cursor returned by a previous page' USING ERRCODE = '22023';
        END IF;
        IF s.mode <> wanted_mode OR s.config_version <> config.version THEN
            UPDATE reels.feed_sessions x
            SET mode = wanted_mode, config_version = config.version,
                ranked = reels.feed_rank(viewer, config.body, suppressed, s.served)
            WHERE x.id = s.id RETURNING * INTO s;
            fresh := true;
        END IF;
    END IF;
    -- The snapshot's reels not served yet, in order (as before, at most 300 are looked at).
    unserved := ARRAY(SELECT w.id FROM unnest(s.ranked) WITH ORDINALITY AS w(id, ord)
                      WHERE NOT (w.id = ANY (s.served)) ORDER BY w.ord LIMIT 300);
    window_size := 4 * page_size;
    LOOP
        IF fresh THEN
            ids := ARRAY(
                SELECT c.id FROM (
                    SELECT u.id, u.ord, row_number() OVER (PARTITION BY r.author_id ORDER BY u.ord) AS nth
                    FROM unnest(unserved[1 : window_size]) WITH ORDINALITY AS u(id, ord)
                    JOIN reels.reels r ON r.id = u.id
                ) c
                WHERE c.nth <= cap
                ORDER BY c.ord
                LIMIT page_size);
        ELSE
            ids := ARRAY(
                SELECT c.id FROM (
                    SELECT u.id, u.ord, row_number() OVER (PARTITION BY r.author_id ORDER BY u.ord) AS nth
                    FROM unnest(unserved[1 : window_size]) WITH ORDINALITY AS u(id, ord)
                    JOIN reels.feed_visible(viewer, NULL, unserved[1 : window_size]) r ON r.id = u.id
                ) c
                WHERE c.nth <= cap
                ORDER BY c.ord
                LIMIT page_size);
        END IF;
        EXIT WHEN cardinality(ids) >= page_size OR window_size >= cardinality(unserved);
        window_size := cardinality(unserved);
    END LOOP;
    UPDATE reels.feed_sessions x
    SET served = x.served || ids, page_ends = x.page_ends || (cardinality(x.served) + cardinality(ids))
    WHERE x.id = s.id
    RETURNING * INTO s;
    RETURN jsonb_build_object('session', s.id, 'page', page, 'mode', s.mode, 'ids', to_jsonb(ids), 'items', reels.feed_items(ids),
        'more', cardinality(ids) > 0 AND EXISTS (SELECT 1 FROM unnest(s.ranked) u(id) WHERE NOT (u.id = ANY (s.served))));
END
$$;
REVOKE ALL ON FUNCTION reels.feed_page(uuid, integer, integer) FROM PUBLIC;

-- Functions each page calls, some once per reel: as SQL functions with definer rights they
-- were planned and started again on every call (~0.3 ms a reel for the record); in PL/pgSQL
-- their statements' plans are kept per connection. Same results as before (0020, 0022, 0023).

-- As in 0023 (the seeded version 1 when none is active).
CREATE OR REPLACE FUNCTION reels.active_feed_config(OUT version integer, OUT body jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    SELECT c.version, c.body INTO version, body FROM reels.feed_configs c WHERE c.active;
    IF NOT FOUND THEN
        SELECT c.version, c.body INTO version, body FROM reels.feed_configs c WHERE c.version = 1;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION reels.active_feed_config() FROM PUBLIC;

-- As in 0022.
CREATE OR REPLACE FUNCTION reels.feed_suppressed() RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN COALESCE((SELECT s.suppressed FROM reels.arbiter_state s WHERE s.id = 1), false);
END
$$;
REVOKE ALL ON FUNCTION reels.feed_suppressed() FROM PUBLIC;

-- Social's seams for the feed (0023), in PL/pgSQL.
CREATE OR REPLACE FUNCTION public.accepted_followees(viewer uuid) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN QUERY SELECT f.following_id FROM public.follows f WHERE f.follower_id = viewer AND f.status = 'accepted';
END
$$;
REVOKE ALL ON FUNCTION public.accepted_followees(uuid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.blocked_either_way(viewer uuid) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    RETURN QUERY
    SELECT b.blocked_id FROM public.blocks b WHERE b.blocker_id = viewer
    UNION SELECT b.blocker_id FROM public.blocks b WHERE b.blocked_id = viewer;
END
$$;
REVOKE ALL ON FUNCTION public.blocked_either_way(uuid) FROM PUBLIC;

-- As in 0020: a user who has blocked the current user (and whom the current user has not
-- blocked) shows as an empty card with the id only.
CREATE OR REPLACE FUNCTION public.profile_card(profile uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    me uuid := auth.uid();
    card jsonb;
BEGIN
    SELECT CASE
        WHEN p.id <> me
             AND EXISTS (SELECT 1 FROM public.blocks b WHERE b.blocker_id = p.id AND b.blocked_id = me)
             AND NOT EXISTS (SELECT 1 FROM public.blocks b WHERE b.blocker_id = me AND b.blocked_id = p.id)
            THEN jsonb_build_object('id', p.id, 'username', NULL, 'display_name', '', 'avatar_url', NULL)
        ELSE jsonb_build_object('id', p.id, 'username', p.username, 'display_name', p.display_name, 'avatar_url', p.avatar_url)
    END INTO card
    FROM public.profiles p WHERE p.id = profile;
    RETURN card;
END
$$;
REVOKE ALL ON FUNCTION public.profile_card(uuid) FROM PUBLIC;

-- As in 0020.
CREATE OR REPLACE FUNCTION reels.record(r reels.reels) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = ''
AS $$
DECLARE
    me uuid := auth.uid();
BEGIN
    RETURN jsonb_build_object(
        'id', r.id,
        'author', public.profile_card(r.author_id),
        'caption', r.caption,
        'hashtags', to_jsonb(r.hashtags),
        'visibility', r.visibility,
        'moderation', r.moderation,
        'state', r.state,
        'progress', r.progress,
        'failure_reason', CASE WHEN r.author_id = me THEN r.failure_reason END,
        'duration_ms', r.duration_ms,
        'width', r.width,
        'height', r.height,
        'media', NULL,
        'counts', jsonb_build_object('likes', r.like_count, 'saves', r.save_count, 'comments', r.comment_count,
                                     'shares', r.share_count, 'views', r.view_count),
        'viewer', jsonb_build_object(
            'liked', EXISTS (SELECT 1 FROM reels.likes l WHERE l.reel_id = r.id AND l.user_id = me),
            'saved', EXISTS (SELECT 1 FROM reels.saves s WHERE s.reel_id = r.id AND s.user_id = me)),
        'created_at', r.created_at);
END
$$;
REVOKE ALL ON FUNCTION reels.record(reels.reels) FROM PUBLIC;

-- As in 0023.
CREATE OR REPLACE FUNCTION reels.feed_items(ids uuid[]) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    items jsonb;
BEGIN
    SELECT COALESCE(jsonb_agg(jsonb_build_object('record', reels.record(r) - 'media', 'media_prefix', r.media_prefix,
                                                 'state', r.state, 'moderation', r.moderation) ORDER BY u.ord), '[]')
    INTO items
    FROM unnest(ids) WITH ORDINALITY AS u(id, ord) JOIN reels.reels r ON r.id = u.id;
    RETURN items;
END
$$;
REVOKE ALL ON FUNCTION reels.feed_items(uuid[]) FROM PUBLIC;

-- One page (reels.feed_page) for a caller the server verified, in one statement: the claims
-- are set transaction-locally here, as public.chat_send_message does, instead of in a
-- transaction of its own (BEGIN, the caller's role and claims, the page, COMMIT: four round
-- trips). The page functions have definer rights and read only auth.uid(), so the role is
-- checked, not switched. Owner-only: the server calls it, trusting the claims it verified.
CREATE FUNCTION reels.feed_page_as(caller_role text, caller_claims text, session uuid, page integer, page_size integer)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = ''
AS $$
BEGIN
    IF caller_role IS DISTINCT FROM 'authenticated' AND caller_role IS DISTINCT FROM 'anon' THEN
        RAISE EXCEPTION 'the feed is for signed-in users and anonymous visitors' USING ERRCODE = '42501';
    END IF;
    PERFORM set_config('request.jwt.claims', caller_claims, true);
    RETURN reels.feed_page(session, page, page_size);
END
$$;
REVOKE ALL ON FUNCTION reels.feed_page_as(text, text, uuid, integer, integer) FROM PUBLIC;
