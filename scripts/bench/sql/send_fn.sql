-- Everything PostgreSQL does for one POST /rest/v1/rpc/send_message_v1, as the server sends
-- it (issue 12, migrations 0008 and 0013): one call of public.chat_send_message in autocommit, which sets
-- the caller's claims, checks the retry key, membership, the DM block and the sender's rate
-- window, and inserts under row-level security as the caller; it returns the committed row,
-- which realtime delivers without reading it again. Run with -M prepared: the server prepares
-- its call once per pooled connection (Chat/SendMessageStatement.swift).
-- The first statement picks the pair and a fresh client_msg_id; it stands in for what the
-- HTTP request carries. Variables: per, body (see send_raw.sql). The rate window's limit is
-- 1 000 000 a minute, not the server's 60: at pgbench's rate every sender passes 60 within
-- seconds, and the refusals that followed (cheaper than a send) made this baseline faster
-- than the sends it stands for.
\set n :client_id * :per + random(0, :per - 1)
SELECT conversation_id AS conv, claims, gen_random_uuid() AS cmid FROM bench.pairs WHERE n = :n \gset
SELECT public.chat_send_message('authenticated', :claims, :conv, :cmid, 'text', :body, NULL::jsonb, NULL::uuid, 1000000)::text;
