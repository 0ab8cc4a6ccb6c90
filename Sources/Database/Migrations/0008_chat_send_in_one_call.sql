-- Sending a message in one database call (issue 12): what send_message_v1 did in ten
-- statements (role and claims, the retry lookup, membership, the DM block, the per-sender
-- rate window, the insert) runs in one function the server calls in one round trip, and the
-- message's realtime shape is defined once, here.

-- A message as realtime subscribers receive it (the postgres_changes `record`): every
-- column a subscriber may see, for every path that publishes a message change.
CREATE FUNCTION public.chat_message_record(m public.messages) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = ''
AS $$
    SELECT jsonb_build_object('id', m.id, 'conversation_id', m.conversation_id, 'sender_id', m.sender_id, 'seq', m.seq,
        'client_msg_id', m.client_msg_id, 'kind', m.kind, 'body', m.body, 'attachment', m.attachment,
        'reply_to_id', m.reply_to_id, 'edited_at', m.edited_at, 'deleted_at', m.deleted_at,
        'created_at', m.created_at, 'updated_at', m.updated_at)
$$;
REVOKE ALL ON FUNCTION public.chat_message_record(public.messages) FROM PUBLIC;
-- chat_send_message runs as the caller's role by the time it formats the row.
GRANT EXECUTE ON FUNCTION public.chat_message_record(public.messages) TO authenticated;

-- Sends a text message as the caller (`caller_role` and `caller_claims` are what the
-- server verified from the access token; both are set transaction-locally, the role just
-- before the insert, which runs under row-level security exactly as the caller's own would).
--
-- Returns {"outcome": …} with
--   sent / existing: "result" (the RPC's answer: message_id, seq, created_at) and "record"
--                    (chat_message_record); existing is a retry of the same client_msg_id;
--   not_member:      the caller is not a member of the conversation (or it does not exist),
--                    also for a retry of a message sent before the caller left it;
--   blocked:         a DM whose users have blocked each other;
--   rate_limited:    "retry_after" seconds until the sender's sliding minute has room.
-- Nothing is written unless the outcome is sent. The sender's sends serialise on an
-- advisory lock, so the count of the last minute sees every message committed before it on
-- any instance. Only the server's own role may call it (it trusts the claims it is given).
CREATE FUNCTION public.chat_send_message(
    caller_role text, caller_claims text, conversation uuid, message_client_id uuid, message_body text, reply_to uuid,
    per_minute integer
) RETURNS jsonb
LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
    me uuid;
    sent public.messages;
    recent integer;
    wait integer;
BEGIN
    -- The checks run as the server's role with the caller's claims (auth.uid() is the
    -- caller): each is one index probe, where under row-level security every message row
    -- the rate window counts would call the membership policy again.
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
        SELECT count(*), coalesce(ceil(extract(epoch FROM min(m.created_at) + interval '1 minute' - now())), 1)::integer
        INTO recent, wait
        FROM public.messages m WHERE m.sender_id = me AND m.created_at > now() - interval '1 minute';
        IF recent >= per_minute THEN
            RETURN jsonb_build_object('outcome', 'rate_limited', 'retry_after', greatest(1, wait));
        END IF;
        -- The insert itself runs as the caller, under the messages_send policy.
        PERFORM set_config('role', caller_role, true);
        INSERT INTO public.messages AS m (conversation_id, sender_id, client_msg_id, kind, body, reply_to_id)
        VALUES (conversation, me, message_client_id, 'text', message_body, reply_to)
        ON CONFLICT (conversation_id, sender_id, client_msg_id) DO NOTHING
        RETURNING * INTO sent;
        IF FOUND THEN
            RETURN jsonb_build_object(
                'outcome', 'sent',
                'result', jsonb_build_object('message_id', sent.id, 'seq', sent.seq, 'created_at', sent.created_at),
                'record', public.chat_message_record(sent));
        END IF;
        -- A concurrent retry of the same message committed first: answer with it.
        SELECT * INTO sent FROM public.messages m
        WHERE m.conversation_id = conversation AND m.sender_id = me AND m.client_msg_id = message_client_id;
    END IF;
    RETURN jsonb_build_object(
        'outcome', 'existing',
        'result', jsonb_build_object('message_id', sent.id, 'seq', sent.seq, 'created_at', sent.created_at),
        'record', public.chat_message_record(sent));
END
$$;
REVOKE ALL ON FUNCTION public.chat_send_message(text, text, uuid, uuid, text, uuid, integer) FROM PUBLIC;
