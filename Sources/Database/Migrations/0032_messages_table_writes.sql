-- Messages written through the table API (`POST /rest/v1/messages`, docs/tables.md) follow
-- the rules `send_message_v1` follows. Membership, blocks, the sender, seq, length, replies and
-- attachments were already the table's own (policy `messages_send`, check constraints,
-- trigger `messages_assign_seq`); what this adds:
--
-- * `sender_id` defaults to the caller and `client_msg_id` to a fresh key, so
--   `insert({"conversation_id": …, "body": …})` works; a client that retries sends its own
--   `client_msg_id` with `Prefer: resolution=ignore-duplicates` and gets no second message.
-- * the same sliding-minute limit as `chat_send_message` (60 a sender), under the same
--   advisory lock, for inserts made through the table API (PostgREST's `request.path` is
--   set); `send_message_v1` has already checked its one insert. Over the limit the insert
--   fails with SQLSTATE PT429, which the API answers as HTTP 429.

ALTER TABLE public.messages
    ALTER COLUMN sender_id SET DEFAULT auth.uid(),
    ALTER COLUMN client_msg_id SET DEFAULT gen_random_uuid();

CREATE FUNCTION public.messages_table_insert_rate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
    recent integer;
    wait integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('send_message_v1'), hashtext(NEW.sender_id::text));
    SELECT count(*), coalesce(ceil(extract(epoch FROM min(m.created_at) + interval '1 minute' - now())), 1)::integer
    INTO recent, wait
    FROM public.messages m WHERE m.sender_id = NEW.sender_id AND m.created_at > now() - interval '1 minute';
    -- An AFTER trigger: the count includes this row and every other row of the statement.
    IF recent > 60 THEN
        RAISE EXCEPTION 'rate_limited: you can send 60 messages a minute'
            USING ERRCODE = 'PT429', HINT = format('retry in %s s', greatest(1, wait));
    END IF;
    RETURN NULL;
END
$$;

-- The WHEN clause keeps every other insert (send_message_v1 above all) from even queuing the
-- trigger.
CREATE TRIGGER messages_table_insert_rate AFTER INSERT ON public.messages
FOR EACH ROW WHEN (coalesce(current_setting('request.path', true), '') <> '')
EXECUTE FUNCTION public.messages_table_insert_rate();
