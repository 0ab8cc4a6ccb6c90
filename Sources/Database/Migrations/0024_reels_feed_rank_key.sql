-- Reels feed at scale (issue 15, item 7): a stored, time-independent ranking key per reel so
-- the first page walks an index and stops after session_size visible reels instead of
-- scoring every candidate of the last 90 days; and the feed for anonymous viewers.
--
-- The score of migration 0023 is
--   engagement · exp(−ln2·age_h/H) · (1 + aw·affinity) · (1 + cold),   H = recency_days·24,
-- and exp(−ln2·(now − created)/H) = exp(−ln2·now/H) · exp(ln2·created/H): the first factor is
-- the same for every reel at one instant, so reels rank (up to float rounding) as the
-- time-independent
--   rank_key = ln(engagement) + ln(1 + cold) + ln2 · created_epoch_hours / H
-- (−Infinity without engagement: those tie and fall back to created_at DESC, id DESC, as the
-- score 0 did). For an author with affinity, rank_key + ln(1 + aw·affinity). 0023's −700
-- clamp on the decay's exponent never applies inside the candidate window: recency_days ≥ 0.1
-- puts it at 101 days, beyond the 90 candidate days at most.
--
--   reels.reels.rank_key   kept by a BEFORE trigger from the ACTIVE config (counters,
--                          created_at); every reel's key is recomputed when a config is
--                          activated (reels.activate_feed_config, re-created here).
--   reels.feed_rank        visibility inlined (reels.feed_visible's rules) so the ranked scan
--                          walks reels_rank_idx with a LIMIT; affinity authors' reels are read
--                          through reels_author_idx; recency through reels_newest_idx.
--   anonymous viewers      reels.feed_page works for auth.uid() NULL (role anon): public reels
--                          of public accounts, no affinity (exploration share 1.0), no marks or
--                          impression cap; their sessions have viewer_id NULL and only an
--                          anonymous caller can page one (a signed-in one cannot, nor the reverse).

-- The key of one reel under `config` (see above). Used by the trigger and the activation.
CREATE FUNCTION reels.feed_rank_key(view_count bigint, like_count bigint, comment_count bigint, save_count bigint,
                                    share_count bigint, created_at timestamptz, config jsonb) RETURNS double precision
LANGUAGE sql IMMUTABLE SET search_path = ''
AS $$
    SELECT CASE WHEN s.engagement > 0
                THEN ln(s.engagement) + ln(1 + s.cold)
                     + ln(2::float8) * (extract(epoch FROM created_at)::float8 / 3600) / ((config ->> 'recency_days')::float8 * 24)
                ELSE '-Infinity'::float8 END
    FROM (SELECT (config #>> '{engagement_weights,views}')::float8 * ln(1 + view_count::float8)
                 + (config #>> '{engagement_weights,likes}')::float8 * ln(1 + like_count::float8)
                 + (config #>> '{engagement_weights,comments}')::float8 * ln(1 + comment_count::float8)
                 + (config #>> '{engagement_weights,saves}')::float8 * ln(1 + save_count::float8)
                 + (config #>> '{engagement_weights,shares}')::float8 * ln(1 + share_count::float8) AS engagement,
                 CASE WHEN view_count < (config ->> 'cold_views')::float8
                      THEN (config ->> 'cold_boost')::float8 * (1 - view_count / (config ->> 'cold_views')::float8)
                      ELSE 0 END AS cold) s
$$;
REVOKE ALL ON FUNCTION reels.feed_rank_key(bigint, bigint, bigint, bigint, bigint, timestamptz, jsonb) FROM PUBLIC;

ALTER TABLE reels.reels ADD COLUMN rank_key double precision;

-- Keeps NEW.rank_key current from the active config when a counter or created_at is written.
CREATE FUNCTION reels.keep_rank_key() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    NEW.rank_key := reels.feed_rank_key(NEW.view_count, NEW.like_count, NEW.comment_count, NEW.save_count, NEW.share_count,
                                        NEW.created_at, (SELECT a.body FROM reels.active_feed_config() a));
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION reels.keep_rank_key() FROM PUBLIC;
CREATE TRIGGER reels_rank_key BEFORE INSERT OR UPDATE OF view_count, like_count, comment_count, save_count, share_count, created_at
    ON reels.reels FOR EACH ROW EXECUTE FUNCTION reels.keep_rank_key();

UPDATE reels.reels r
SET rank_key = reels.feed_rank_key(r.view_count, r.like_count, r.comment_count, r.save_count, r.share_count, r.created_at,
                                   (SELECT a.body FROM reels.active_feed_config() a))
WHERE r.rank_key IS NULL;

-- lint:allow index-without-concurrently reason: the migrator runs in a transaction; reels is young
CREATE INDEX reels_rank_idx ON reels.reels (rank_key DESC, created_at DESC, id DESC)
    WHERE state = 'ready' AND moderation = 'approved';
-- lint:allow index-without-concurrently reason: the migrator runs in a transaction; reels is young
CREATE INDEX reels_newest_idx ON reels.reels (created_at DESC, id DESC) WHERE state = 'ready' AND moderation = 'approved';

-- As in 0023, and every reel's rank_key recomputed from the new config in the same
-- transaction (a counter update waiting on a row lock re-reads the config after it).
CREATE OR REPLACE FUNCTION reels.activate_feed_config(config jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    next_version integer;
BEGIN
    LOCK TABLE reels.feed_configs IN SHARE ROW EXCLUSIVE MODE;
    SELECT COALESCE(max(c.version), 0) + 1 INTO next_version FROM reels.feed_configs c;
    UPDATE reels.feed_configs SET active = false WHERE active;
    INSERT INTO reels.feed_configs (version, body, active, activated_at) VALUES (next_version, config, true, now());
    UPDATE reels.reels r
    SET rank_key = reels.feed_rank_key(r.view_count, r.like_count, r.comment_count, r.save_count, r.share_count, r.created_at, config)
    WHERE r.rank_key IS DISTINCT FROM
          reels.feed_rank_key(r.view_count, r.like_count, r.comment_count, r.save_count, r.share_count, r.created_at, config);
    RETURN next_version;
END
$$;
REVOKE ALL ON FUNCTION reels.activate_feed_config(jsonb) FROM PUBLIC;

-- As in 0023, for a NULL viewer too (anonymous: no follows, blocks or marks, so public reels
-- of public accounts only).
CREATE OR REPLACE FUNCTION reels.feed_visible(viewer uuid, since timestamptz, among uuid[])
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
    WHERE r.state = 'ready' AND r.moderation = 'approved' AND r.author_id IS DISTINCT FROM viewer
      AND r.visibility <> 'private'
      AND (r.visibility = 'public' OR fo.author_id IS NOT NULL)
      AND (NOT COALESCE(p.is_private, true) OR fo.author_id IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.author_id = r.author_id)
      AND NOT EXISTS (SELECT 1 FROM excluded e WHERE e.id = r.id);
END
$$;
REVOKE ALL ON FUNCTION reels.feed_visible(uuid, timestamptz, uuid[]) FROM PUBLIC;

-- The session snapshot for `viewer` (NULL: anonymous), as in 0023 — same candidates, same
-- order — but read from the indexes: `config` must be the active config (rank_key was
-- computed from it; reels.feed_page passes it). reels.feed_visible's rules are written out
-- in each query (a set-returning function would hide the LIMIT from the planner).
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
    known_values double precision[];
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
                   OR EXISTS (SELECT 1 FROM public.profiles p WHERE p.id = r.author_id AND NOT p.is_private))
              AND r.author_id <> ALL (blocked) AND r.id <> ALL (skip)
            ORDER BY r.created_at DESC, r.id DESC
            LIMIT size);
    END IF;
    SELECT COALESCE(array_agg(a.author_id), '{}'), COALESCE(array_agg(a.affinity), '{}')
    INTO known_authors, known_values
    FROM reels.feed_affinity(viewer, config) a WHERE a.affinity > 0;
    IF cardinality(known_authors) = 0 THEN
        share := 1.0;
    END IF;
    RETURN ARRAY(
        WITH visible AS NOT MATERIALIZED (
            SELECT r.id, r.author_id, r.created_at, r.rank_key FROM reels.reels r
            WHERE r.state = 'ready' AND r.moderation = 'approved' AND r.created_at > since
              AND r.author_id IS DISTINCT FROM viewer AND r.visibility <> 'private'
              AND (r.visibility = 'public' OR r.author_id = ANY (followed))
              AND (r.author_id = ANY (followed)
                   OR EXISTS (SELECT 1 FROM public.profiles p WHERE p.id = r.author_id AND NOT p.is_private))
              AND r.author_id <> ALL (blocked) AND r.id <> ALL (skip)
        ), top AS (
            (SELECT v.id, v.created_at, true AS known, v.rank_key + ln(1 + affinity_weight * k.affinity) AS key
             FROM unnest(known_authors, known_values) AS k(author_id, affinity)
             JOIN visible v ON v.author_id = k.author_id
             ORDER BY 4 DESC, v.created_at DESC, v.id DESC LIMIT size)
            UNION ALL
            (SELECT v.id, v.created_at, false, v.rank_key FROM visible v
             WHERE v.author_id <> ALL (known_authors)
             ORDER BY v.rank_key DESC, v.created_at DESC, v.id DESC LIMIT size)
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

ALTER TABLE reels.feed_sessions ALTER COLUMN viewer_id DROP NOT NULL;

-- As in 0023, for anonymous callers too (viewer NULL; their sessions are only theirs as a
-- group: an anonymous caller may page an anonymous session, never a user's, and a signed-in
-- caller never an anonymous one).
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
BEGIN
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
GRANT USAGE ON SCHEMA reels TO anon;
GRANT EXECUTE ON FUNCTION reels.feed_page(uuid, integer, integer) TO authenticated, anon;
