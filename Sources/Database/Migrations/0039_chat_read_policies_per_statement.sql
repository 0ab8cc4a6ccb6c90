-- Reading messages and participants checks membership once per statement instead of once
-- per row. The policies called public.is_chat_member(conversation_id) for every row they
-- looked at: a PL/pgSQL call with definer rights, its own search_path and a parse of the
-- caller's JWT claims each time, half of PostgreSQL's time in a read of a conversation's
-- latest 50 messages (docs/performance.md, "Tables (issue 19)"). Now the caller's
-- conversations are read once into a hashed subplan and each row is a lookup in it. The
-- rule is the same: a member reads the conversation's rows.

-- The conversations the caller belongs to (none for a caller without a user).
CREATE OR REPLACE FUNCTION public.chat_conversations_of_caller() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
ROWS 20
AS $$ SELECT p.conversation_id FROM public.participants p WHERE p.user_id = auth.uid() $$;

REVOKE ALL ON FUNCTION public.chat_conversations_of_caller() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.chat_conversations_of_caller() TO authenticated;

DROP POLICY IF EXISTS messages_read ON public.messages;
CREATE POLICY messages_read ON public.messages FOR SELECT TO authenticated
    USING (conversation_id IN (SELECT public.chat_conversations_of_caller()));

DROP POLICY IF EXISTS participants_read ON public.participants;
CREATE POLICY participants_read ON public.participants FOR SELECT TO authenticated
    USING (conversation_id IN (SELECT public.chat_conversations_of_caller()));
