-- Chat attachments (issue 13, item 5): image, video, file and voice messages carry an upload
-- of the sender's in the `attachments` bucket, claimed through storage.claim_object (0012).
-- The rules live in the messages triggers, so every write path gets them:
--
--   insert   text carries no attachment; image, video, file, voice and audio carry exactly
--            one: the caller's own unattached upload (not a rendition), named by
--            {"object_id": uuid} or {"bucket": "attachments", "path": name}; its sniffed
--            type must fit the kind; the stored attachment is the claim's result
--   tombstone / delete
--            the object is released (its row, renditions and blobs go) in the same
--            transaction and the attachment is cleared
--   read     storage.shared_read_allowed: current participants of a conversation with a
--            live message carrying the object read it (and its renditions)
--
-- chat_send_message takes the kind and the reference; a retry of a client_msg_id is found
-- before anything is claimed. Avatars may also be a relative same-server public URL.

-- 'voice' joins the kinds ('audio', the spec's name, stays and means the same). Every
-- existing row passed the narrower rule, so the new one needs no scan.
ALTER TABLE public.messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE public.messages ADD CONSTRAINT messages_kind_check
    CHECK (kind IN ('text', 'image', 'video', 'file', 'voice', 'audio', 'system')) NOT VALID;

-- Who may read an object: one probe by object id (storage's read policy asks per row).
-- lint:allow index-without-concurrently reason: attachments arrive with this migration; every existing message has a NULL attachment, so the index is empty and built at once
CREATE INDEX messages_attachment_object_idx ON public.messages ((attachment ->> 'object_id'));

-- Claims the object `reference` names for a new message of `message_kind` as the caller
-- (auth.uid(); storage.claim_object raises P0002 / 23505 'attachment: ...' when it is not
-- the caller's unattached upload) and returns the claim (the stored attachment). Raises
-- 22023 naming `attachment` or `kind` when the reference is malformed or the type does not
-- fit the kind; the raise undoes the claim with the rest of the statement.
CREATE FUNCTION public.chat_claim_attachment(message_kind text, reference jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    object_text text;
    object_name text;
    claimed jsonb;
    mime text;
    fits boolean;
BEGIN
    IF reference IS NULL OR jsonb_typeof(reference) = 'null' THEN
        RAISE EXCEPTION 'attachment: a % message needs an attachment: the path or id of your upload in the attachments bucket', message_kind
            USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(reference) <> 'object' THEN
        RAISE EXCEPTION 'attachment: must be {"object_id": uuid} or {"bucket": "attachments", "path": name}' USING ERRCODE = '22023';
    END IF;
    IF reference ? 'object_id' THEN
        object_text := CASE WHEN jsonb_typeof(reference -> 'object_id') = 'string' THEN reference ->> 'object_id' END;
        IF object_text IS NULL OR object_text !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
            RAISE EXCEPTION 'attachment: object_id must be a uuid' USING ERRCODE = '22023';
        END IF;
        claimed := storage.claim_object('attachments', NULL, object_text::uuid);
    ELSE
        IF coalesce(reference ->> 'bucket', 'attachments') <> 'attachments' THEN
            RAISE EXCEPTION 'attachment: bucket must be attachments' USING ERRCODE = '22023';
        END IF;
        object_name := CASE WHEN jsonb_typeof(reference -> 'path') = 'string' THEN reference ->> 'path' END;
        IF object_name IS NULL OR octet_length(object_name) NOT BETWEEN 1 AND 1024 THEN
            RAISE EXCEPTION 'attachment: path must be the object''s name in the attachments bucket (1 to 1024 bytes)' USING ERRCODE = '22023';
        END IF;
        claimed := storage.claim_object('attachments', object_name, NULL);
    END IF;
    mime := lower(split_part(claimed ->> 'mime_type', ';', 1));
    fits := CASE message_kind
        WHEN 'file' THEN true
        WHEN 'image' THEN mime LIKE 'image/%'
        WHEN 'video' THEN mime LIKE 'video/%'
        -- A browser's MediaRecorder may label an audio-only WebM as video/webm.
        WHEN 'voice' THEN mime LIKE 'audio/%' OR (mime = 'video/webm'
            AND coalesce(jsonb_typeof(claimed -> 'width'), 'null') = 'null' AND coalesce(jsonb_typeof(claimed -> 'height'), 'null') = 'null')
        WHEN 'audio' THEN mime LIKE 'audio/%' OR (mime = 'video/webm'
            AND coalesce(jsonb_typeof(claimed -> 'width'), 'null') = 'null' AND coalesce(jsonb_typeof(claimed -> 'height'), 'null') = 'null')
        ELSE false
    END;
    IF NOT fits THEN
        RAISE EXCEPTION 'kind: % message needs % attachment (this one is %)',
            CASE message_kind WHEN 'image' THEN 'an image' WHEN 'video' THEN 'a video' WHEN 'voice' THEN 'a voice' WHEN 'audio' THEN 'an audio' ELSE 'a ' || message_kind END,
            CASE message_kind WHEN 'image' THEN 'an image' WHEN 'video' THEN 'a video' WHEN 'voice' THEN 'an audio' WHEN 'audio' THEN 'an audio' ELSE 'a matching' END,
            claimed ->> 'mime_type'
            USING ERRCODE = '22023';
    END IF;
    RETURN claimed;
END
$$;

-- Releases the object a stored attachment claimed (no-op without one).
CREATE FUNCTION public.chat_release_attachment(attachment jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    IF jsonb_typeof(attachment) = 'object' AND jsonb_typeof(attachment -> 'object_id') = 'string'
        AND (attachment ->> 'object_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        PERFORM storage.release_object((attachment ->> 'object_id')::uuid);
    END IF;
END
$$;

REVOKE ALL ON FUNCTION public.chat_claim_attachment(text, jsonb), public.chat_release_attachment(jsonb) FROM PUBLIC;

-- Seq assignment (as in 0003) and the attachment rule above.
CREATE OR REPLACE FUNCTION public.messages_before_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    IF NEW.reply_to_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM public.messages m WHERE m.id = NEW.reply_to_id AND m.conversation_id = NEW.conversation_id) THEN
        RAISE EXCEPTION 'reply_to_id: must be a message of the same conversation' USING ERRCODE = '22023';
    END IF;
    IF NEW.kind = 'text' THEN
        IF NEW.attachment IS NOT NULL AND jsonb_typeof(NEW.attachment) <> 'null' THEN
            RAISE EXCEPTION 'attachment: a text message has none; send files with kind image, video, file or voice'
                USING ERRCODE = '22023';
        END IF;
        NEW.attachment := NULL;
    ELSIF NEW.kind <> 'system' THEN
        NEW.attachment := public.chat_claim_attachment(NEW.kind, NEW.attachment);
    END IF;
    UPDATE public.conversations c SET last_seq = c.last_seq + 1, last_message_at = now(), updated_at = now()
    WHERE c.id = NEW.conversation_id RETURNING c.last_seq INTO NEW.seq;
    NEW.created_at := now();
    NEW.updated_at := now();
    NEW.edited_at := NULL;
    NEW.deleted_at := NULL;
    RETURN NEW;
END
$$;

-- Edits and deletions (as in 0003); a tombstone also releases its attachment's object, and
-- an attachment never changes otherwise.
CREATE OR REPLACE FUNCTION public.messages_before_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    IF OLD.deleted_at IS NOT NULL THEN
        RAISE EXCEPTION 'message_id: the message was deleted' USING ERRCODE = '22023';
    END IF;
    IF NEW.deleted_at IS NOT NULL THEN
        NEW.deleted_at := now();
        NEW.body := '';
        NEW.attachment := NULL;
        PERFORM public.chat_release_attachment(OLD.attachment);
    ELSE
        NEW.attachment := OLD.attachment;
        IF NEW.body IS DISTINCT FROM OLD.body THEN
            IF OLD.sender_id IS DISTINCT FROM auth.uid() THEN
                RAISE EXCEPTION 'message_id: only the sender may edit a message' USING ERRCODE = '42501';
            END IF;
            IF OLD.kind <> 'text' OR OLD.created_at < now() - interval '48 hours' THEN
                RAISE EXCEPTION 'message_id: only text messages younger than 48 hours can be edited' USING ERRCODE = '22023';
            END IF;
            NEW.edited_at := now();
        END IF;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- A message row that goes (its conversation or sender deleted) takes its object along.
CREATE FUNCTION public.messages_after_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    PERFORM public.chat_release_attachment(OLD.attachment);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION public.messages_after_delete() FROM PUBLIC;
CREATE TRIGGER messages_release_attachment AFTER DELETE ON public.messages
FOR EACH ROW WHEN (OLD.attachment IS NOT NULL) EXECUTE FUNCTION public.messages_after_delete();

-- Storage's read extension point (0012): the caller is a current participant of a
-- conversation with a live message carrying the object.
CREATE OR REPLACE FUNCTION storage.shared_read_allowed(p_object_id uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT EXISTS (
        SELECT 1 FROM public.messages m
        JOIN public.participants p ON p.conversation_id = m.conversation_id AND p.user_id = auth.uid()
        WHERE (m.attachment ->> 'object_id') = lower(p_object_id::text) AND m.deleted_at IS NULL)
$$;

-- Sends a message as the caller (0008's chat_send_message with a kind and an attachment
-- reference; see there for the outcomes). A retry of client_msg_id is answered before
-- anything is claimed, also when it waited for the sender's lock behind the original.
DROP FUNCTION public.chat_send_message(text, text, uuid, uuid, text, uuid, integer);
CREATE FUNCTION public.chat_send_message(
    caller_role text, caller_claims text, conversation uuid, message_client_id uuid, message_kind text, message_body text,
    message_attachment jsonb, reply_to uuid, per_minute integer
) RETURNS jsonb
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    me uuid;
    sent public.messages;
    recent integer;
    wait integer;
BEGIN
    PERFORM set_config('request.jwt.claims', caller_claims, true);
    me := auth.uid();
    IF me IS NULL THEN
        RAISE EXCEPTION 'sign in to send messages' USING ERRCODE = '42501';
    END IF;
    IF NOT public.is_chat_member(conversation) THEN
        RETURN jsonb_build_object('outcome', 'not_member');
    END IF;
    SELECT * INTO sent FROM public.messages m
    WHERE m.conversation_id = conversation AND m.sender_id = me AND m.client_msg_id = message_client_id;
    IF NOT FOUND THEN
        IF public.chat_dm_blocked(conversation) THEN
            RETURN jsonb_build_object('outcome', 'blocked');
        END IF;
        PERFORM pg_advisory_xact_lock(hashtext('send_message_v1'), hashtext(me::text));
        -- A concurrent send of the same message held the lock: it is committed now.
        SELECT * INTO sent FROM public.messages m
        WHERE m.conversation_id = conversation AND m.sender_id = me AND m.client_msg_id = message_client_id;
        IF NOT FOUND THEN
            SELECT count(*), coalesce(ceil(extract(epoch FROM min(m.created_at) + interval '1 minute' - now())), 1)::integer
            INTO recent, wait
            FROM public.messages m WHERE m.sender_id = me AND m.created_at > now() - interval '1 minute';
            IF recent >= per_minute THEN
                RETURN jsonb_build_object('outcome', 'rate_limited', 'retry_after', greatest(1, wait));
            END IF;
            -- The insert runs as the caller, under the messages_send policy; its trigger
            -- claims the attachment.
            PERFORM set_config('role', caller_role, true);
            INSERT INTO public.messages AS m (conversation_id, sender_id, client_msg_id, kind, body, attachment, reply_to_id)
            VALUES (conversation, me, message_client_id, message_kind, message_body, message_attachment, reply_to)
            RETURNING * INTO sent;
            RETURN jsonb_build_object(
                'outcome', 'sent',
                'result', jsonb_build_object('message_id', sent.id, 'seq', sent.seq, 'created_at', sent.created_at),
                'record', public.chat_message_record(sent));
        END IF;
    END IF;
    RETURN jsonb_build_object(
        'outcome', 'existing',
        'result', jsonb_build_object('message_id', sent.id, 'seq', sent.seq, 'created_at', sent.created_at),
        'record', public.chat_message_record(sent));
END
$$;
REVOKE ALL ON FUNCTION public.chat_send_message(text, text, uuid, uuid, text, text, jsonb, uuid, integer) FROM PUBLIC;

-- Avatars may also name this server's public avatars bucket by a relative URL
-- (/storage/v1/object/public/avatars/<path>: no '..', no white space). The rule only widens,
-- so existing rows need no scan.
ALTER TABLE public.profiles DROP CONSTRAINT profiles_avatar_url_check;
ALTER TABLE public.profiles ADD CONSTRAINT profiles_avatar_url_check CHECK (avatar_url IS NULL OR (char_length(avatar_url) <= 2048
    AND (avatar_url ~* '^https?://'
         OR (avatar_url ~ '^/storage/v1/object/public/avatars/[^[:space:]]+$' AND strpos(avatar_url, '..') = 0)))) NOT VALID;
ALTER TABLE public.conversations DROP CONSTRAINT conversations_avatar_url_check;
ALTER TABLE public.conversations ADD CONSTRAINT conversations_avatar_url_check CHECK (avatar_url IS NULL OR (char_length(avatar_url) <= 2048
    AND (avatar_url ~* '^https?://'
         OR (avatar_url ~ '^/storage/v1/object/public/avatars/[^[:space:]]+$' AND strpos(avatar_url, '..') = 0)))) NOT VALID;
