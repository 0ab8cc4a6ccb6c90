-- Reels feed (issue 15): the ranked feed's config versions, its session snapshots and the
-- functions that rank and page it (docs/reels.md, "Feed").
--
--   reels.feed_configs   versioned ranking parameters; exactly one row is active. A version
--                        is written only by `ecomansoni reels config activate <file>` after
--                        the Swift `FeedConfig` validation passed (through the owner-only
--                        reels.activate_feed_config); version 1, the default, is seeded.
--   reels.feed_sessions  one viewer's ranked snapshot (the ordered reel ids taken at the
--                        first page) and what each page served, so later pages never repeat a
--                        reel and a replayed cursor returns the same page. Expire after 1 h.
--
-- Neither table is readable by a client role; the feed functions (SECURITY DEFINER) check
-- who may see each reel for auth.uid() set-wise (reels.feed_visible: reels.can_view's rule).

-- Social's seam for reels: the accounts a user follows (accepted) and the accounts they
-- block or are blocked by. Owner-only: the feed functions call them for auth.uid().
CREATE FUNCTION public.accepted_followees(viewer uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT f.following_id FROM public.follows f WHERE f.follower_id = viewer AND f.status = 'accepted' $$;
REVOKE ALL ON FUNCTION public.accepted_followees(uuid) FROM PUBLIC;

CREATE FUNCTION public.blocked_either_way(viewer uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT b.blocked_id FROM public.blocks b WHERE b.blocker_id = viewer
    UNION SELECT b.blocker_id FROM public.blocks b WHERE b.blocked_id = viewer
$$;
REVOKE ALL ON FUNCTION public.blocked_either_way(uuid) FROM PUBLIC;

CREATE TABLE reels.feed_configs (
    version integer PRIMARY KEY CHECK (version > 0),
    body jsonb NOT NULL CHECK (octet_length(body::text) <= 512000)
        CHECK (jsonb_typeof(body) = 'object'
               AND body ?& ARRAY['engagement_weights', 'recency_days', 'affinity_weight', 'affinity_weights',
                                 'affinity_saturation', 'cold_boost', 'cold_views', 'candidate_days',
                                 'exploration_share', 'max_per_author', 'impression_cap',
                                 'impression_window_hours', 'session_size']),
    active boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz
);
CREATE UNIQUE INDEX feed_configs_one_active_idx ON reels.feed_configs ((true)) WHERE active;
ALTER TABLE reels.feed_configs ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON reels.feed_configs TO service_role;
DROP POLICY IF EXISTS feed_configs_service ON reels.feed_configs;
CREATE POLICY feed_configs_service ON reels.feed_configs FOR SELECT TO service_role USING (true);

-- The default (docs/reels.md): the spec's engagement coefficients 0.5/2/3/5/6 divided by
-- their sum 16.5 (the score is a product, so only their ratios rank), half-life 3 days.
INSERT INTO reels.feed_configs (version, body, active, activated_at) VALUES (1, '{
    "engagement_weights": {"views": 0.0303, "likes": 0.1212, "comments": 0.1818, "saves": 0.3030, "shares": 0.3637},
    "recency_days": 3,
    "affinity_weight": 0.3,
    "affinity_weights": {"follow": 0.4, "likes": 0.15, "comments": 0.15, "saves": 0.1, "shares": 0.1, "views": 0.1},
    "affinity_saturation": 5,
    "cold_boost": 0.5,
    "cold_views": 100,
    "candidate_days": 90,
    "exploration_share": 0.2,
    "max_per_author": 3,
    "impression_cap": 2,
    "impression_window_hours": 24,
    "session_size": 300
}', true, now());

-- Stores a validated body as the next version and makes it the active one; returns the
-- version. Owner-only: the CLI calls it after FeedConfig validated the file.
CREATE FUNCTION reels.activate_feed_config(config jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    next_version integer;
BEGIN
    LOCK TABLE reels.feed_configs IN SHARE ROW EXCLUSIVE MODE;
    SELECT COALESCE(max(c.version), 0) + 1 INTO next_version FROM reels.feed_configs c;
    UPDATE reels.feed_configs SET active = false WHERE active;
    INSERT INTO reels.feed_configs (version, body, active, activated_at) VALUES (next_version, config, true, now());
    RETURN next_version;
END
$$;
REVOKE ALL ON FUNCTION reels.activate_feed_config(jsonb) FROM PUBLIC;

CREATE TABLE reels.feed_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    viewer_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    mode text NOT NULL CHECK (mode IN ('personalised', 'recency')),
    config_version integer NOT NULL,
    -- The snapshot: reel ids in ranked order (at most the config's session_size).
    ranked uuid[] NOT NULL CHECK (cardinality(ranked) <= 2000),
    -- Every reel served so far, page after page; page_ends[k] is where page k-1 ends.
    served uuid[] NOT NULL DEFAULT '{}' CHECK (cardinality(served) <= 2000),
    page_ends integer[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX feed_sessions_expiry_idx ON reels.feed_sessions (expires_at);
CREATE INDEX feed_sessions_viewer_idx ON reels.feed_sessions (viewer_id);
ALTER TABLE reels.feed_sessions ENABLE ROW LEVEL SECURITY;

-- Whether the viewer has hidden, reported or marked "not interested" a reel.
CREATE FUNCTION reels.feed_excluded(viewer uuid, reel uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT EXISTS (SELECT 1 FROM reels.hidden h WHERE h.user_id = viewer AND h.reel_id = reel)
        OR EXISTS (SELECT 1 FROM reels.not_interested n WHERE n.user_id = viewer AND n.reel_id = reel)
        OR EXISTS (SELECT 1 FROM reels.reports p WHERE p.user_id = viewer AND p.reel_id = reel)
$$;
REVOKE ALL ON FUNCTION reels.feed_excluded(uuid, uuid) FROM PUBLIC;

-- The reels among `among` (all reels from `since` on when null) that `viewer` may see and
-- has not hidden, reported or marked "not interested": reels.can_view's rule (ready,
-- approved, visibility, private accounts, blocks either way) applied set-wise, because
-- reels.can_view per row costs ~0.3 ms (its SECURITY DEFINER calls are not inlined) and the
-- ranking looks at every candidate. The viewer's own reels are left out. ReelsFeedTests
-- check it against the same cases as reels.can_view's tests.
CREATE FUNCTION reels.feed_visible(viewer uuid, since timestamptz, among uuid[])
RETURNS TABLE (id uuid, author_id uuid, created_at timestamptz, view_count bigint, like_count bigint, comment_count bigint,
               save_count bigint, share_count bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH followed AS MATERIALIZED (SELECT DISTINCT f AS author_id FROM public.accepted_followees(viewer) f),
    blocked AS MATERIALIZED (SELECT DISTINCT b AS author_id FROM public.blocked_either_way(viewer) b),
    excluded AS MATERIALIZED (
        SELECT h.reel_id AS id FROM reels.hidden h WHERE h.user_id = viewer
        UNION SELECT n.reel_id FROM reels.not_interested n WHERE n.user_id = viewer
        UNION SELECT x.reel_id FROM reels.reports x WHERE x.user_id = viewer
    ),
    pool AS (
        SELECT r.* FROM reels.reels r WHERE among IS NULL AND r.created_at > since
        UNION ALL
        SELECT r.* FROM reels.reels r WHERE among IS NOT NULL AND r.id = ANY (among)
    )
    SELECT r.id, r.author_id, r.created_at, r.view_count, r.like_count, r.comment_count, r.save_count, r.share_count
    FROM pool r
    LEFT JOIN public.profiles p ON p.id = r.author_id
    LEFT JOIN followed fo ON fo.author_id = r.author_id
    WHERE r.state = 'ready' AND r.moderation = 'approved' AND r.author_id <> viewer
      AND r.visibility <> 'private'
      AND (r.visibility = 'public' OR fo.author_id IS NOT NULL)
      AND (NOT COALESCE(p.is_private, true) OR fo.author_id IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.author_id = r.author_id)
      AND NOT EXISTS (SELECT 1 FROM excluded e WHERE e.id = r.id);
END
$$;
REVOKE ALL ON FUNCTION reels.feed_visible(uuid, timestamptz, uuid[]) FROM PUBLIC;

-- The active config (the seeded default if none is active).
CREATE FUNCTION reels.active_feed_config(OUT version integer, OUT body jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT c.version, c.body FROM reels.feed_configs c WHERE c.active
    UNION ALL (SELECT c.version, c.body FROM reels.feed_configs c WHERE c.version = 1)
    LIMIT 1
$$;
REVOKE ALL ON FUNCTION reels.active_feed_config() FROM PUBLIC;

-- Each author's affinity for `viewer` in [0, 1]: follows plus the viewer's likes, comments,
-- saves, shares and views of the author's reels in the last 90 days, each saturating at
-- `affinity_saturation` events, weighted by `affinity_weights`.
CREATE FUNCTION reels.feed_affinity(viewer uuid, config jsonb) RETURNS TABLE (author_id uuid, affinity double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    WITH w AS (
        SELECT (config #>> '{affinity_weights,follow}')::float8 AS follow, (config #>> '{affinity_weights,likes}')::float8 AS likes,
               (config #>> '{affinity_weights,comments}')::float8 AS comments, (config #>> '{affinity_weights,saves}')::float8 AS saves,
               (config #>> '{affinity_weights,shares}')::float8 AS shares, (config #>> '{affinity_weights,views}')::float8 AS views,
               (config ->> 'affinity_saturation')::float8 AS sat
    ), events AS (
        SELECT f AS author_id, 'follow' AS kind FROM public.accepted_followees(viewer) f
        UNION ALL SELECT r.author_id, 'likes' FROM reels.likes l JOIN reels.reels r ON r.id = l.reel_id
            WHERE l.user_id = viewer AND l.created_at > now() - interval '90 days'
        UNION ALL SELECT r.author_id, 'comments' FROM reels.comments c JOIN reels.reels r ON r.id = c.reel_id
            WHERE c.author_id = viewer AND c.created_at > now() - interval '90 days'
        UNION ALL SELECT r.author_id, 'saves' FROM reels.saves s JOIN reels.reels r ON r.id = s.reel_id
            WHERE s.user_id = viewer AND s.created_at > now() - interval '90 days'
        UNION ALL SELECT r.author_id, 'shares' FROM reels.shares s JOIN reels.reels r ON r.id = s.reel_id
            WHERE s.user_id = viewer AND s.created_at > now() - interval '90 days'
        UNION ALL SELECT r.author_id, 'views' FROM reels.views v JOIN reels.reels r ON r.id = v.reel_id
            WHERE v.user_id = viewer AND v.created_at > now() - interval '90 days'
    )
    SELECT e.author_id,
           least(1.0, w.follow * least(1.0, count(*) FILTER (WHERE e.kind = 'follow'))
               + w.likes * least(1.0, count(*) FILTER (WHERE e.kind = 'likes') / w.sat)
               + w.comments * least(1.0, count(*) FILTER (WHERE e.kind = 'comments') / w.sat)
               + w.saves * least(1.0, count(*) FILTER (WHERE e.kind = 'saves') / w.sat)
               + w.shares * least(1.0, count(*) FILTER (WHERE e.kind = 'shares') / w.sat)
               + w.views * least(1.0, count(*) FILTER (WHERE e.kind = 'views') / w.sat))
    FROM events e CROSS JOIN w
    WHERE e.author_id <> viewer
    GROUP BY e.author_id, w.follow, w.likes, w.comments, w.saves, w.shares, w.views, w.sat
$$;
REVOKE ALL ON FUNCTION reels.feed_affinity(uuid, jsonb) FROM PUBLIC;

-- The session snapshot for `viewer`: up to session_size reel ids they may see, from the last
-- candidate_days, not their own, not hidden / reported / not interested, not shown
-- impression_cap times in the last impression_window_hours, not in `exclude`.
-- recency: newest first. Otherwise ranked by
--   engagement · exp(−ln2 · age_hours / (recency_days·24)) · (1 + affinity_weight·affinity) · (1 + cold)
-- with cold = cold_boost·(1 − views/cold_views) below cold_views views, and interleaved so
-- that an exploration_share of the positions goes to authors without affinity (1.0 when the
-- viewer has no affinity at all). The decay's exponent stops at −700 (float8 underflow).
CREATE FUNCTION reels.feed_rank(viewer uuid, config jsonb, recency boolean, exclude uuid[]) RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    size integer := (config ->> 'session_size')::integer;
    since timestamptz := now() - make_interval(secs => (config ->> 'candidate_days')::float8 * 86400);
    share double precision := (config ->> 'exploration_share')::float8;
    capped uuid[];
    known_authors uuid[];
    known_values double precision[];
BEGIN
    capped := exclude || ARRAY(
        SELECT i.reel_id FROM reels.impressions i
        WHERE i.user_id = viewer
          AND i.created_at > now() - make_interval(secs => (config ->> 'impression_window_hours')::float8 * 3600)
        GROUP BY i.reel_id HAVING count(*) >= (config ->> 'impression_cap')::integer);
    IF recency THEN
        RETURN ARRAY(
            SELECT v.id FROM reels.feed_visible(viewer, since, NULL) v
            WHERE NOT EXISTS (SELECT 1 FROM unnest(capped) c(id) WHERE c.id = v.id)
            ORDER BY v.created_at DESC, v.id DESC
            LIMIT size);
    END IF;
    SELECT COALESCE(array_agg(a.author_id), '{}'), COALESCE(array_agg(a.affinity), '{}')
    INTO known_authors, known_values
    FROM reels.feed_affinity(viewer, config) a WHERE a.affinity > 0;
    IF cardinality(known_authors) = 0 THEN
        share := 1.0;
    END IF;
    RETURN ARRAY(
        WITH aff AS (
            SELECT * FROM unnest(known_authors, known_values) AS k(author_id, affinity)
        ), skip AS MATERIALIZED (
            SELECT DISTINCT c.id FROM unnest(capped) c(id)
        ), scored AS MATERIALIZED (
            SELECT v.id, v.created_at, (a.author_id IS NOT NULL) AS known,
                   ((config #>> '{engagement_weights,views}')::float8 * ln(1 + v.view_count::float8)
                    + (config #>> '{engagement_weights,likes}')::float8 * ln(1 + v.like_count::float8)
                    + (config #>> '{engagement_weights,comments}')::float8 * ln(1 + v.comment_count::float8)
                    + (config #>> '{engagement_weights,saves}')::float8 * ln(1 + v.save_count::float8)
                    + (config #>> '{engagement_weights,shares}')::float8 * ln(1 + v.share_count::float8))
                   * exp(greatest(-700, -ln(2) * (extract(epoch FROM now() - v.created_at) / 3600) / ((config ->> 'recency_days')::float8 * 24)))
                   * (1 + (config ->> 'affinity_weight')::float8 * COALESCE(a.affinity, 0))
                   * (1 + CASE WHEN v.view_count < (config ->> 'cold_views')::float8
                               THEN (config ->> 'cold_boost')::float8 * (1 - v.view_count / (config ->> 'cold_views')::float8)
                               ELSE 0 END) AS score
            FROM reels.feed_visible(viewer, since, NULL) v
            LEFT JOIN aff a ON a.author_id = v.author_id
            WHERE NOT EXISTS (SELECT 1 FROM skip WHERE skip.id = v.id)
        ), top AS (
            (SELECT * FROM scored WHERE known ORDER BY score DESC, created_at DESC, id DESC LIMIT size)
            UNION ALL
            (SELECT * FROM scored WHERE NOT known ORDER BY score DESC, created_at DESC, id DESC LIMIT size)
        ), numbered AS (
            SELECT t.*, row_number() OVER (PARTITION BY t.known ORDER BY t.score DESC, t.created_at DESC, t.id DESC) AS n
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

-- The records (reels.record without media, for auth.uid()) of reels the caller was just
-- checked to see, in order, with what the server needs to add media links:
-- [{"record","media_prefix","state","moderation"}]. Owner-only: feed_page calls it for the
-- ids it checked (reading the reels again under row-level security would run
-- reels.can_view once more for each).
CREATE FUNCTION reels.feed_items(ids uuid[]) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT COALESCE(jsonb_agg(jsonb_build_object('record', reels.record(r) - 'media', 'media_prefix', r.media_prefix,
                                                 'state', r.state, 'moderation', r.moderation) ORDER BY u.ord), '[]')
    FROM unnest(ids) WITH ORDINALITY AS u(id, ord) JOIN reels.reels r ON r.id = u.id
$$;
REVOKE ALL ON FUNCTION reels.feed_items(uuid[]) FROM PUBLIC;

-- One page of the caller's feed: {"session","page","mode","more","ids":[…],"items":[…]}
-- (items: reels.feed_items of the ids). `session` null
-- starts a new snapshot (page 0). A page already served is returned again (a retried
-- cursor); a new page takes the next reels of the snapshot the caller may still see, at most
-- max_per_author per author, none served before. The arbiter's suppression and the active
-- config are read on every call: when either changed, the rest of the snapshot is ranked
-- again (mode `recency` while suppressed), leaving out what was served.
CREATE FUNCTION reels.feed_page(session uuid, page integer, page_size integer) RETURNS jsonb
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
BEGIN
    IF viewer IS NULL THEN
        RAISE EXCEPTION 'the feed needs a signed-in user' USING ERRCODE = '28000';
    END IF;
    IF page_size IS NULL OR page_size < 1 OR page_size > 30 THEN
        RAISE EXCEPTION 'limit: must be between 1 and 30' USING ERRCODE = '22023';
    END IF;
    SELECT a.version, a.body INTO config.version, config.body FROM reels.active_feed_config() a;
    wanted_mode := CASE WHEN suppressed THEN 'recency' ELSE 'personalised' END;
    IF session IS NULL THEN
        DELETE FROM reels.feed_sessions x
        WHERE x.id IN (SELECT e.id FROM reels.feed_sessions e WHERE e.expires_at < now() LIMIT 50);
        INSERT INTO reels.feed_sessions (viewer_id, mode, config_version, ranked, expires_at)
        VALUES (viewer, wanted_mode, config.version, reels.feed_rank(viewer, config.body, suppressed, '{}'), now() + interval '1 hour')
        RETURNING * INTO s;
        page := 0;
    ELSE
        SELECT * INTO s FROM reels.feed_sessions x WHERE x.id = session AND x.viewer_id = viewer FOR UPDATE;
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
        END IF;
    END IF;
    ids := ARRAY(
        SELECT c.id FROM (
            SELECT u.id, u.ord, row_number() OVER (PARTITION BY r.author_id ORDER BY u.ord) AS nth
            FROM unnest(s.ranked) WITH ORDINALITY AS u(id, ord)
            JOIN reels.feed_visible(viewer, NULL, ARRAY(
                     SELECT w.id FROM unnest(s.ranked) WITH ORDINALITY AS w(id, ord)
                     WHERE NOT (w.id = ANY (s.served)) ORDER BY w.ord LIMIT 300)) r ON r.id = u.id
        ) c
        WHERE c.nth <= (config.body ->> 'max_per_author')::integer
        ORDER BY c.ord
        LIMIT page_size);
    UPDATE reels.feed_sessions x
    SET served = x.served || ids, page_ends = x.page_ends || (cardinality(x.served) + cardinality(ids))
    WHERE x.id = s.id
    RETURNING * INTO s;
    RETURN jsonb_build_object('session', s.id, 'page', page, 'mode', s.mode, 'ids', to_jsonb(ids), 'items', reels.feed_items(ids),
        'more', cardinality(ids) > 0 AND EXISTS (SELECT 1 FROM unnest(s.ranked) u(id) WHERE NOT (u.id = ANY (s.served))));
END
$$;
REVOKE ALL ON FUNCTION reels.feed_page(uuid, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reels.feed_page(uuid, integer, integer) TO authenticated;

-- The accounts the caller follows (accepted), for the following list under RLS.
CREATE FUNCTION reels.my_followees() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT public.accepted_followees(auth.uid()) $$;
REVOKE ALL ON FUNCTION reels.my_followees() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reels.my_followees() TO authenticated;

-- Whether the caller hid, reported or marked "not interested" the reel (lists leave it out).
CREATE FUNCTION reels.excluded_for_me(reel uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT reels.feed_excluded(auth.uid(), reel) $$;
REVOKE ALL ON FUNCTION reels.excluded_for_me(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reels.excluded_for_me(uuid) TO authenticated;
