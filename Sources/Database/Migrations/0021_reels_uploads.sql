-- Reels uploads (issue 15, docs/reels.md "Uploads"): the upload policy read at every
-- create_reel, the per-user upload attempts that the rate and the daily quota count, the
-- key that signs media tokens, and (section "Storage") the `reels` bucket made private with
-- the private `reels-media` bucket for the pipeline's outputs.
--
--   reels.upload_policy    one row, changed by operators with SQL and read at each upload:
--                          the kill switch, size and duration limits, uploads per hour,
--                          reels per day and the allowed container types (sniffed from the
--                          first bytes). No client role reads it.
--   reels.upload_attempts  one row per create_reel that passed the kill switch (refused or
--                          not); `accepted` once it became a reel. Rows older than a day are
--                          pruned by admit_upload. No client role reads it.
--   reels.media_keys       the HMAC-SHA256 key of the media tokens, one row; no client role
--                          reads it.
--   reels.admit_upload     (owner only) the kill switch, then the rate and quota for one user,
--                          serialised per user; records the attempt.
--   reels.accept_upload    (owner only) re-checks the quota at creation (serialised per user,
--                          the lock held to the end of the creating transaction) and marks
--                          the attempt accepted.

CREATE TABLE reels.upload_policy (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    -- The kill switch: false refuses every create_reel with 503 reels_uploads_disabled.
    uploads_enabled boolean NOT NULL DEFAULT true,
    max_bytes bigint NOT NULL DEFAULT 524288000 CHECK (max_bytes > 0),
    max_duration_ms integer NOT NULL DEFAULT 90000 CHECK (max_duration_ms > 0),
    -- create_reel calls per user in any 60 minutes (refused ones count).
    uploads_per_hour integer NOT NULL DEFAULT 20 CHECK (uploads_per_hour >= 0),
    -- Reels created per user in any 24 hours (deleting one does not give it back).
    reels_per_day integer NOT NULL DEFAULT 50 CHECK (reels_per_day >= 0),
    -- Sniffed container types accepted (a subset of what the server recognises:
    -- video/mp4, video/quicktime, video/webm, video/x-matroska).
    allowed_types text[] NOT NULL DEFAULT ARRAY['video/mp4', 'video/quicktime', 'video/webm', 'video/x-matroska']
        CHECK (allowed_types <@ ARRAY['video/mp4', 'video/quicktime', 'video/webm', 'video/x-matroska']),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO reels.upload_policy (id) VALUES (true);
ALTER TABLE reels.upload_policy ENABLE ROW LEVEL SECURITY;

CREATE TABLE reels.upload_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    accepted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX upload_attempts_user_idx ON reels.upload_attempts (user_id, created_at);
ALTER TABLE reels.upload_attempts ENABLE ROW LEVEL SECURITY;

CREATE TABLE reels.media_keys (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    key bytea NOT NULL CHECK (octet_length(key) >= 32)
);
INSERT INTO reels.media_keys (id, key) VALUES (true, decode(md5(random()::text || clock_timestamp()::text), 'hex')
    || decode(md5(random()::text || clock_timestamp()::text || 'b'), 'hex'));
ALTER TABLE reels.media_keys ENABLE ROW LEVEL SECURITY;

-- Which reel uses an original (create_reel makes one reel per original: it checks under
-- the author's lock taken by accept_upload; originals lie in their author's folder).
-- lint:allow index-without-concurrently reason: reels.reels arrived in 0018 of the same release (issue 15) and holds no deployed rows
CREATE INDEX reels_original_idx ON reels.reels (original_path);

-- The kill switch, then the per-user rate and quota; records the attempt. Returns the
-- policy and the attempt, or the refusal: {"refused": "disabled"|"rate"|"quota",
-- "retry_after": seconds}.
CREATE FUNCTION reels.admit_upload(p_user uuid) RETURNS jsonb
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    p reels.upload_policy;
    recent integer;
    oldest timestamptz;
    attempt bigint;
BEGIN
    SELECT * INTO p FROM reels.upload_policy WHERE id;
    IF NOT FOUND OR NOT p.uploads_enabled THEN
        RETURN jsonb_build_object('refused', 'disabled', 'retry_after', 300);
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('reels.upload'), hashtext(p_user::text));
    DELETE FROM reels.upload_attempts WHERE user_id = p_user AND created_at < now() - interval '1 day';
    SELECT count(*), min(created_at) INTO recent, oldest FROM reels.upload_attempts
        WHERE user_id = p_user AND created_at > now() - interval '1 hour';
    IF recent >= p.uploads_per_hour THEN
        RETURN jsonb_build_object('refused', 'rate', 'limit', p.uploads_per_hour,
            'retry_after', greatest(1, ceil(extract(epoch FROM oldest + interval '1 hour' - now()))::integer));
    END IF;
    SELECT count(*), min(created_at) INTO recent, oldest FROM reels.upload_attempts
        WHERE user_id = p_user AND accepted AND created_at > now() - interval '1 day';
    IF recent >= p.reels_per_day THEN
        RETURN jsonb_build_object('refused', 'quota', 'limit', p.reels_per_day,
            'retry_after', greatest(1, ceil(extract(epoch FROM oldest + interval '1 day' - now()))::integer));
    END IF;
    INSERT INTO reels.upload_attempts (user_id) VALUES (p_user) RETURNING id INTO attempt;
    RETURN jsonb_build_object('attempt', attempt, 'max_bytes', p.max_bytes, 'max_duration_ms', p.max_duration_ms,
        'allowed_types', to_jsonb(p.allowed_types));
