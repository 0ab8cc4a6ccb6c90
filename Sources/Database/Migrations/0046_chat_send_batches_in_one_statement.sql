-- A batch of sends in one statement (issue 12). `public.chat_send_messages` (0045) ran each
-- send of a batch as `public.chat_send_message` in a subtransaction of its own: about ten
-- statements a send, and the membership and the DM block read twice (by the function and
-- by the insert's policy). A batch of plain text messages from different senders, the usual
-- batch, is now judged and inserted by one statement: membership, the retry key, the DM
-- block and each sender's sliding minute read set-wise, then one INSERT … SELECT of the
-- sends that pass, in the batch's order. Any other batch (attachments, a sender twice, a
-- role other than authenticated) runs send by send as before. When the one statement raises
-- an error (a reply to a message of another conversation, a forward of a message the sender
-- cannot read…), the batch fails as a whole and nothing of it is kept; the server then runs
-- each send by itself (Chat/SendBatcher.swift), so every send gets the outcome or the error a
-- lone send gets.
--
-- That statement inserts with the function's rights, not as each caller: one statement
-- cannot carry each sender's claims. It makes the checks of the insert policy
-- `messages_send` (0017) itself: the sender is the caller (`sub` of the claims), the caller
-- is a member, the DM is not blocked, and the kind is text (neither system nor call).
-- Attachments, whose claim reads the caller's claims, never take it. Its outcomes are
-- `chat_send_message`'s (0017), decided in the same order: not_member, existing, blocked,
-- rate_limited, sent. With different senders, no send of the batch counts in another's
-- sliding minute or shares its retry key.
--
-- Measured with pgbench on the chat benchmark's data, batches of three sends from different
-- senders (docs/performance.md, "A batch of sends in one statement").

-- 0045's function, which first tries the batch as one statement.
CREATE OR REPLACE FUNCTION public.chat_send_messages(sends jsonb, per_minute integer)
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
    -- coalesce: bool_and skips NULLs, and a send without a role or kind must not pass.
    IF (SELECT bool_and(coalesce(s ->> 'role' = 'authenticated' AND s ->> 'kind' = 'text'
                                 AND coalesce(jsonb_typeof(s -> 'attachment'), 'null') = 'null'
                                 AND nullif((s ->> 'claims')::jsonb ->> 'sub', '') IS NOT NULL, false))
               AND count(DISTINCT nullif((s ->> 'claims')::jsonb ->> 'sub', '')::uuid) = count(*)
        FROM jsonb_array_elements(sends) s) THEN
        RETURN QUERY WITH input AS (
            SELECT e.o AS n, ((e.s ->> 'claims')::jsonb ->> 'sub')::uuid AS me, (e.s ->> 'conversation')::uuid AS conversation,
                   (e.s ->> 'client_msg_id')::uuid AS client_msg_id, e.s ->> 'body' AS body, (e.s ->> 'reply_to')::uuid AS reply_to,
                   (e.s ->> 'forwarded_from')::uuid AS forwarded_from
            FROM jsonb_array_elements(sends) WITH ORDINALITY e(s, o)
        ), judged AS MATERIALIZED (
            SELECT i.*,
                EXISTS (SELECT 1 FROM public.participants p WHERE p.conversation_id = i.conversation AND p.user_id = i.me) AS member,
                (SELECT m FROM public.messages m
                 WHERE m.conversation_id = i.conversation AND m.sender_id = i.me AND m.client_msg_id = i.client_msg_id) AS existing,
                EXISTS (SELECT 1 FROM public.dm_pairs d JOIN public.blocks b
                            ON (b.blocker_id = d.user_low AND b.blocked_id = d.user_high)
                            OR (b.blocker_id = d.user_high AND b.blocked_id = d.user_low)
                        WHERE d.conversation_id = i.conversation) AS blocked,
                recent.in_last_minute, recent.wait
            FROM input i
            CROSS JOIN LATERAL (
                SELECT count(*) AS in_last_minute,
                       coalesce(ceil(extract(epoch FROM min(m.created_at) + interval '1 minute' - now())), 1)::integer AS wait
                FROM public.messages m WHERE m.sender_id = i.me AND m.created_at > now() - interval '1 minute') recent
        ), inserted AS (
            INSERT INTO public.messages AS m (conversation_id, sender_id, client_msg_id, kind, body, reply_to_id, forwarded_from)
            SELECT j.conversation, j.me, j.client_msg_id, 'text', j.body, j.reply_to,
                   CASE WHEN j.forwarded_from IS NOT NULL THEN jsonb_build_object('message_id', j.forwarded_from) END
            FROM judged j WHERE j.member AND (j.existing).id IS NULL AND NOT j.blocked AND j.in_last_minute < per_minute
            ORDER BY j.n
            RETURNING m.*
        )
        SELECT (j.n - 1)::integer, (CASE
            WHEN NOT j.member THEN jsonb_build_object('outcome', 'not_member')
            WHEN (j.existing).id IS NOT NULL THEN jsonb_build_object('outcome', 'existing',
                'result', jsonb_build_object('message_id', (j.existing).id, 'seq', (j.existing).seq, 'created_at', (j.existing).created_at),
                'record', public.chat_message_record(j.existing))
            WHEN j.blocked THEN jsonb_build_object('outcome', 'blocked')
            WHEN j.in_last_minute >= per_minute THEN jsonb_build_object('outcome', 'rate_limited', 'retry_after', greatest(1, j.wait))
            ELSE jsonb_build_object('outcome', 'sent',
                'result', jsonb_build_object('message_id', x.id, 'seq', x.seq, 'created_at', x.created_at),
                'record', public.chat_message_record(x::public.messages))
            END)::text
        FROM judged j
        LEFT JOIN inserted x ON x.sender_id = j.me AND x.conversation_id = j.conversation AND x.client_msg_id = j.client_msg_id
        ORDER BY j.n;
        RETURN;
    END IF;
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
