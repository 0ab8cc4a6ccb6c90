-- Sends in batches (issue 12). Sends that reach the server while the database is busy with
-- earlier ones go to it together (Chat/SendBatcher.swift): one statement and one commit for
-- several senders' messages instead of one each. Every send keeps its own outcome; one that
-- fails is undone alone, and the server then runs it by itself to report its error.
-- Measured with scripts/bench/chat.sh (docs/performance.md, "Sends in batches"): ~11 % more
-- sends a second and ~16 % less CPU a send, server and PostgreSQL together (means of sixteen
-- runs on a noisy machine).

-- Runs each element of `sends` as `public.chat_send_message` (0017), in order, each in its
-- own subtransaction, and returns one row per element: its position (from 0) and the
-- outcome's JSON text (0008's outcomes), or {"outcome": "failed"} when the send raised an
-- error (nothing of it is kept). An element is {"role", "claims", "conversation",
-- "client_msg_id", "kind", "body", "attachment"?, "reply_to"?, "forwarded_from"?}, the
-- single call's arguments. The role is reset before each send, so each one's checks run as
-- the server's role and its insert as its own caller.
--
-- Locks: the senders' advisory locks (the one chat_send_message takes) and then the
-- conversations' rows (the one the insert's seq trigger takes), each in one fixed order,
-- before the first send. Two batches that share senders or conversations then wait for each
-- other instead of deadlocking, and a single send (one advisory lock, then one row) cannot
-- close a cycle with a batch either. A lock that takes more than a second (a transaction
-- holding a conversation's row) fails the batch, or the one send waiting for it, with
-- lock_not_available, and the server runs those sends by themselves: the others are not held
-- up behind it. Only the server's own role may call it (it trusts the claims it is given).
CREATE FUNCTION public.chat_send_messages(sends jsonb, per_minute integer)
RETURNS TABLE (item integer, outcome text)
LANGUAGE plpgsql SET search_path = '' SET lock_timeout = '1s'
AS $$
DECLARE
    send jsonb;
    next_item integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('send_message_v1'), sender_key)
    FROM (SELECT DISTINCT hashtext(((s ->> 'claims')::jsonb ->> 'sub')::uuid::text) AS sender_key FROM jsonb_array_elements(sends) s) senders
    ORDER BY sender_key;
    PERFORM 1 FROM public.conversations c
    WHERE c.id IN (SELECT (s ->> 'conversation')::uuid FROM jsonb_array_elements(sends) s)
    ORDER BY c.id
    FOR NO KEY UPDATE;
    FOR send IN SELECT s FROM jsonb_array_elements(sends) s LOOP
        item := next_item;
        next_item := next_item + 1;
        BEGIN
            PERFORM set_config('role', 'none', true);
            outcome := public.chat_send_message(
                send ->> 'role', send ->> 'claims', (send ->> 'conversation')::uuid, (send ->> 'client_msg_id')::uuid,
                send ->> 'kind', send ->> 'body', send -> 'attachment', (send ->> 'reply_to')::uuid, per_minute,
                (send ->> 'forwarded_from')::uuid)::text;
        EXCEPTION WHEN OTHERS THEN
            outcome := '{"outcome": "failed"}';
        END;
        RETURN NEXT;
    END LOOP;
    PERFORM set_config('role', 'none', true);
END
$$;
REVOKE ALL ON FUNCTION public.chat_send_messages(jsonb, integer) FROM PUBLIC;