END
$$;
REVOKE ALL ON FUNCTION reels.admit_upload(uuid) FROM PUBLIC;

-- At creation: the daily quota again (two uploads checked at once cannot both pass the
-- last slot), then the attempt is marked accepted. Returns the seconds to wait when the
-- quota is spent, else 0.
CREATE FUNCTION reels.accept_upload(p_user uuid, p_attempt bigint) RETURNS integer
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    quota integer;
    recent integer;
    oldest timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('reels.upload'), hashtext(p_user::text));
    SELECT reels_per_day INTO quota FROM reels.upload_policy WHERE id;
    SELECT count(*), min(created_at) INTO recent, oldest FROM reels.upload_attempts
        WHERE user_id = p_user AND accepted AND created_at > now() - interval '1 day';
    IF recent >= coalesce(quota, 0) THEN
        RETURN greatest(1, ceil(extract(epoch FROM oldest + interval '1 day' - now()))::integer);
    END IF;
    UPDATE reels.upload_attempts SET accepted = true WHERE id = p_attempt AND user_id = p_user;
    RETURN 0;
END
$$;
REVOKE ALL ON FUNCTION reels.accept_upload(uuid, bigint) FROM PUBLIC;

-- ============================================================================
-- Storage (docs/storage.md, bucket table): originals in `reels` are private to their
-- owner (the pipeline reads them as service_role); the outputs go to `reels-media`,
-- private, written and read only by service_role (viewers get them through signed media
-- tokens, /reels/v1/media/...).
-- ============================================================================

UPDATE storage.buckets SET public = false, updated_at = now() WHERE id = 'reels';
INSERT INTO storage.buckets (id, name, public, file_size_limit, allowed_mime_types) VALUES
    ('reels-media', 'reels-media', false, 524288000, NULL)
ON CONFLICT (id) DO NOTHING;

DROP POLICY IF EXISTS objects_read ON storage.objects;
CREATE POLICY objects_read ON storage.objects FOR SELECT TO authenticated
    USING (bucket_id = 'avatars' OR owner = (SELECT auth.uid())
           OR storage.shared_read_allowed(coalesce(parent_id, id)));

DROP POLICY IF EXISTS objects_insert ON storage.objects;
CREATE POLICY objects_insert ON storage.objects FOR INSERT TO authenticated
    WITH CHECK (
        owner = (SELECT auth.uid())
        AND bucket_id <> 'reels-media'
        AND (bucket_id NOT IN ('avatars', 'attachments', 'reels') OR storage.in_own_folder(name)));
DROP POLICY IF EXISTS objects_update ON storage.objects;
CREATE POLICY objects_update ON storage.objects FOR UPDATE TO authenticated
    USING (owner = (SELECT auth.uid()))
    WITH CHECK (
        owner = (SELECT auth.uid())
        AND bucket_id <> 'reels-media'
        AND (bucket_id NOT IN ('avatars', 'attachments', 'reels') OR storage.in_own_folder(name)));
