-- Storage media (issue 13): what the server measured about an upload, the renditions it made
-- (thumbnails, video posters, avatar sizes), whether a feature has claimed the object, and a
-- queue of blobs to delete that a background janitor drains (docs/storage.md).
--
--   objects.parent_id    set on server-made renditions; they follow their parent (cascade), are
--                        readable by whoever may read the parent, hidden from list and not
--                        counted towards the per-user quota
--   objects.media        measurements: width, height, duration_ms, waveform, thumbnail,
--                        poster, sizes (all optional)
--   objects.attached_at  when a feature (a chat message) claimed the upload; unattached
--                        uploads in `attachments` are removed after STORAGE_ORPHAN_TTL_SECONDS
--   blob_deletions       backend keys whose rows are gone; filled by a trigger, so a deleted
--                        row never leaves its bytes behind even when the deleting code is SQL
--
--   claim_object          (authenticated) claims one's own unattached upload for a feature
--   release_object        (owner only: chat's SECURITY DEFINER functions) deletes an object
--   shared_read_allowed   (authenticated) extension point of the read policy; false here,
--                        redefined by the chat migration for conversation members

ALTER TABLE storage.objects
    ADD COLUMN parent_id uuid,
    ADD COLUMN media jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(media) = 'object' AND octet_length(media::text) <= 16384),
    ADD COLUMN attached_at timestamptz;
-- Every existing row has a NULL parent_id, so the unvalidated constraint covers all rows.
ALTER TABLE storage.objects ADD CONSTRAINT objects_parent_id_fkey
    FOREIGN KEY (parent_id) REFERENCES storage.objects (id) ON DELETE CASCADE NOT VALID;

-- Renditions of an object (cascade deletes and their clean-up on upsert).
-- lint:allow index-without-concurrently reason: storage.objects arrived in 0011 of the same release (issue 13) and holds no deployed rows
CREATE INDEX objects_parent_idx ON storage.objects (parent_id) WHERE parent_id IS NOT NULL;
-- The orphan sweep: unattached uploads of `attachments`, oldest first.
-- lint:allow index-without-concurrently reason: storage.objects arrived in 0011 of the same release (issue 13) and holds no deployed rows
CREATE INDEX objects_unattached_idx ON storage.objects (created_at)
    WHERE bucket_id = 'attachments' AND attached_at IS NULL AND parent_id IS NULL;

-- Backend keys ('<bucket_id>/<version>') to delete. Only the server's own role (the janitor)
-- and service_role touch it.
CREATE TABLE storage.blob_deletions (
    blob_key text PRIMARY KEY CHECK (octet_length(blob_key) BETWEEN 1 AND 200),
    queued_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE storage.blob_deletions ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON storage.blob_deletions TO service_role;
DROP POLICY IF EXISTS blob_deletions_service ON storage.blob_deletions;
CREATE POLICY blob_deletions_service ON storage.blob_deletions FOR ALL TO service_role USING (true) WITH CHECK (true);

-- Queues the blob of every deleted row (cascaded renditions included) and the old blob of a
-- row whose version or bucket changed. Runs as the owner: request roles cannot see the queue.
CREATE FUNCTION storage.queue_blob_deletion() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    IF TG_OP = 'DELETE'
        OR OLD.version IS DISTINCT FROM NEW.version OR OLD.bucket_id IS DISTINCT FROM NEW.bucket_id THEN
        INSERT INTO storage.blob_deletions (blob_key)
        VALUES (OLD.bucket_id || '/' || lower(OLD.version::text))
        ON CONFLICT (blob_key) DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION storage.queue_blob_deletion() FROM PUBLIC;

CREATE TRIGGER objects_queue_blob_deletion AFTER DELETE OR UPDATE OF version, bucket_id ON storage.objects
    FOR EACH ROW EXECUTE FUNCTION storage.queue_blob_deletion();

-- Extension point of the read policy: whether the caller may read an object (and its
-- renditions) through something shared with them. Nothing is shared here; the chat
-- migration redefines it for members of a conversation whose message carries the object.
CREATE FUNCTION storage.shared_read_allowed(p_object_id uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT false $$;
REVOKE ALL ON FUNCTION storage.shared_read_allowed(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION storage.shared_read_allowed(uuid) TO authenticated;

DROP POLICY IF EXISTS objects_read ON storage.objects;
CREATE POLICY objects_read ON storage.objects FOR SELECT TO authenticated
    USING (bucket_id IN ('avatars', 'reels') OR owner = (SELECT auth.uid())
           OR storage.shared_read_allowed(coalesce(parent_id, id)));

-- Claims the caller's own unattached upload (by name or by id, exactly one given) for a
-- feature: locks it, sets attached_at and returns what the feature stores about it.
CREATE FUNCTION storage.claim_object(p_bucket text, p_name text, p_object_id uuid) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    o storage.objects;
BEGIN
    IF (p_name IS NULL) = (p_object_id IS NULL) THEN
        RAISE EXCEPTION 'attachment: give either the object''s path or its id' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO o FROM storage.objects
    WHERE bucket_id = p_bucket
      AND (CASE WHEN p_object_id IS NOT NULL THEN id = p_object_id ELSE name = p_name END)
      AND owner = auth.uid()
    FOR UPDATE;
    IF NOT FOUND OR o.parent_id IS NOT NULL THEN
        RAISE EXCEPTION 'attachment: no such object among your uploads' USING ERRCODE = 'P0002';
    END IF;
    IF o.attached_at IS NOT NULL THEN
        RAISE EXCEPTION 'attachment: is already attached to a message' USING ERRCODE = '23505';
    END IF;
    UPDATE storage.objects SET attached_at = now() WHERE id = o.id;
    RETURN jsonb_build_object(
        'object_id', o.id,
        'bucket', o.bucket_id,
        'path', o.name,
        'name', substring(o.name FROM '[^/]*$'),
        'mime_type', o.mime_type,
        'size', o.size,
        'width', o.media -> 'width',
        'height', o.media -> 'height',
        'duration_ms', o.media -> 'duration_ms',
        'waveform', o.media -> 'waveform',
        'thumbnail_path', o.media ->> 'thumbnail',
        'poster_path', o.media ->> 'poster');
END
$$;
REVOKE ALL ON FUNCTION storage.claim_object(text, text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION storage.claim_object(text, text, uuid) TO authenticated;

-- Deletes an object (its renditions cascade; the trigger queues every blob). No-op when it
-- is already gone. No request role may call it: chat's SECURITY DEFINER functions do, as
-- the owner, when the message carrying the object is deleted.
CREATE FUNCTION storage.release_object(p_object_id uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = ''
AS $$ DELETE FROM storage.objects WHERE id = p_object_id $$;
REVOKE ALL ON FUNCTION storage.release_object(uuid) FROM PUBLIC;
