-- A file sent in a chat message stays what was sent. Once a feature has claimed an upload
-- (storage.claim_object set attached_at), the storage API can no longer replace its bytes
-- (upsert, a signed upload URL, a resumable upload), rename it (move), or remove it: the
-- message carries its path, size and measurements, and its readers' access follows it.
-- Deleting the message releases the object (storage.release_object, which is changed here
-- to detach before it deletes). Changes that keep the file (owner set to NULL when an
-- account is deleted, last_accessed_at, metadata the server writes) stay allowed.
--
--   protect_attached   BEFORE UPDATE OR DELETE on storage.objects, only for attached rows
--                      and renditions (whose upload may be attached): refuses with SQLSTATE
--                      55006 (object_in_use) naming the path
--   release_object     (owner only, as before) clears attached_at, then deletes

CREATE FUNCTION storage.protect_attached() RETURNS trigger
LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
    IF OLD.parent_id IS NOT NULL THEN
        -- A rendition (thumbnail, poster) of an attached upload is part of what was sent. When
        -- the upload itself goes (release_object detached it first), this passes.
        IF (TG_OP = 'DELETE' OR NEW.bucket_id IS DISTINCT FROM OLD.bucket_id OR NEW.name IS DISTINCT FROM OLD.name
                OR NEW.version IS DISTINCT FROM OLD.version)
           AND EXISTS (SELECT 1 FROM storage.objects WHERE id = OLD.parent_id AND attached_at IS NOT NULL) THEN
            RAISE EXCEPTION 'path: % is a preview of a file attached to a message; delete the message to remove it', OLD.name
                USING ERRCODE = '55006';
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'path: % is attached to a message and cannot be removed; delete the message to remove it', OLD.name
            USING ERRCODE = '55006';
    END IF;
    IF NEW.bucket_id IS DISTINCT FROM OLD.bucket_id OR NEW.name IS DISTINCT FROM OLD.name THEN
        RAISE EXCEPTION 'path: % is attached to a message and cannot be moved', OLD.name
            USING ERRCODE = '55006';
    END IF;
    IF NEW.version IS DISTINCT FROM OLD.version THEN
        RAISE EXCEPTION 'path: % is attached to a message and cannot be replaced; upload under another name', OLD.name
            USING ERRCODE = '55006';
    END IF;
    -- Only the server's own functions (running as the owner role) detach an object.
    IF NEW.attached_at IS NULL AND current_user IN ('anon', 'authenticated', 'service_role') THEN
        RAISE EXCEPTION 'path: % is attached to a message; delete the message to release it', OLD.name
            USING ERRCODE = '55006';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER objects_protect_attached
    BEFORE UPDATE OR DELETE ON storage.objects
    FOR EACH ROW WHEN (OLD.attached_at IS NOT NULL OR OLD.parent_id IS NOT NULL)
    EXECUTE FUNCTION storage.protect_attached();

CREATE OR REPLACE FUNCTION storage.release_object(p_object_id uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = ''
AS $$
    UPDATE storage.objects SET attached_at = NULL WHERE id = p_object_id AND attached_at IS NOT NULL;
    DELETE FROM storage.objects WHERE id = p_object_id;
$$;
REVOKE ALL ON FUNCTION storage.release_object(uuid) FROM PUBLIC;
