-- Everything PostgreSQL does for one POST /rest/v1/rpc/send_message_v1, in the order and
-- shape the server sends it (as of commit 11398ff, -M extended like PostgresNIO):
--   Database.withCaller: BEGIN, role and JWT claims set transaction-locally;
--   ChatService.send: the retry lookup by client_msg_id, requireMember, the DM block check,
--   checkRate (messages in the last minute), the INSERT … RETURNING (under RLS), COMMIT;
--   then RealtimeService.dispatch → ChangeRecordLoader.record: the row as JSON, in its own
--   owner transaction (this runs after the HTTP answer, once per message, subscribers or
--   not; the membership lookup before it is cached per conversation and left out).
-- The first statement (outside the transactions) picks the pair and a fresh client_msg_id;
-- it stands in for what the HTTP request carries. Variables: per, body (see send_raw.sql).
\set n :client_id * :per + random(0, :per - 1)
SELECT conversation_id AS conv, sender_id AS sender, claims, gen_random_uuid() AS cmid FROM bench.pairs WHERE n = :n \gset
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :claims, true);
SELECT jsonb_build_object('message_id', id, 'seq', seq, 'created_at', created_at)::text FROM public.messages
    WHERE conversation_id = :conv AND sender_id = :sender AND client_msg_id = :cmid;
SELECT 1 WHERE public.is_chat_member(:conv);
SELECT 1 WHERE public.chat_dm_blocked(:conv);
SELECT count(*), coalesce(ceil(extract(epoch FROM min(created_at) + interval '1 minute' - now())), 1)::int
    FROM public.messages WHERE sender_id = :sender AND created_at > now() - interval '1 minute';
INSERT INTO public.messages (conversation_id, sender_id, client_msg_id, kind, body, reply_to_id)
    VALUES (:conv, :sender, :cmid, 'text', :body, NULL)
    RETURNING jsonb_build_object('message_id', id, 'seq', seq, 'created_at', created_at)::text AS result, id AS mid \gset
COMMIT;
BEGIN;
SELECT jsonb_build_object('id', m.id, 'conversation_id', m.conversation_id, 'sender_id', m.sender_id, 'seq', m.seq,
    'client_msg_id', m.client_msg_id, 'kind', m.kind, 'body', m.body, 'attachment', m.attachment,
    'reply_to_id', m.reply_to_id, 'edited_at', m.edited_at, 'deleted_at', m.deleted_at,
    'created_at', m.created_at, 'updated_at', m.updated_at)::text
    FROM public.messages m WHERE m.id = :mid;
COMMIT;
