-- Chat search, pins, "delete for me", forwarding and call events (issue 14, the shared
-- chat-server contract):
--
--   search     messages match by Russian AND English stemming: an expression GIN index over
--              to_tsvector('russian', body) || to_tsvector('english', body), searched by
--              chat_search_messages (SECURITY INVOKER: row-level security and the caller's
--              current memberships decide what it finds)
--   pins       one pinned message per conversation (conversations.pinned_message_id), set by
--              chat_pin_message / chat_unpin_message: any member of a DM, owners and admins
--              of a group
--   hiding     hidden_messages: messages a user removed for themselves only
--   forwarding messages.forwarded_from {message_id, sender_id, sender_name}, filled by the
--              insert trigger from the message id a client names (a text message it can read)
--   calls      kind 'call' with messages.call {outcome, video, duration_s, caller_id}, written
--              only by the server (chat_record_call, once per call: unique call_id); the calls
--              service keeps each 1:1 call's progress in calls.call_outcomes

-- Search. The index is on an expression, so adding it rewrites no row.
-- lint:allow index-without-concurrently reason: the migrator runs each file in a transaction (no CONCURRENTLY); the build blocks message writes once, for the time it takes to index the existing bodies
CREATE INDEX messages_search_idx ON public.messages
    USING gin ((to_tsvector('russian'::regconfig, body) || to_tsvector('english'::regconfig, body)));

-- Calls and forwards.
ALTER TABLE public.messages ADD COLUMN call jsonb, ADD COLUMN call_id uuid, ADD COLUMN forwarded_from jsonb;
-- lint:allow index-without-concurrently reason: call_id is added just above, NULL in every row, so the partial index is empty and built at once
CREATE UNIQUE INDEX messages_call_id_idx ON public.messages (call_id) WHERE call_id IS NOT NULL;
ALTER TABLE public.messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE public.messages ADD CONSTRAINT messages_kind_check
    CHECK (kind IN ('text', 'image', 'video', 'file', 'voice', 'audio', 'system', 'call')) NOT VALID;
ALTER TABLE public.messages ADD CONSTRAINT messages_call_check
    CHECK ((kind = 'call') = (call IS NOT NULL AND call_id IS NOT NULL)) NOT VALID;

-- Clients name the message they forward ({"message_id": uuid}; the trigger rewrites the
-- rest); they never write call or call_id, and never insert kind 'call' or 'system'.
GRANT INSERT (forwarded_from) ON public.messages TO authenticated;
DROP POLICY IF EXISTS messages_send ON public.messages;
CREATE POLICY messages_send ON public.messages FOR INSERT TO authenticated
    WITH CHECK (sender_id = auth.uid() AND kind NOT IN ('system', 'call')
                AND public.is_chat_member(conversation_id) AND NOT public.chat_dm_blocked(conversation_id));

-- A message as realtime subscribers receive it (0008), with call and forwarded_from.
CREATE OR REPLACE FUNCTION public.chat_message_record(m public.messages) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = ''
AS $$
    SELECT jsonb_build_object('id', m.id, 'conversation_id', m.conversation_id, 'sender_id', m.sender_id, 'seq', m.seq,
        'client_msg_id', m.client_msg_id, 'kind', m.kind, 'body', m.body, 'attachment', m.attachment,
        'reply_to_id', m.reply_to_id, 'edited_at', m.edited_at, 'deleted_at', m.deleted_at,
        'created_at', m.created_at, 'updated_at', m.updated_at, 'call', m.call, 'forwarded_from', m.forwarded_from)
$$;

