-- Raw PostgreSQL equivalent of POST /rest/v1/rpc/send_message_v1: the INSERT … RETURNING of
-- ChatService.send alone (the BEFORE INSERT trigger messages_assign_seq bumps
-- conversations.last_seq and assigns seq), run as the owner, one statement per transaction
-- (autocommit), with -M extended like PostgresNIO's unnamed statements (send_raw_pg, the
-- issue's baseline) and again with -M prepared (send_raw_prepared_pg: the server prepares its call).
-- Variables from scripts/bench/chat_bench.py: per (sender/conversation pairs per client), body.
-- bench.pairs(n, conversation_id, sender_id, claims) holds the same pairs the HTTP workers
-- use; client c uses pairs c*per … c*per+per-1 (the HTTP worker c's share), so clients
-- contend on the same conversations as the HTTP workers do. The pair lookup is a primary-key
-- probe inside the one statement.
\set n :client_id * :per + random(0, :per - 1)
INSERT INTO public.messages (conversation_id, sender_id, client_msg_id, kind, body, reply_to_id)
    SELECT p.conversation_id, p.sender_id, gen_random_uuid(), 'text', :body, NULL FROM bench.pairs p WHERE p.n = :n
    RETURNING jsonb_build_object('message_id', id, 'seq', seq, 'created_at', created_at)::text, id;
