-- Resumable uploads (TUS 1.0.0 at /storage/v1/upload/resumable, docs/storage.md): an upload
-- in progress and the chunks received so far. Each PATCH's bytes are one blob in the
-- StorageBackend (key '~resumable/<upload id>/<start>-<nonce>', a prefix no bucket id can
-- have); the offset advances in the same statement that records the chunk, so it only ever
-- counts bytes that are stored. Once the offset reaches the length the chunks are read back
-- in order into the normal upload path, then deleted; the row stays ('done') until it
-- expires, so a client that missed the last answer learns from HEAD that it is complete.
--
--   resumable_uploads       authenticated: reads, creates and changes its own; service_role: all
--   resumable_upload_parts  the same through the upload's owner; anon: nothing
-- Expired uploads and their chunks are removed by the server (as the owner role). Every
-- deleted part row queues its blob in storage.blob_deletions (migration 0012; the storage
-- janitor drains it), so chunks whose rows go by cascade (a deleted bucket or user) or
-- whose explicit deletion failed are removed too.

CREATE TABLE storage.resumable_uploads (
    id uuid PRIMARY KEY,
    bucket_id text NOT NULL REFERENCES storage.buckets (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 1024),
    -- NULL for uploads made with the service role.
    owner uuid REFERENCES auth.users (id) ON DELETE CASCADE,
    upsert boolean NOT NULL DEFAULT false,
    length bigint NOT NULL CHECK (length >= 0),
    "offset" bigint NOT NULL DEFAULT 0 CHECK ("offset" >= 0 AND "offset" <= length),
    mime_type text NOT NULL CHECK (char_length(mime_type) BETWEEN 1 AND 255),
    cache_control text NOT NULL CHECK (char_length(cache_control) <= 255),
    user_metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(user_metadata) = 'object' AND octet_length(user_metadata::text) <= 8192),
    -- receiving: PATCHes accepted; finishing: the object is being stored; done: stored.
    status text NOT NULL DEFAULT 'receiving' CHECK (status IN ('receiving', 'finishing', 'done')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX resumable_uploads_expires_idx ON storage.resumable_uploads (expires_at);
CREATE INDEX resumable_uploads_owner_idx ON storage.resumable_uploads (owner);
ALTER TABLE storage.resumable_uploads ENABLE ROW LEVEL SECURITY;

CREATE TABLE storage.resumable_upload_parts (
    upload_id uuid NOT NULL REFERENCES storage.resumable_uploads (id) ON DELETE CASCADE,
    start bigint NOT NULL CHECK (start >= 0),
    size bigint NOT NULL CHECK (size > 0),
    blob_key text NOT NULL CHECK (char_length(blob_key) BETWEEN 1 AND 200),
    PRIMARY KEY (upload_id, start)
);
ALTER TABLE storage.resumable_upload_parts ENABLE ROW LEVEL SECURITY;

GRANT SELECT, INSERT, UPDATE, DELETE ON storage.resumable_uploads TO authenticated, service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON storage.resumable_upload_parts TO authenticated, service_role;

DROP POLICY IF EXISTS resumable_uploads_service ON storage.resumable_uploads;
CREATE POLICY resumable_uploads_service ON storage.resumable_uploads FOR ALL TO service_role USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS resumable_uploads_own ON storage.resumable_uploads;
CREATE POLICY resumable_uploads_own ON storage.resumable_uploads FOR ALL TO authenticated
    USING (owner = (SELECT auth.uid()))
    WITH CHECK (owner = (SELECT auth.uid()));

DROP POLICY IF EXISTS resumable_upload_parts_service ON storage.resumable_upload_parts;
CREATE POLICY resumable_upload_parts_service ON storage.resumable_upload_parts FOR ALL TO service_role USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS resumable_upload_parts_own ON storage.resumable_upload_parts;
CREATE POLICY resumable_upload_parts_own ON storage.resumable_upload_parts FOR ALL TO authenticated
    USING (EXISTS (SELECT 1 FROM storage.resumable_uploads u WHERE u.id = upload_id AND u.owner = (SELECT auth.uid())))
    WITH CHECK (EXISTS (SELECT 1 FROM storage.resumable_uploads u WHERE u.id = upload_id AND u.owner = (SELECT auth.uid())));

-- Queues the chunk blob of every deleted part row (cascades included). Runs as the owner:
-- request roles cannot see the queue.
CREATE FUNCTION storage.queue_resumable_part_deletion() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    INSERT INTO storage.blob_deletions (blob_key) VALUES (OLD.blob_key) ON CONFLICT (blob_key) DO NOTHING;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION storage.queue_resumable_part_deletion() FROM PUBLIC;

CREATE TRIGGER resumable_upload_parts_queue_blob_deletion AFTER DELETE ON storage.resumable_upload_parts
    FOR EACH ROW EXECUTE FUNCTION storage.queue_resumable_part_deletion();