-- The forwarded_from of a new message of `sender` naming `reference` ({"message_id": uuid}):
-- the named message must be a live text message of a conversation the sender is in; a
-- forward of a forward keeps the original author. Raises 22023 naming forwarded_from_id.
CREATE FUNCTION public.chat_forward_source(sender uuid, reference jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    source_text text;
    source public.messages;
    author text;
BEGIN
    source_text := CASE WHEN jsonb_typeof(reference) = 'object' AND jsonb_typeof(reference -> 'message_id') = 'string'
                        THEN reference ->> 'message_id' END;
    IF source_text IS NULL OR source_text !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        RAISE EXCEPTION 'forwarded_from_id: must be the id (a uuid) of a message you can read' USING ERRCODE = '22023';
    END IF;
    SELECT m.* INTO source FROM public.messages m
    JOIN public.participants p ON p.conversation_id = m.conversation_id AND p.user_id = sender
    WHERE m.id = source_text::uuid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'forwarded_from_id: no such message in your conversations' USING ERRCODE = '22023';
    END IF;
    IF source.deleted_at IS NOT NULL THEN
        RAISE EXCEPTION 'forwarded_from_id: the message was deleted' USING ERRCODE = '22023';
    END IF;
    IF source.kind <> 'text' THEN
        RAISE EXCEPTION 'forwarded_from_id: only text messages can be forwarded' USING ERRCODE = '22023';
    END IF;
    IF source.forwarded_from IS NOT NULL THEN
        RETURN source.forwarded_from;
    END IF;
    SELECT coalesce(nullif(pr.display_name, ''), pr.username) INTO author FROM public.profiles pr WHERE pr.id = source.sender_id;
    RETURN jsonb_build_object('message_id', source.id, 'sender_id', source.sender_id, 'sender_name', author);
END
$$;

-- Seq assignment and attachments (0013); call messages only from the server's own role
-- (never a request role, whatever the policies), forwards resolved as above.
CREATE OR REPLACE FUNCTION public.messages_before_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    IF NEW.reply_to_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM public.messages m WHERE m.id = NEW.reply_to_id AND m.conversation_id = NEW.conversation_id) THEN
        RAISE EXCEPTION 'reply_to_id: must be a message of the same conversation' USING ERRCODE = '22023';
    END IF;
    IF NEW.kind = 'call' OR NEW.call IS NOT NULL OR NEW.call_id IS NOT NULL THEN
        IF coalesce(current_setting('role', true), 'none') IN ('anon', 'authenticated', 'service_role') THEN
            RAISE EXCEPTION 'kind: call messages are written by the server' USING ERRCODE = '22023';
        END IF;
    END IF;
    IF NEW.forwarded_from IS NOT NULL AND jsonb_typeof(NEW.forwarded_from) <> 'null' THEN
        IF NEW.kind <> 'text' THEN
            RAISE EXCEPTION 'forwarded_from_id: only text messages can be forwarded' USING ERRCODE = '22023';
        END IF;
        NEW.forwarded_from := public.chat_forward_source(NEW.sender_id, NEW.forwarded_from);
    ELSE
        NEW.forwarded_from := NULL;
    END IF;
    IF NEW.kind = 'text' THEN
        IF NEW.attachment IS NOT NULL AND jsonb_typeof(NEW.attachment) <> 'null' THEN
            RAISE EXCEPTION 'attachment: a text message has none; send files with kind image, video, file or voice'
                USING ERRCODE = '22023';
        END IF;
        NEW.attachment := NULL;
    ELSIF NEW.kind NOT IN ('system', 'call') THEN
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

