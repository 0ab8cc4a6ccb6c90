-- Storage (issue 13): buckets and object metadata in the Supabase layout; the bytes live in
-- the configured StorageBackend (local directory or S3) under a key the server derives from
-- the bucket and the object's version, never from the user's path (docs/storage.md).
--
-- Requests run under the caller's role, so row-level security decides who reads and writes
-- which object, as in Supabase. The storage schema belongs to the Storage module alone.
--
--   buckets   readable by signed-in users (names, limits and MIME rules are not secret);
--             created, changed and deleted by service_role only
--   objects   service_role: everything. authenticated:
--               avatars      (public)  anyone signed in reads; owner writes under '<uid>/...'
--               reels        (public)  anyone signed in reads; owner writes under '<uid>/...'
--               attachments  (private) the uploader reads and writes under '<uid>/...'
--                            (conversation members' access arrives with the chat integration)
--               any other bucket       the uploader reads and writes their own objects
--             anon: no grant on either table (the server answers anonymous reads itself:
--             public buckets' objects on /object/public/, the public buckets' list)

CREATE SCHEMA storage;
GRANT USAGE ON SCHEMA storage TO authenticated, service_role;

CREATE TABLE storage.buckets (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,63}$' AND id NOT IN ('.', '..')),
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    owner uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    public boolean NOT NULL DEFAULT false,
    file_size_limit bigint CHECK (file_size_limit IS NULL OR file_size_limit > 0),
    allowed_mime_types text[] CHECK (allowed_mime_types IS NULL OR cardinality(allowed_mime_types) <= 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE storage.buckets ENABLE ROW LEVEL SECURITY;

CREATE TABLE storage.objects (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bucket_id text NOT NULL REFERENCES storage.buckets (id),
    -- The path within the bucket: NFC, '/'-separated, no empty, '.' or '..' segments
    -- (checked by the server; the length rules are repeated here).
    name text NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 1024),
    owner uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    size bigint NOT NULL CHECK (size >= 0),
    mime_type text NOT NULL CHECK (char_length(mime_type) BETWEEN 1 AND 255),
    cache_control text NOT NULL CHECK (char_length(cache_control) <= 255),
    -- Lower-case hex MD5 of the bytes.
    etag text NOT NULL CHECK (etag ~ '^[0-9a-f]{32}$'),
    user_metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(user_metadata) = 'object' AND octet_length(user_metadata::text) <= 8192),
    -- Names the blob: '<bucket_id>/<version>' in the backend. A new version per write.
    version uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_accessed_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (bucket_id, name)
);
CREATE INDEX objects_owner_idx ON storage.objects (owner);
CREATE INDEX objects_name_pattern_idx ON storage.objects (bucket_id, name text_pattern_ops);
ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;

-- The key that signs signed-URL tokens, shared by every instance; no request role reads it.
CREATE TABLE storage.secrets (
    name text PRIMARY KEY,
    value text NOT NULL CHECK (char_length(value) >= 32)
);
ALTER TABLE storage.secrets ENABLE ROW LEVEL SECURITY;

-- The folders of an object name, as Supabase's storage.foldername: 'a/b/c.txt' -> {a,b}.
CREATE FUNCTION storage.foldername(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = ''
AS $$ SELECT (string_to_array(name, '/'))[1:cardinality(string_to_array(name, '/')) - 1] $$;

-- Whether an object name lies under the signed-in user's own folder ('<uid>/...').
CREATE FUNCTION storage.in_own_folder(name text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = ''
AS $$ SELECT (storage.foldername(name))[1] = (SELECT auth.uid())::text $$;

GRANT SELECT ON storage.buckets TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON storage.buckets TO service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON storage.objects TO authenticated, service_role;

DROP POLICY IF EXISTS buckets_read ON storage.buckets;
CREATE POLICY buckets_read ON storage.buckets FOR SELECT TO authenticated USING (true);
DROP POLICY IF EXISTS buckets_service ON storage.buckets;
CREATE POLICY buckets_service ON storage.buckets FOR ALL TO service_role USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS objects_service ON storage.objects;
CREATE POLICY objects_service ON storage.objects FOR ALL TO service_role USING (true) WITH CHECK (true);

-- Public app buckets are readable by everyone signed in; everything else by its owner.
DROP POLICY IF EXISTS objects_read ON storage.objects;
CREATE POLICY objects_read ON storage.objects FOR SELECT TO authenticated
    USING (bucket_id IN ('avatars', 'reels') OR owner = (SELECT auth.uid()));

-- Writes: always as oneself; in the app buckets only under one's own folder.
DROP POLICY IF EXISTS objects_insert ON storage.objects;
CREATE POLICY objects_insert ON storage.objects FOR INSERT TO authenticated
    WITH CHECK (
        owner = (SELECT auth.uid())
        AND (bucket_id NOT IN ('avatars', 'attachments', 'reels') OR storage.in_own_folder(name)));
DROP POLICY IF EXISTS objects_update ON storage.objects;
CREATE POLICY objects_update ON storage.objects FOR UPDATE TO authenticated
    USING (owner = (SELECT auth.uid()))
    WITH CHECK (
        owner = (SELECT auth.uid())
        AND (bucket_id NOT IN ('avatars', 'attachments', 'reels') OR storage.in_own_folder(name)));
DROP POLICY IF EXISTS objects_delete ON storage.objects;
CREATE POLICY objects_delete ON storage.objects FOR DELETE TO authenticated
    USING (owner = (SELECT auth.uid()));

-- The app's buckets (docs/storage.md): avatars 5 MB of images, attachments 100 MB of
-- anything, reels 500 MB of video.
INSERT INTO storage.buckets (id, name, public, file_size_limit, allowed_mime_types) VALUES
    ('avatars', 'avatars', true, 5242880, ARRAY['image/jpeg', 'image/png', 'image/webp', 'image/gif']),
    ('attachments', 'attachments', false, 104857600, NULL),
    ('reels', 'reels', true, 524288000, ARRAY['video/*'])
ON CONFLICT (id) DO NOTHING;