-- Sends a message as the caller (0013's chat_send_message, see 0008 for the outcomes) with
-- an optional forwarded message id; calls with the nine arguments of 0013 still work.
DROP FUNCTION public.chat_send_message(text, text, uuid, uuid, text, text, jsonb, uuid, integer);
CREATE FUNCTION public.chat_send_message(
    caller_role text, caller_claims text, conversation uuid, message_client_id uuid, message_kind text, message_body text,
    message_attachment jsonb, reply_to uuid, per_minute integer, forwarded_from_id uuid DEFAULT NULL
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
        SELECT * INTO sent FROM public.messages m
        WHERE m.conversation_id = conversation AND m.sender_id = me AND m.client_msg_id = message_client_id;
        IF NOT FOUND THEN
            SELECT count(*), coalesce(ceil(extract(epoch FROM min(m.created_at) + interval '1 minute' - now())), 1)::integer
            INTO recent, wait
            FROM public.messages m WHERE m.sender_id = me AND m.created_at > now() - interval '1 minute';
            IF recent >= per_minute THEN
                RETURN jsonb_build_object('outcome', 'rate_limited', 'retry_after', greatest(1, wait));
            END IF;
            PERFORM set_config('role', caller_role, true);
            INSERT INTO public.messages AS m (conversation_id, sender_id, client_msg_id, kind, body, attachment, reply_to_id, forwarded_from)
            VALUES (conversation, me, message_client_id, message_kind, message_body, message_attachment, reply_to,
                    CASE WHEN forwarded_from_id IS NOT NULL THEN jsonb_build_object('message_id', forwarded_from_id) END)
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
REVOKE ALL ON FUNCTION public.chat_send_message(text, text, uuid, uuid, text, text, jsonb, uuid, integer, uuid) FROM PUBLIC;

-- "Delete for me": the messages a user no longer sees (history, inbox previews, search).
CREATE TABLE public.hidden_messages (
    user_id uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
    message_id uuid NOT NULL REFERENCES public.messages (id) ON DELETE CASCADE,
    conversation_id uuid NOT NULL REFERENCES public.conversations (id) ON DELETE CASCADE,
    hidden_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, message_id)
);
CREATE INDEX hidden_messages_conversation_idx ON public.hidden_messages (user_id, conversation_id);
ALTER TABLE public.hidden_messages ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON public.hidden_messages TO authenticated;
DROP POLICY IF EXISTS hidden_messages_own ON public.hidden_messages;
CREATE POLICY hidden_messages_own ON public.hidden_messages FOR SELECT TO authenticated
    USING (user_id = auth.uid());

-- Hides a message the caller can read, for the caller only (idempotent); returns
-- {message_id, conversation_id, hidden: true}. P0002 naming message_id otherwise.
CREATE FUNCTION public.chat_hide_message(message uuid) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    conversation uuid;
BEGIN
    IF auth.uid() IS NULL THEN
        RAISE EXCEPTION 'sign in required' USING ERRCODE = '42501';
    END IF;
    SELECT m.conversation_id INTO conversation FROM public.messages m WHERE m.id = message;
    IF conversation IS NULL OR NOT public.is_chat_member(conversation) THEN
        RAISE EXCEPTION 'message_id: no such message' USING ERRCODE = 'P0002';
    END IF;
    INSERT INTO public.hidden_messages (user_id, message_id, conversation_id) VALUES (auth.uid(), message, conversation)
    ON CONFLICT DO NOTHING;
    RETURN jsonb_build_object('message_id', message, 'conversation_id', conversation, 'hidden', true);
END
$$;

-- Whether the caller hid a message (false for anyone else).
CREATE FUNCTION public.chat_hidden(message uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT EXISTS (SELECT 1 FROM public.hidden_messages h WHERE h.user_id = auth.uid() AND h.message_id = message) $$;

-- Pins.
ALTER TABLE public.conversations ADD COLUMN pinned_message_id uuid, ADD COLUMN pinned_by uuid, ADD COLUMN pinned_at timestamptz;
ALTER TABLE public.conversations ADD CONSTRAINT conversations_pinned_message_fkey
    FOREIGN KEY (pinned_message_id) REFERENCES public.messages (id) ON DELETE SET NULL NOT VALID;

-- The pin as clients see it: {id, seq, kind, body, sender_id} of a live message the caller
-- has not hidden, else null.
CREATE FUNCTION public.chat_pinned_json(message uuid) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
    SELECT jsonb_build_object('id', m.id, 'seq', m.seq, 'kind', m.kind, 'body', m.body, 'sender_id', m.sender_id)
    FROM public.messages m
    WHERE m.id = message AND m.deleted_at IS NULL AND public.is_chat_member(m.conversation_id) AND NOT public.chat_hidden(m.id)
$$;

-- Checks that the caller may change a conversation's pin: any member of a DM, owners and
-- admins of a group (P0002 / 42501 otherwise).
CREATE FUNCTION public.chat_check_pin_rights(conversation uuid, field text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    mine text := public.chat_role(conversation);
BEGIN
    IF mine IS NULL THEN
        RAISE EXCEPTION '%: no such %', field, CASE field WHEN 'message_id' THEN 'message' ELSE 'conversation' END USING ERRCODE = 'P0002';
    END IF;
    IF (SELECT c.kind FROM public.conversations c WHERE c.id = conversation) = 'group' AND mine NOT IN ('owner', 'admin') THEN
        RAISE EXCEPTION 'only owners and admins pin messages in a group' USING ERRCODE = '42501';
    END IF;
END
$$;

-- Pins a live message (replacing the conversation's pin); returns {conversation_id, pinned_message}.
CREATE FUNCTION public.chat_pin_message(message uuid) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    found_message public.messages;
BEGIN
    SELECT m.* INTO found_message FROM public.messages m WHERE m.id = message;
    PERFORM public.chat_check_pin_rights(found_message.conversation_id, 'message_id');
    IF found_message.deleted_at IS NOT NULL THEN
        RAISE EXCEPTION 'message_id: the message was deleted' USING ERRCODE = '22023';
    END IF;
    UPDATE public.conversations c SET pinned_message_id = message, pinned_by = auth.uid(), pinned_at = now(), updated_at = now()
    WHERE c.id = found_message.conversation_id;
    RETURN jsonb_build_object('conversation_id', found_message.conversation_id, 'pinned_message', public.chat_pinned_json(message));
END
$$;

-- Removes a conversation's pin (idempotent); returns {conversation_id, pinned_message: null}.
CREATE FUNCTION public.chat_unpin_message(conversation uuid) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    PERFORM public.chat_check_pin_rights(conversation, 'conversation_id');
    UPDATE public.conversations c SET pinned_message_id = NULL, pinned_by = NULL, pinned_at = NULL, updated_at = now()
    WHERE c.id = conversation AND c.pinned_message_id IS NOT NULL;
    RETURN jsonb_build_object('conversation_id', conversation, 'pinned_message', NULL);
END
$$;

-- Search: the caller's readable, live, not hidden messages matching `search_query` (web
-- search syntax) by Russian or English stemming, newest first, before (created_at, id) when
-- given; `headline` is up to 160 characters of plain text around the first match.
CREATE FUNCTION public.chat_search_messages(
    search_query text, conversation uuid, before_at timestamptz, before_id uuid, page_size integer
) RETURNS TABLE (
    id uuid, conversation_id uuid, seq bigint, sender_id uuid, kind text, body text, created_at timestamptz, headline text
)
LANGUAGE sql STABLE SECURITY INVOKER SET search_path = ''
AS $$
    WITH q AS (
        SELECT websearch_to_tsquery('russian'::regconfig, search_query) || websearch_to_tsquery('english'::regconfig, search_query) AS query
    )
    SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.kind, m.body, m.created_at,
        left(regexp_replace(ts_headline('russian'::regconfig, m.body, q.query,
                 'StartSel="", StopSel="", MaxWords=24, MinWords=6, ShortWord=2, MaxFragments=1, FragmentDelimiter=" … "'),
             '\s+', ' ', 'g'), 160)
    FROM q, public.messages m
    WHERE (to_tsvector('russian'::regconfig, m.body) || to_tsvector('english'::regconfig, m.body)) @@ q.query
      AND m.deleted_at IS NULL
      AND m.conversation_id IN (SELECT p.conversation_id FROM public.participants p WHERE p.user_id = auth.uid())
      AND (conversation IS NULL OR m.conversation_id = conversation)
      AND NOT EXISTS (SELECT 1 FROM public.hidden_messages h WHERE h.user_id = auth.uid() AND h.message_id = m.id)
      AND (before_at IS NULL OR (m.created_at, m.id) < (before_at, before_id))
    ORDER BY m.created_at DESC, m.id DESC
    LIMIT least(greatest(page_size, 1), 51)
$$;

-- Writes the call event of a finished 1:1 call into its DM (server only): a message of kind
-- 'call' from the caller, body '', call {outcome, video, duration_s, caller_id}. Nothing
-- (NULL) unless the conversation is the DM of exactly these two users, and nothing a second
-- time for the same call (unique call_id); else the new message's record.
CREATE FUNCTION public.chat_record_call(
    call uuid, conversation uuid, caller uuid, callee uuid, video boolean, outcome text, duration_s integer
) RETURNS jsonb
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    sent public.messages;
BEGIN
    IF outcome NOT IN ('missed', 'declined', 'cancelled', 'ended') THEN
        RAISE EXCEPTION 'outcome: must be missed, declined, cancelled or ended' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.dm_pairs d WHERE d.conversation_id = conversation
                   AND d.user_low = least(caller, callee) AND d.user_high = greatest(caller, callee)) THEN
        RETURN NULL;
    END IF;
    INSERT INTO public.messages (conversation_id, sender_id, client_msg_id, kind, body, call, call_id)
    VALUES (conversation, caller, call, 'call', '',
            jsonb_build_object('outcome', outcome, 'video', video,
                               'duration_s', CASE WHEN outcome = 'ended' THEN greatest(coalesce(duration_s, 0), 0) END,
                               'caller_id', caller),
            call)
    ON CONFLICT DO NOTHING
    RETURNING * INTO sent;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN public.chat_message_record(sent);
END
$$;

REVOKE ALL ON FUNCTION public.chat_forward_source(uuid, jsonb), public.chat_hide_message(uuid), public.chat_hidden(uuid),
    public.chat_pinned_json(uuid), public.chat_check_pin_rights(uuid, text), public.chat_pin_message(uuid),
    public.chat_unpin_message(uuid), public.chat_search_messages(text, uuid, timestamptz, uuid, integer),
    public.chat_record_call(uuid, uuid, uuid, uuid, boolean, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.chat_hide_message(uuid), public.chat_hidden(uuid), public.chat_pinned_json(uuid),
    public.chat_pin_message(uuid), public.chat_unpin_message(uuid),
    public.chat_search_messages(text, uuid, timestamptz, uuid, integer) TO authenticated;

-- The calls service's record of each 1:1 call with a conversation, from invite to its end:
-- the first end wins (ended_at set once), so one call yields one event however many
-- devices or instances report it.
CREATE TABLE calls.call_outcomes (
    call_id uuid PRIMARY KEY,
    room_id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    caller_id uuid NOT NULL,
    callee_id uuid NOT NULL,
    video boolean NOT NULL,
    invited_at timestamptz NOT NULL DEFAULT now(),
    accepted_at timestamptz,
    ended_at timestamptz,
    outcome text CHECK (outcome IN ('missed', 'declined', 'cancelled', 'ended')),
    CHECK ((ended_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX call_outcomes_open_idx ON calls.call_outcomes (invited_at) WHERE ended_at IS NULL;
ALTER TABLE calls.call_outcomes ENABLE ROW LEVEL SECURITY;
